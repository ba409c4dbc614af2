"""The Data area pages: upload → mapping → preview → run → progress and error report."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from kliento.customers.models import Contact
from kliento.dataio.transfer.models import ImportJob, SavedMapping
from kliento.dataio.transfer.tests.conftest import csv_bytes

ROWS = [
    ["Фамилия", "Имя", "E-mail", "Странная колонка"],
    ["Иванов", "Иван", "ivan@example.com", "x"],
    ["Петров", "Пётр", "bad@", "y"],
]


def _upload(client, data=None, name="people.csv", entity="contacts"):
    return client.post(
        "/data/imports/upload/",
        {
            "entity": entity,
            "file": SimpleUploadedFile(name, csv_bytes(ROWS) if data is None else data, "text/csv"),
        },
    )


def test_upload_mapping_preview_run(org, login, django_capture_on_commit_callbacks):
    client = login(org.rep)
    response = _upload(client)
    job = ImportJob.objects.get()
    assert response["Location"] == f"/data/imports/{job.pk}/mapping/"

    page = client.get(f"/data/imports/{job.pk}/mapping/").content.decode()
    assert '<option value="last_name" selected>' in page
    assert "ivan@example.com" in page

    response = client.post(
        f"/data/imports/{job.pk}/mapping/",
        {
            "map-0": "last_name",
            "map-1": "first_name",
            "map-2": "email",
            "map-3": "",
            "date_format": "dmy",
            "decimal": ".",
            "duplicates": "merge",
            "save_as": "Old CRM",
        },
    )
    assert response["Location"] == f"/data/imports/{job.pk}/preview/"
    assert SavedMapping.objects.get().columns == {
        "Фамилия": "last_name",
        "Имя": "first_name",
        "E-mail": "email",
    }

    page = client.get(f"/data/imports/{job.pk}/preview/").content.decode()
    assert 'class="bad" title="Invalid email &#x27;bad@&#x27;: not a valid email address"' in page
    assert "1 of the first 2 rows has a problem." in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/data/imports/{job.pk}/start/")
    assert response["Location"] == f"/data/imports/{job.pk}/"
    page = client.get(f"/data/imports/{job.pk}/").content.decode()
    assert "100%" in page and "Download the error report (CSV)" in page
    assert Contact.objects.get().last_name == "Иванов"
    report = client.get(f"/data/imports/{job.pk}/errors.csv")
    lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[1] == (
        "3,Not imported,E-mail: Invalid email 'bad@': not a valid email address,Петров,Пётр,bad@,y"
    )


def test_progress_fragment_polls_while_running(org, login):
    client = login(org.rep)
    _upload(client)
    job = ImportJob.objects.get()
    ImportJob.objects.filter(pk=job.pk).update(
        status="running", total=200, processed=50, rows_per_s=10
    )
    fragment = client.get(f"/data/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert "25%" in fragment and "50 of 200 rows" in fragment and "about 15 s left" in fragment


def test_bad_file_is_shown_on_the_data_page(org, login):
    response = _upload(login(org.rep), data=b"")
    assert response.status_code == 422
    assert "The file was not imported." in response.content.decode()
    assert "The file is empty." in response.content.decode()


def test_analyst_sees_no_upload_form(org, login):
    page = login(org.analyst).get("/data/").content.decode()
    assert "Import a file" not in page and "Recent imports" in page


def test_someone_elses_import_is_404(org, login):
    _upload(login(org.rep))
    job = ImportJob.objects.get()
    assert login(org.rep_peer).get(f"/data/imports/{job.pk}/").status_code == 404
    assert login(org.rep_peer).get(f"/data/imports/{job.pk}/errors.csv").status_code == 404


def test_lists_have_import_and_export_buttons(org, login):
    client = login(org.rep)
    for path, entity in (("/contacts/", "contacts"), ("/companies/", "companies")):
        page = client.get(path).content.decode()
        assert f'formaction="/data/export/{entity}/"' in page
        assert f'href="/data/?entity={entity}#import"' in page


def test_export_page_keeps_the_list_filters(org, login):
    page = login(org.rep).get("/data/export/contacts/?city=Tver&sort=-name").content.decode()
    assert '<input type="hidden" name="city" value="Tver">' in page
    assert '<input type="hidden" name="sort" value="-name">' in page
