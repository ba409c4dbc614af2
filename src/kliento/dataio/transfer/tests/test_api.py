"""/api/v1/imports and /api/v1/exports over HTTP."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from kliento.customers.models import Contact
from kliento.dataio.transfer.models import ImportJob
from kliento.dataio.transfer.tests.conftest import csv_bytes

ROWS = [["Фамилия", "E-mail"], ["Иванов", "ivan@example.com"], ["Петров", "bad@"]]


def _upload(client, data: bytes = None, **fields):
    payload = {
        "file": SimpleUploadedFile("people.csv", data or csv_bytes(ROWS), "text/csv"),
        "entity": "contacts",
    }
    payload.update(fields)
    return client.post("/api/v1/imports", data=payload)


def test_create_runs_and_reports_progress(org, api, django_capture_on_commit_callbacks):
    client = api(org.rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client)
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    detail = client.get(f"/api/v1/imports/{job_id}").json()
    assert {
        k: detail[k] for k in ("status", "processed", "created", "failed", "percent", "mapping")
    } == {
        "status": "done",
        "processed": 2,
        "created": 1,
        "failed": 1,
        "percent": 100,
        "mapping": {"Фамилия": "last_name", "E-mail": "email"},
    }
    report = client.get(f"/api/v1/imports/{job_id}/errors")
    assert report.status_code == 200
    lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
    assert lines == [
        "Row,Problem,Reason,Фамилия,E-mail",
        "3,Not imported,E-mail: Invalid email 'bad@': not a valid email address,Петров,bad@",
    ]
    assert Contact.objects.get().owner_id == org.rep.pk


def test_draft_preview_remap_then_start(org, api, django_capture_on_commit_callbacks):
    client = api(org.admin)
    job_id = _upload(client, start="false").json()["id"]
    preview = client.get(f"/api/v1/imports/{job_id}/preview").json()
    assert preview["rows"][1]["ok"] is False
    assert preview["rows"][1]["cells"][1] == {
        "column": "E-mail",
        "value": "bad@",
        "problem": "Invalid email 'bad@': not a valid email address",
    }
    response = client.put(
        f"/api/v1/imports/{job_id}/mapping",
        data={"mapping": {"Фамилия": "last_name", "E-mail": ""}, "save_as": "only names"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/imports/{job_id}/start").status_code == 200
    assert client.get(f"/api/v1/imports/{job_id}").json()["created"] == 2


def test_invalid_mapping_and_options_are_422(org, api):
    client = api(org.admin)
    response = _upload(client, mapping=json.dumps({"Фамилия": "nonsense"}))
    assert response.status_code == 422
    assert response.json()["fields"] == {"Фамилия": "Unknown field 'nonsense'."}
    response = _upload(client, options=json.dumps({"duplicates": "explode"}))
    assert response.json()["fields"] == {"duplicates": "Use merge, skip or flag."}
    assert ImportJob.objects.count() == 0


def test_bad_file_is_422_with_the_reason(org, api):
    response = _upload(api(org.admin), data=b"ivan@example.com,+79161234567\n")
    assert response.status_code == 422
    assert response.json()["fields"]["file"].startswith("The first row looks like data")


def test_someone_elses_import_is_404(org, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job_id = _upload(api(org.rep)).json()["id"]
    assert api(org.rep_peer).get(f"/api/v1/imports/{job_id}").status_code == 404
    assert api(org.rep_peer).get(f"/api/v1/imports/{job_id}/errors").status_code == 404
    assert api(org.admin).get(f"/api/v1/imports/{job_id}").status_code == 200


def test_list_is_paginated_newest_first(org, api):
    client = api(org.admin)
    ids = [_upload(client, start="false").json()["id"] for _ in range(3)]
    page = client.get("/api/v1/imports?limit=2").json()
    assert [j["id"] for j in page["items"]] == [ids[2], ids[1]]
    rest = client.get(f"/api/v1/imports?limit=2&cursor={page['next_cursor']}").json()
    assert [j["id"] for j in rest["items"]] == [ids[0]]


def test_export_job_over_the_api(org, api, contact_factory, django_capture_on_commit_callbacks):
    contact_factory(owner=org.rep, last_name="Mine", city="Tver")
    contact_factory(owner=org.other_rep, last_name="Theirs", city="Tver")
    client = api(org.rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/exports",
            data={
                "entity": "contacts",
                "query": "city=Tver",
                "columns": ["last_name"],
                "format": "csv",
            },
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    job = client.get(f"/api/v1/exports/{response.json()['id']}").json()
    assert (job["status"], job["processed"]) == ("done", 1)
    body = b"".join(client.get(job["download_url"]).streaming_content).decode("utf-8-sig")
    assert body == "Last name\r\nMine\r\n"


def test_export_unknown_filter_is_422(org, api):
    response = api(org.rep).post(
        "/api/v1/exports",
        data={"entity": "contacts", "query": "colour=red"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"colour": "Unknown filter."}


def test_full_export_over_the_api_is_for_admins(org, api):
    response = api(org.head).post(
        "/api/v1/exports", data={"entity": "full"}, content_type="application/json"
    )
    assert response.status_code == 403
