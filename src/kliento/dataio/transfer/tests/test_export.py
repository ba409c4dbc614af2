"""Exports: what the list shows, CSV injection, jobs for large sets, the full export and its
round trip, personal data and erasure."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from openpyxl import load_workbook

from kliento.core.errors import PermissionDeniedError
from kliento.core.models import AuditLog, CustomField
from kliento.core.services import custom_field_create
from kliento.customers import services as customer_services
from kliento.customers.models import (
    Company,
    Consent,
    Contact,
    ContactCompany,
    Interaction,
    SearchEntry,
)
from kliento.dataio.transfer import exports, privacy, services
from kliento.dataio.transfer.engine import import_run
from kliento.dataio.transfer.models import ExportJob, ExternalRef, StoredFile
from kliento.dataio.transfer.storage import file_iter


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+7 916", "'+7 916"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ivanov", "Ivanov"),
        ("a=b", "a=b"),
    ],
)
def test_csv_injection_is_neutralised(value, expected):
    assert exports.safe_cell(value) == expected
    assert exports.unescape_cell(exports.safe_cell(value)) == value


def test_list_export_is_what_the_list_shows(contact_factory, org, login):
    contact_factory(owner=org.rep, last_name="Bbb", city="Tver", preferences="")
    contact_factory(owner=org.rep, last_name="Aaa", city="Tver")
    contact_factory(owner=org.rep, last_name="Ccc", city="Omsk")
    contact_factory(owner=org.other_rep, last_name="Hidden", city="Tver")
    response = login(org.rep).get(
        "/data/export/contacts/?city=Tver&sort=-name&go=1&format=csv&columns=last_name&columns=city"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert _csv(response) == [["Last name", "City"], ["Bbb", "Tver"], ["Aaa", "Tver"]]


def test_head_exports_the_team_but_not_other_teams(contact_factory, org, login):
    contact_factory(owner=org.rep, last_name="Mine")
    contact_factory(owner=org.other_rep, last_name="Kazan")
    contact_factory(owner=org.marketer, last_name="Marketing")
    rows = _csv(login(org.head).get("/data/export/contacts/?go=1&columns=last_name"))
    assert rows == [["Last name"], ["Kazan"], ["Mine"]]


def test_formula_in_a_record_is_quoted_in_csv_and_text_in_xlsx(contact_factory, org, login):
    contact_factory(owner=org.admin, last_name='=HYPERLINK("http://evil","click")')
    client = login(org.admin)
    rows = _csv(client.get("/data/export/contacts/?go=1&columns=last_name"))
    assert rows[1] == ['\'=HYPERLINK("http://evil","click")']
    response = client.get("/data/export/contacts/?go=1&columns=last_name&format=xlsx")
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cell = book.active["A2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil","click")', "s")


def test_invalid_filter_is_reported_not_ignored(org, login):
    response = login(org.admin).get("/data/export/contacts/?go=1&nonsense=1")
    assert response.status_code == 302


def test_large_export_becomes_a_job_with_a_download(
    contact_factory, org, login, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(exports, "SYNC_LIMIT", 2)
    for i in range(3):
        contact_factory(owner=org.rep, last_name=f"N{i}")
    contact_factory(owner=org.other_rep, last_name="Hidden")
    client = login(org.rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/data/export/contacts/?go=1&columns=last_name")
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/data/exports/{job.pk}/"
    assert (job.status, job.processed, job.total) == ("done", 3, 3)
    download = client.get(f"/data/exports/{job.pk}/download/")
    assert _csv(download) == [["Last name"], ["N0"], ["N1"], ["N2"]]
    assert login(org.rep_peer).get(f"/data/exports/{job.pk}/download/").status_code == 404


def test_full_export_is_for_admins(org):
    with pytest.raises(PermissionDeniedError):
        exports.export_create(user=org.head, entity="full")


def _snapshot():
    """The customer data, keyed by natural values (ids differ between databases)."""
    contacts = sorted(
        (
            c.first_name,
            c.last_name,
            c.middle_name,
            tuple(c.emails),
            tuple(c.phones),
            c.email,
            c.phone,
            str(c.birth_date),
            c.gender,
            c.city,
            c.region,
            c.country,
            c.tags,
            c.lifecycle_stage,
            c.preferred_channel,
            c.preferences,
            c.owner.username,
            c.created_at.isoformat(),
            tuple(sorted(c.custom.items())),
        )
        for c in Contact.objects.select_related("owner")
    )
    companies = sorted(
        (
            c.name,
            c.legal_name,
            c.tax_id,
            c.industry,
            c.size,
            c.city,
            c.website,
            tuple(c.emails),
            tuple(c.phones),
            c.tags,
            c.owner.username,
            c.created_at.isoformat(),
            tuple(sorted(c.custom.items())),
        )
        for c in Company.objects.select_related("owner")
    )
    links = sorted(
        (link.contact.email, link.company.name, link.role, link.title, link.is_primary)
        for link in ContactCompany.objects.select_related("contact", "company")
    )
    consents = sorted(
        (c.contact.email, c.channel, c.status, c.at.isoformat(), c.source)
        for c in Consent.objects.all()
    )
    interactions = sorted(
        (
            i.kind,
            i.channel,
            i.direction,
            i.occurred_at.isoformat(),
            i.subject,
            i.body,
            i.outcome,
            i.duration_seconds,
            i.contact.email if i.contact else None,
            i.company.name if i.company else None,
            i.user.username if i.user else None,
        )
        for i in Interaction.objects.select_related("contact", "company", "user")
    )
    search = sorted(SearchEntry.objects.values_list("entity", "title", "text"))
    return {
        "contacts": contacts,
        "companies": companies,
        "links": links,
        "consents": consents,
        "interactions": interactions,
        "search": search,
    }


def test_round_trip_full_export_then_import_into_an_empty_database(org):
    custom_field_create(actor=org.admin, entity="contact", label="Budget", type="number")
    custom_field_create(
        actor=org.admin,
        entity="contact",
        label="Colors",
        type="multichoice",
        choices=["red", "blue"],
    )
    custom_field_create(
        actor=org.admin, entity="company", label="Segment", type="choice", choices=["A", "B"]
    )
    acme = customer_services.company_create(
        user=org.admin,
        data={
            "name": "ООО «Ромашка»",
            "tax_id": "7701234567",
            "city": "Москва",
            "emails": ["info@romashka.ru"],
            "phones": ["+74951234567"],
            "tags": ["vip"],
            "custom": {"segment": "A"},
            "owner_id": org.rep.pk,
        },
    )
    ivan = customer_services.contact_create(
        user=org.admin,
        data={
            "first_name": "Иван",
            "last_name": "Иванов",
            "middle_name": "Иванович",
            "emails": ["ivan@example.com", "i2@example.com"],
            "phones": ["+79161234567"],
            "birth_date": "1980-05-06",
            "gender": "m",
            "city": "Тверь",
            "tags": ["a", "b"],
            "lifecycle_stage": "customer",
            "preferred_channel": "email",
            "preferences": '=HYPERLINK("x")',
            "custom": {"budget": "1500.5", "colors": ["red", "blue"]},
            "companies": [{"company_id": acme.pk, "role": "buyer", "title": "CEO"}],
            "owner_id": org.rep.pk,
        },
    )
    anna = customer_services.contact_create(
        user=org.admin, data={"first_name": "Anna", "phones": ["+79160000001"]}
    )
    customer_services.consent_set(
        user=org.admin, contact=ivan, channel="email", status="opt_out", source="web"
    )
    customer_services.interaction_create(
        user=org.rep,
        data={
            "kind": "call",
            "subject": "Renewal",
            "body": "Долгий\nразговор",
            "contact_id": ivan.pk,
            "duration_seconds": 60,
            "outcome": "ok",
        },
    )
    customer_services.interaction_create(
        user=org.admin, data={"kind": "note", "subject": "About Acme", "company_id": acme.pk}
    )
    customer_services.interaction_create(
        user=org.admin, data={"kind": "email", "subject": "Hi", "contact_id": anna.pk}
    )
    before = _snapshot()

    out = io.BytesIO()
    counts = exports.full_export_write(out, user=org.admin)
    assert counts["contacts.csv"] == 2 and counts["interactions.csv"] == 3
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert {"manifest.json", "users.csv", "teams.csv", "custom_fields.csv", "links.csv"} <= set(
        archive.namelist()
    )

    # An empty database: the same users and teams, no customer data, no custom fields.
    for model in (
        Interaction,
        Consent,
        ContactCompany,
        Contact,
        Company,
        SearchEntry,
        ExternalRef,
        CustomField,
    ):
        model.objects.all().delete()
    for job in services.full_import_create(user=org.admin, stream=io.BytesIO(out.getvalue())):
        finished = import_run(job_id=job.pk)
        assert (finished.status, finished.failed) == ("done", 0), list(
            finished.row_errors.values("row", "reasons")
        )
    assert _snapshot() == before

    # Reading the same export again changes nothing.
    for job in services.full_import_create(user=org.admin, stream=io.BytesIO(out.getvalue())):
        finished = import_run(job_id=job.pk)
        if job.entity in {"contacts", "companies", "interactions"}:
            assert (finished.created, finished.updated) == (0, 0)
    assert _snapshot() == before


def test_full_export_job_stores_a_zip(org, login, django_capture_on_commit_callbacks):
    customer_services.contact_create(user=org.admin, data={"first_name": "Ann"})
    with django_capture_on_commit_callbacks(execute=True):
        response = login(org.admin).post("/data/full-export/")
    job = ExportJob.objects.get()
    assert response["Location"] == f"/data/exports/{job.pk}/"
    data = b"".join(file_iter(StoredFile.objects.get(pk=job.file_id)))
    assert zipfile.ZipFile(io.BytesIO(data)).read("contacts.csv").decode().count("\n") == 2


def test_personal_data_holds_everything_about_the_person(org, api):
    ivan = customer_services.contact_create(
        user=org.rep, data={"first_name": "Ivan", "emails": ["i@example.com"]}
    )
    customer_services.interaction_create(
        user=org.rep, data={"kind": "call", "subject": "Hello Ivan", "contact_id": ivan.pk}
    )
    response = api(org.rep).get(f"/api/v1/contacts/{ivan.pk}/personal-data")
    assert response.status_code == 200
    data = response.json()
    assert data["contact"]["emails"] == ["i@example.com"]
    assert [i["subject"] for i in data["interactions"]] == ["Hello Ivan"]
    assert api(org.other_rep).get(f"/api/v1/contacts/{ivan.pk}/personal-data").status_code == 404


def test_erasure_anonymises_keeps_aggregates_and_is_audited(org, api, login):
    ivan = customer_services.contact_create(
        user=org.admin,
        data={
            "first_name": "Ivan",
            "last_name": "Petrov",
            "emails": ["ivan@example.com"],
            "phones": ["+79161234567"],
            "city": "Tver",
            "lifecycle_stage": "customer",
        },
    )
    customer_services.interaction_create(
        user=org.admin,
        data={
            "kind": "call",
            "subject": "Call Ivan Petrov",
            "body": "Mail ivan@example.com or 8 916 123-45-67",
            "contact_id": ivan.pk,
        },
    )
    assert api(org.rep).post(f"/api/v1/contacts/{ivan.pk}/erase").status_code == 404
    response = api(org.admin).post(f"/api/v1/contacts/{ivan.pk}/erase")
    assert response.status_code == 200 and response.json() == {"id": ivan.pk, "erased": True}
    ivan.refresh_from_db()
    assert (ivan.first_name, ivan.last_name, ivan.emails, ivan.phones, ivan.city) == (
        "[erased]",
        "",
        [],
        [],
        "",
    )
    assert ivan.lifecycle_stage == "customer"
    call = Interaction.objects.get()
    assert (call.subject, call.body) == ("Call [erased]", "Mail [erased] or [erased]")
    assert not SearchEntry.objects.filter(entity="contact", object_id=ivan.pk).exists()
    history = AuditLog.objects.filter(entity="contact", object_id=ivan.pk).order_by("id")
    assert history.last().changes == {"erased": [False, True]}
    assert "ivan@example.com" not in str(list(history.values_list("changes", flat=True)))
    assert login(org.admin).get(f"/data/contacts/{ivan.pk}/erase/").status_code == 200


def test_only_admins_erase(org):
    ivan = customer_services.contact_create(user=org.rep, data={"first_name": "Ivan"})
    with pytest.raises(PermissionDeniedError):
        privacy.contact_erase(user=org.rep, pk=ivan.pk)
    ivan.refresh_from_db()
    assert ivan.first_name == "Ivan"
