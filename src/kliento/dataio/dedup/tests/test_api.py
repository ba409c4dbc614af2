"""The duplicates API over HTTP, and the duplicate check on POST /contacts and /companies."""

from __future__ import annotations

import pytest

from kliento.customers.models import Company, Contact, RecordShare
from kliento.dataio.dedup.models import DedupJob, DuplicatePair, MergeRecord

IVAN = {
    "first_name": "Ivan",
    "last_name": "Petrov",
    "emails": ["Ivan.Petrov@gmail.com"],
    "phones": ["8 916 123-45-67"],
}


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


# --- entry check on create -------------------------------------------------------------------


def test_create_contact_answers_409_with_candidates(org, api, twin_contacts):
    a, b = twin_contacts
    response = post(api(org.rep), "/api/v1/contacts", IVAN)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate"
    assert {c["id"] for c in body["candidates"]} == {a.pk, b.pk}
    assert body["candidates"][0]["visible"] is True
    assert body["candidates"][0]["confidence"] > 0.8
    assert Contact.objects.count() == 2


def test_create_contact_with_confirmation_succeeds(org, api, twin_contacts):
    response = post(api(org.rep), "/api/v1/contacts?confirm_duplicate=true", IVAN)

    assert response.status_code == 201
    assert Contact.objects.count() == 3


def test_create_unrelated_contact_needs_no_confirmation(org, api, twin_contacts):
    data = {"first_name": "Olga", "last_name": "Belova", "emails": ["olga@belova.ru"]}
    assert post(api(org.rep), "/api/v1/contacts", data).status_code == 201


def test_hidden_candidates_show_only_their_owner(org, api, twin_contacts):
    response = post(api(org.other_rep), "/api/v1/contacts", IVAN)

    assert response.status_code == 409
    candidate = response.json()["candidates"][0]
    assert candidate == {
        "entity": "contact",
        "id": None,
        "visible": False,
        "owner_name": org.rep.display_name,
        "confidence": candidate["confidence"],
    }


def test_create_company_with_same_tax_id_answers_409(org, api, company_factory):
    existing = company_factory(owner=org.rep, name="ООО «Ромашка»", tax_id="7701234567")
    data = {"name": "Romashka LLC", "tax_id": "7701234567"}

    response = post(api(org.rep), "/api/v1/companies", data)

    assert response.status_code == 409
    assert [c["id"] for c in response.json()["candidates"]] == [existing.pk]
    assert post(api(org.rep), "/api/v1/companies?confirm_duplicate=true", data).status_code == 201
    assert Company.objects.count() == 2


def test_entry_check_endpoint_lists_candidates(org, api, twin_contacts):
    response = api(org.rep).get(
        "/api/v1/contacts/duplicates",
        {"first_name": "Иван", "last_name": "Петров", "phone": "+7 916 123 45 67"},
    )

    assert response.status_code == 200
    found = response.json()
    assert {c["id"] for c in found} == {c.pk for c in twin_contacts}
    assert any(e["feature"] == "phone" and e["text"] for e in found[0]["evidence"])


def test_entry_check_rejects_unknown_parameters(org, api):
    response = api(org.rep).get("/api/v1/contacts/duplicates", {"nickname": "x"})
    assert response.status_code == 422


def test_entry_check_with_a_birth_date_that_is_not_a_date_is_422(org, api, twin_contacts):
    check = {"first_name": "Иван", "last_name": "Петров", "phone": "+7 916 123 45 67"}

    bad = api(org.rep).get("/api/v1/contacts/duplicates", {**check, "birth_date": "ก ำกำ"})
    good = api(org.rep).get("/api/v1/contacts/duplicates", {**check, "birth_date": "1980-05-17"})

    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"birth_date"}
    assert good.status_code == 200
    assert {c["id"] for c in good.json()} == {c.pk for c in twin_contacts}


def test_half_typed_birth_dates_are_ignored_when_scoring():
    from kliento.dataio.dedup.matching import contact_features

    features = [contact_features(0, "Ivan", "", "Petrov", [], [], b, "") for b in ("19", "x-y")]

    assert [f.birth for f in features] == ["", ""]


# --- queue, merge, dismiss, undo ---------------------------------------------------------------


def test_list_shows_pairs_of_visible_records_only(
    org, api, twin_contacts, contact_factory, pair_for
):
    mine = pair_for(*twin_contacts)
    c = contact_factory(owner=org.other_rep)
    d = contact_factory(owner=org.other_rep)
    theirs = pair_for(c, d, confidence=0.97)

    assert [p["id"] for p in api(org.rep).get("/api/v1/duplicates").json()["items"]] == [mine.pk]
    assert [p["id"] for p in api(org.admin).get("/api/v1/duplicates").json()["items"]] == [
        mine.pk,
        theirs.pk,
    ]


def test_list_filters_and_paginates(org, api, contact_factory, pair_for):
    contacts = [contact_factory(owner=org.rep) for _ in range(6)]
    for i, conf in enumerate([0.6, 0.9, 0.99]):
        pair_for(contacts[2 * i], contacts[2 * i + 1], confidence=conf)
    client = api(org.rep)

    page = client.get("/api/v1/duplicates", {"min_confidence": 0.8, "limit": 1}).json()
    assert [p["confidence"] for p in page["items"]] == [0.99]
    page2 = client.get(
        "/api/v1/duplicates", {"min_confidence": 0.8, "limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert [p["confidence"] for p in page2["items"]] == [0.9]
    assert page2["next_cursor"] is None
    assert client.get("/api/v1/duplicates", {"status": "bogus"}).status_code == 422


def test_merge_via_api_and_undo(org, api, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    a, b = twin_contacts
    client = api(org.rep)

    response = post(
        client,
        f"/api/v1/duplicates/{pair.pk}/merge",
        {"survivor_id": b.pk, "field_choices": {"first_name": "other"}},
    )

    assert response.status_code == 200
    merge = response.json()
    assert (merge["survivor_id"], merge["other_id"]) == (b.pk, a.pk)
    b.refresh_from_db()
    assert b.first_name == "Иван"
    assert not Contact.objects.filter(pk=a.pk).exists()
    undo = post(client, f"/api/v1/merges/{merge['id']}/undo")
    assert undo.status_code == 200
    assert undo.json()["undone_at"] is not None
    assert Contact.objects.filter(pk=a.pk).exists()


def test_merge_with_unknown_field_is_422(org, api, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    response = post(
        api(org.rep), f"/api/v1/duplicates/{pair.pk}/merge", {"field_choices": {"nope": "other"}}
    )
    assert response.status_code == 422
    assert Contact.objects.count() == 2


def test_merge_of_hidden_pair_is_404_and_read_only_is_403(org, api, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    assert post(api(org.other_rep), f"/api/v1/duplicates/{pair.pk}/merge").status_code == 404
    assert post(api(org.analyst), f"/api/v1/duplicates/{pair.pk}/merge").status_code == 403
    for contact in twin_contacts:
        RecordShare.objects.create(
            entity="contact", object_id=contact.pk, user=org.other_rep, can_edit=False
        )
    assert post(api(org.other_rep), f"/api/v1/duplicates/{pair.pk}/dismiss").status_code == 403
    assert Contact.objects.count() == 2
    pair.refresh_from_db()
    assert pair.status == "open"


def test_dismiss_via_api(org, api, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    response = post(api(org.rep), f"/api/v1/duplicates/{pair.pk}/dismiss")
    assert response.status_code == 200
    assert response.json()["status"] == "not_duplicate"


def test_bulk_merge_is_for_admins(
    org, api, twin_contacts, pair_for, django_capture_on_commit_callbacks
):
    pair_for(*twin_contacts, confidence=0.99)
    assert (
        post(api(org.rep), "/api/v1/duplicates/bulk-merge", {"min_confidence": 0.95}).status_code
        == 403
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post(api(org.admin), "/api/v1/duplicates/bulk-merge", {"min_confidence": 0.95})

    assert response.status_code == 202
    job = DedupJob.objects.get()
    assert (job.status, job.result) == ("done", {"pairs": 1, "merged": 1, "failed": 0})
    assert Contact.objects.count() == 1
    assert MergeRecord.objects.count() == 1


def test_scan_via_api_runs_a_job(org, api, twin_contacts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api(org.rep), "/api/v1/duplicates/scan", {"entity": "contact"})

    assert response.status_code == 202
    job_id = response.json()["id"]
    job = api(org.rep).get(f"/api/v1/duplicates/jobs/{job_id}").json()
    assert job["status"] == "done"
    assert job["result"]["contact"]["pairs"] == 1
    assert DuplicatePair.objects.count() == 1


@pytest.mark.parametrize("url", ["/api/v1/duplicates/999999", "/api/v1/merges/999999/undo"])
def test_missing_objects_are_404(org, api, url):
    client = api(org.rep)
    response = client.get(url) if "undo" not in url else post(client, url)
    assert response.status_code == 404
