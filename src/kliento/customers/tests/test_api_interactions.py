"""/api/v1 companies, interactions and tasks, timelines, who-worked, search and audit over HTTP."""

import datetime

import pytest
from django.utils import timezone

from kliento.core.models import AuditLog
from kliento.customers.models import Company, ContactCompany, Interaction

JSON = "application/json"
UTC = datetime.UTC


def fields(response) -> dict:
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    return body["fields"]


# --- companies ---------------------------------------------------------------------------------


def test_company_crud(org, api):
    client = api(org.rep)

    created = client.post(
        "/api/v1/companies",
        {"name": "Romashka", "tax_id": "7701234567", "phones": ["+7 495 123 45 67"]},
        content_type=JSON,
    )
    pk = created.json()["id"]
    detail = client.get(f"/api/v1/companies/{pk}")
    patched = client.patch(
        f"/api/v1/companies/{pk}", {"city": "Tula"}, content_type=JSON, HTTP_IF_MATCH=detail["ETag"]
    )
    stale = client.patch(
        f"/api/v1/companies/{pk}",
        {"city": "Oryol"},
        content_type=JSON,
        HTTP_IF_MATCH=detail["ETag"],
    )
    replaced = client.put(
        f"/api/v1/companies/{pk}",
        {"name": "Romashka LLC"},
        content_type=JSON,
        HTTP_IF_MATCH=patched["ETag"],
    )
    deleted = client.delete(f"/api/v1/companies/{pk}", HTTP_IF_MATCH=replaced["ETag"])

    assert created.status_code == 201
    assert created.json()["phones"] == ["+74951234567"]
    assert created.json()["phones_display"] == ["+7 495 123-45-67"]
    assert detail.status_code == 200
    assert detail["ETag"] == f'"{pk}-1"'
    assert (patched.status_code, patched.json()["city"], patched["ETag"]) == (
        200,
        "Tula",
        f'"{pk}-2"',
    )
    assert stale.status_code == 412
    assert replaced.status_code == 200
    assert (replaced.json()["name"], replaced.json()["city"], replaced.json()["tax_id"]) == (
        "Romashka LLC",
        "",
        "",
    )
    assert deleted.status_code == 204
    assert not Company.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "A", "size": "huge"}, "size"),
        ({"name": "A", "emails": ["nope"]}, "emails.0"),
        ({"name": "A", "tax_id": "77-01"}, "tax_id"),
        ({"name": "A", "vat": "1"}, "vat"),
        ({"name": "A", "address": "x" * 2001}, "address"),
    ],
)
def test_company_validation(org, api, payload, field):
    response = api(org.rep).post("/api/v1/companies", payload, content_type=JSON)

    assert response.status_code == 422
    assert field in fields(response)
    assert not Company.objects.exists()


def test_company_list_filters_and_pages(org, api, company_factory):
    a = company_factory(owner=org.rep, name="Alfa", industry="retail")
    b = company_factory(owner=org.rep, name="Beta", industry="oil")
    company_factory(owner=org.other_rep, name="Aaa hidden")
    client = api(org.rep)

    every = client.get("/api/v1/companies").json()
    retail = client.get("/api/v1/companies?industry=Retail").json()
    first = client.get("/api/v1/companies?limit=1").json()
    second = client.get(f"/api/v1/companies?limit=1&cursor={first['next_cursor']}").json()

    assert [c["id"] for c in every["items"]] == [a.pk, b.pk]
    assert [c["id"] for c in retail["items"]] == [a.pk]
    assert [c["id"] for c in first["items"] + second["items"]] == [a.pk, b.pk]
    assert second["next_cursor"] is None


def test_company_list_query_count(org, api, company_factory, django_assert_max_num_queries):
    for _ in range(20):
        company_factory(owner=org.rep)
    client = api(org.rep)
    client.get("/api/v1/companies")

    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/companies")
    assert len(response.json()["items"]) == 20


# --- interactions ------------------------------------------------------------------------------


def test_log_a_call(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).post(
        "/api/v1/interactions",
        {
            "kind": "call",
            "contact_id": contact.pk,
            "subject": "Intro",
            "duration_seconds": 300,
            "occurred_at": "2026-01-10T09:30:00+03:00",
        },
        content_type=JSON,
    )

    assert response.status_code == 201
    body = response.json()
    assert response["ETag"] == f'"{body["id"]}-1"'
    assert body["channel"] == "phone"
    assert body["direction"] == "out"
    assert datetime.datetime.fromisoformat(body["occurred_at"]) == datetime.datetime(
        2026, 1, 10, 6, 30, tzinfo=UTC
    )
    assert body["user_id"] == org.rep.pk
    assert body["contact_id"] == contact.pk
    assert body["planned"] is False


def test_plan_a_task_and_complete_it(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)
    client = api(org.rep)
    due = (timezone.now() - datetime.timedelta(hours=1)).isoformat()

    planned = client.post(
        "/api/v1/interactions",
        {"planned": True, "due_at": due, "contact_id": contact.pk, "subject": "Call back"},
        content_type=JSON,
    )
    pk = planned.json()["id"]
    tasks = client.get("/api/v1/tasks").json()
    done = client.post(
        f"/api/v1/interactions/{pk}/complete", {"outcome": "Agreed"}, content_type=JSON
    )
    after = client.get("/api/v1/tasks").json()

    assert planned.status_code == 201
    assert (planned.json()["kind"], planned.json()["assignee_id"]) == ("task", org.rep.pk)
    assert [t["id"] for t in tasks["overdue"]] == [pk]
    assert tasks["overdue"][0]["is_overdue"] is True
    assert done.status_code == 200
    assert (done.json()["done"], done.json()["outcome"], done.json()["version"]) == (
        True,
        "Agreed",
        2,
    )
    assert after == {"overdue": [], "today": [], "upcoming": []}


def test_a_time_with_an_offset_past_15_hours_is_kept_as_the_same_instant(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).post(
        "/api/v1/interactions",
        {
            "planned": True,
            "due_at": "2030-01-03T03:03:05+17:47",  # ISO 8601 allows it; PostgreSQL does not
            "remind_at": "2030-01-02T09:16:05Z",
            "contact_id": contact.pk,
        },
        content_type=JSON,
    )

    assert response.status_code == 201, response.content
    stored = Interaction.objects.get(pk=response.json()["id"])
    assert stored.due_at == datetime.datetime(2030, 1, 2, 9, 16, 5, tzinfo=datetime.UTC)


def test_complete_without_body(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    task = interaction_factory(
        contact=contact, user=org.rep, assignee=org.rep, planned=True, due_at=timezone.now()
    )

    response = api(org.rep).post(f"/api/v1/interactions/{task.pk}/complete", content_type=JSON)

    assert response.status_code == 200
    assert response.json()["done"] is True


def test_complete_a_past_interaction_is_422(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    call = interaction_factory(contact=contact, user=org.rep)

    response = api(org.rep).post(f"/api/v1/interactions/{call.pk}/complete", content_type=JSON)

    assert response.status_code == 422
    assert set(fields(response)) == {"planned"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "call"}, "contact_id"),
        ({"kind": "telepathy", "contact_id": 1}, "kind"),
        ({"kind": None, "contact_id": 1}, "kind"),
        ({"kind": "call", "contact_id": 1, "occurred_at": "yesterday"}, "occurred_at"),
        (
            {"kind": "call", "contact_id": 1, "occurred_at": "0001-01-01T00:00:00+14:00"},
            "occurred_at",
        ),
        ({"kind": "call", "contact_id": 1, "occurred_at": 10**20}, "occurred_at"),
        ({"kind": "call", "contact_id": 1, "duration_seconds": -1}, "duration_seconds"),
        ({"kind": "call", "contact_id": 1, "duration_seconds": 2**40}, "duration_seconds"),
        ({"kind": "call", "contact_id": 999999}, "contact_id"),
        ({"planned": True, "contact_id": 1}, "due_at"),
        ({"planned": "maybe", "contact_id": 1}, "planned"),
        ({"kind": "call", "contact_id": 1, "assignee_id": 999999}, "assignee_id"),
        ({"kind": "call", "contact_id": 1, "user_id": 1}, "user_id"),
    ],
)
def test_interaction_validation(org, api, contact_factory, payload, field):
    contact = contact_factory(owner=org.rep)
    if payload.get("contact_id") == 1:
        payload = {**payload, "contact_id": contact.pk}

    response = api(org.rep).post("/api/v1/interactions", payload, content_type=JSON)

    assert response.status_code == 422, response.content
    assert field in fields(response)
    assert not Interaction.objects.exists()


def test_cannot_log_on_hidden_contact(org, api, contact_factory):
    contact = contact_factory(owner=org.other_rep)

    response = api(org.rep).post(
        "/api/v1/interactions", {"kind": "note", "contact_id": contact.pk}, content_type=JSON
    )

    assert response.status_code == 422
    assert set(fields(response)) == {"contact_id"}


def test_interaction_detail_update_delete(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    call = interaction_factory(contact=contact, user=org.rep)
    client = api(org.rep)

    detail = client.get(f"/api/v1/interactions/{call.pk}")
    cached = client.get(f"/api/v1/interactions/{call.pk}", HTTP_IF_NONE_MATCH=detail["ETag"])
    patched = client.patch(
        f"/api/v1/interactions/{call.pk}",
        {"outcome": "Voicemail"},
        content_type=JSON,
        HTTP_IF_MATCH=detail["ETag"],
    )
    stale = client.delete(f"/api/v1/interactions/{call.pk}", HTTP_IF_MATCH=detail["ETag"])
    deleted = client.delete(f"/api/v1/interactions/{call.pk}", HTTP_IF_MATCH=patched["ETag"])

    assert detail.status_code == 200
    assert cached.status_code == 304
    assert (patched.status_code, patched.json()["outcome"]) == (200, "Voicemail")
    assert stale.status_code == 412
    assert deleted.status_code == 204
    assert not Interaction.objects.exists()


def test_interaction_put_replaces(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    call = interaction_factory(contact=contact, user=org.rep, outcome="x", subject="s")

    response = api(org.rep).put(
        f"/api/v1/interactions/{call.pk}",
        {"kind": "meeting", "contact_id": contact.pk},
        content_type=JSON,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["subject"], body["outcome"]) == ("meeting", "", "")


def test_interaction_patch_null_occurred_at_is_422(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    call = interaction_factory(contact=contact, user=org.rep)

    response = api(org.rep).patch(
        f"/api/v1/interactions/{call.pk}", {"occurred_at": None}, content_type=JSON
    )

    assert response.status_code == 422
    assert set(fields(response)) == {"occurred_at"}


def test_interaction_list_filters(org, api, contact_factory, interaction_factory):
    mine = contact_factory(owner=org.rep)
    hidden = contact_factory(owner=org.other_rep)
    t0 = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    call = interaction_factory(contact=mine, user=org.rep, occurred_at=t0)
    note = interaction_factory(
        contact=mine, user=org.rep_peer, kind="note", occurred_at=t0 + datetime.timedelta(1)
    )
    interaction_factory(contact=hidden, user=org.other_rep, occurred_at=t0)
    client = api(org.rep)

    def ids(query=""):
        response = client.get(f"/api/v1/interactions?{query}")
        assert response.status_code == 200, response.content
        return [i["id"] for i in response.json()["items"]]

    assert ids() == [note.pk, call.pk]
    assert ids("sort=occurred") == [call.pk, note.pk]
    assert ids("kind=call") == [call.pk]
    assert ids(f"user_id={org.rep_peer.pk}") == [note.pk]
    assert ids(f"contact_id={hidden.pk}") == []
    assert ids("occurred_after=2025-01-02T00:00:00Z") == [note.pk]
    assert ids("limit=1") == [note.pk]
    assert client.get("/api/v1/interactions?mood=good").status_code == 422


def test_interaction_list_query_count(
    org, api, contact_factory, interaction_factory, django_assert_max_num_queries
):
    contact = contact_factory(owner=org.rep)
    for _ in range(20):
        interaction_factory(contact=contact, user=org.rep)
    client = api(org.rep)
    client.get("/api/v1/interactions")

    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/interactions")
    assert len(response.json()["items"]) == 20


def test_tasks_are_split_by_due_time(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    now = timezone.now()

    def task(delta, assignee=org.rep):
        return interaction_factory(
            contact=contact, user=org.rep, assignee=assignee, planned=True, due_at=now + delta
        )

    overdue = task(datetime.timedelta(days=-2))
    upcoming = task(datetime.timedelta(days=3))
    task(datetime.timedelta(days=-1), assignee=org.rep_peer)

    body = api(org.rep).get("/api/v1/tasks").json()

    assert [t["id"] for t in body["overdue"]] == [overdue.pk]
    assert [t["id"] for t in body["upcoming"]] == [upcoming.pk]


# --- timeline and who worked --------------------------------------------------------------------


def test_contact_timeline_newest_first_and_paged(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    t0 = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    items = [
        interaction_factory(
            contact=contact, user=org.rep, occurred_at=t0 + datetime.timedelta(i), kind=kind
        )
        for i, kind in enumerate(["call", "email", "call", "meeting"])
    ]
    client = api(org.rep)

    first = client.get(f"/api/v1/contacts/{contact.pk}/timeline?limit=3").json()
    second = client.get(
        f"/api/v1/contacts/{contact.pk}/timeline?limit=3&cursor={first['next_cursor']}"
    ).json()
    calls = client.get(f"/api/v1/contacts/{contact.pk}/timeline?kind=call").json()

    assert [i["id"] for i in first["items"]] == [items[3].pk, items[2].pk, items[1].pk]
    assert [i["id"] for i in second["items"]] == [items[0].pk]
    assert [i["id"] for i in calls["items"]] == [items[2].pk, items[0].pk]


@pytest.mark.parametrize("query", ["kind=x", "channel=x", "user_id=x", "colour=red", "cursor=x"])
def test_timeline_refuses_bad_filters(org, api, contact_factory, query):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).get(f"/api/v1/contacts/{contact.pk}/timeline?{query}")

    assert response.status_code in {400, 422}
    fields(response)


def test_company_timeline_includes_its_contacts(
    org, api, company_factory, contact_factory, interaction_factory
):
    company = company_factory(owner=org.rep)
    contact = contact_factory(owner=org.rep)
    ContactCompany.objects.create(contact=contact, company=company)
    on_company = interaction_factory(company=company, user=org.rep)
    on_contact = interaction_factory(contact=contact, user=org.rep)

    body = api(org.rep).get(f"/api/v1/companies/{company.pk}/timeline").json()

    assert {i["id"] for i in body["items"]} == {on_company.pk, on_contact.pk}


def test_timeline_query_count(
    org, api, contact_factory, interaction_factory, django_assert_max_num_queries
):
    contact = contact_factory(owner=org.rep)
    for _ in range(20):
        interaction_factory(contact=contact, user=org.rep)
    client = api(org.rep)
    client.get("/api/v1/contacts")

    with django_assert_max_num_queries(5):
        response = client.get(f"/api/v1/contacts/{contact.pk}/timeline")
    assert len(response.json()["items"]) == 20


def test_who_worked_with_contact(org, api, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    t0 = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    interaction_factory(contact=contact, user=org.rep, occurred_at=t0)
    interaction_factory(contact=contact, user=org.rep, occurred_at=t0 + datetime.timedelta(2))
    interaction_factory(contact=contact, user=org.other_rep, occurred_at=t0 + datetime.timedelta(5))

    body = api(org.rep).get(f"/api/v1/contacts/{contact.pk}/who-worked").json()

    assert body == [
        {
            "user": {"id": org.other_rep.pk, "display_name": "Other_Rep"},
            "last_at": "2025-01-06T00:00:00Z",
            "count": 1,
        },
        {
            "user": {"id": org.rep.pk, "display_name": "Rep"},
            "last_at": "2025-01-03T00:00:00Z",
            "count": 2,
        },
    ]


def test_who_worked_with_company(org, api, company_factory, interaction_factory):
    company = company_factory(owner=org.rep)
    interaction_factory(company=company, user=org.head)

    body = api(org.rep).get(f"/api/v1/companies/{company.pk}/who-worked").json()

    assert [w["user"]["id"] for w in body] == [org.head.pk]


# --- search ------------------------------------------------------------------------------------


def test_search_finds_visible_and_reports_hidden_without_title(org, api, contact_factory):
    mine = contact_factory(owner=org.rep, first_name="Svetlana", last_name="Kuznetsova")
    contact_factory(owner=org.other_rep, first_name="Svetlana", last_name="Kuznetsova")

    response = api(org.rep).get("/api/v1/search?q=Kuznetsova")

    assert response.status_code == 200
    items = response.json()["items"]
    visible = [h for h in items if h["visible"]]
    hidden = [h for h in items if not h["visible"]]
    assert [(h["entity"], h["id"], h["title"]) for h in visible] == [
        ("contact", mine.pk, "Svetlana Kuznetsova")
    ]
    assert [(h["id"], h["title"], h["subtitle"], h["owner_name"]) for h in hidden] == [
        (None, "", "", "Other_Rep")
    ]
    assert "Kuznetsova" not in str(hidden)


@pytest.mark.parametrize("query", ["", "q=", "q=" + "x" * 201, "q=a&limit=0", "q=a&limit=101"])
def test_search_validation(org, api, query):
    response = api(org.rep).get(f"/api/v1/search?{query}")

    assert response.status_code == 422
    fields(response)


# --- audit ------------------------------------------------------------------------------------


def test_history_of_a_visible_record(org, api):
    client = api(org.rep)
    pk = client.post("/api/v1/contacts", {"first_name": "Ann"}, content_type=JSON).json()["id"]
    client.patch(f"/api/v1/contacts/{pk}", {"first_name": "Anna"}, content_type=JSON)

    response = client.get(f"/api/v1/audit?entity=contact&object_id={pk}")

    assert response.status_code == 200
    rows = response.json()
    assert [r["action"] for r in rows] == ["update", "create"]
    assert rows[0]["changes"] == {"first_name": ["Ann", "Anna"]}
    assert rows[0]["user_name"] == "Rep"


@pytest.mark.parametrize(
    ("role", "entity", "status"),
    [
        ("other_rep", "contact", 404),
        ("admin", "contact", 200),
        ("analyst", "contact", 200),
        ("rep", "customfield", 403),
        ("admin", "customfield", 200),
    ],
)
def test_history_permissions(org, api, contact_factory, role, entity, status):
    contact = contact_factory(owner=org.rep)
    AuditLog.objects.create(
        user=org.rep, action="update", entity=entity, object_id=contact.pk, changes={"a": [1, 2]}
    )

    response = api(org.users[role]).get(f"/api/v1/audit?entity={entity}&object_id={contact.pk}")

    assert response.status_code == status
    if status == 200:
        assert [r["changes"] for r in response.json()] == [{"a": [1, 2]}]


def test_history_of_deleted_record_is_for_admins(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)
    pk = contact.pk
    api(org.rep).delete(f"/api/v1/contacts/{pk}")

    assert api(org.rep).get(f"/api/v1/audit?entity=contact&object_id={pk}").status_code == 404
    admin = api(org.admin).get(f"/api/v1/audit?entity=contact&object_id={pk}")
    assert [r["action"] for r in admin.json()] == ["delete"]


def test_history_needs_entity_and_id(org, api):
    response = api(org.admin).get("/api/v1/audit")

    assert response.status_code == 422
    assert set(fields(response)) == {"entity", "object_id"}


def test_admin_browses_the_whole_audit_log(org, api):
    client = api(org.rep)
    pk = client.post("/api/v1/contacts", {"first_name": "Ann"}, content_type=JSON).json()["id"]
    client.delete(f"/api/v1/contacts/{pk}")

    first = api(org.admin).get("/api/v1/audit/log?entity=contact&limit=1").json()
    second = (
        api(org.admin)
        .get(f"/api/v1/audit/log?entity=contact&limit=1&cursor={first['next_cursor']}")
        .json()
    )

    assert [(r["action"], r["object_id"]) for r in first["items"] + second["items"]] == [
        ("delete", pk),
        ("create", pk),
    ]


@pytest.mark.parametrize("role", ["head", "rep", "analyst"])
def test_only_admins_browse_the_audit_log(org, api, role):
    response = api(org.users[role]).get("/api/v1/audit/log")

    assert response.status_code == 403
    fields(response)
