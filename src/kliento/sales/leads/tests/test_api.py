"""The leads API over HTTP: CRUD, visibility, ETags, actions, settings, public submission."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from kliento.customers.models import Contact, Interaction
from kliento.sales.leads.models import AssignmentRule, Lead, ScoringRule, WebForm


def _post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def _patch(client, url, body, **headers):
    return client.patch(url, json.dumps(body), content_type="application/json", **headers)


def test_create_and_read_a_lead(org, api):
    client = api(org.rep)
    response = _post(
        client,
        "/api/v1/leads",
        {"first_name": "Anna", "email": "ANNA@example.com", "owner_id": org.rep.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["email"], body["source"], body["owner_id"]) == (
        "anna@example.com",
        "api",
        org.rep.pk,
    )
    assert response["ETag"] == f'"{body["id"]}-1"'
    detail = client.get(f"/api/v1/leads/{body['id']}")
    assert detail.status_code == 200 and detail.json()["first_name"] == "Anna"


@pytest.mark.parametrize("source", [None, "manual", "import"])
def test_lead_without_owner_and_no_matching_rule_stays_with_its_creator(
    org, api, rule_factory, source
):
    rule_factory(kind="territory", regions=["Tatarstan"], user=org.other_rep)
    client = api(org.rep)
    body = {"first_name": "Anna", "email": "anna@example.com", "region": "Moscow"}
    if source:
        body["source"] = source

    response = _post(client, "/api/v1/leads", body)

    assert response.status_code == 201, response.content
    lead_id = response.json()["id"]
    assert response.json()["owner_id"] == org.rep.pk
    detail = client.get(f"/api/v1/leads/{lead_id}")
    assert detail.status_code == 200
    assert detail.json()["owner_id"] == org.rep.pk
    assert Lead.objects.get(pk=lead_id).assigned_by_rule is None


def test_lead_without_owner_goes_where_a_matching_rule_says(org, api, rule_factory):
    rule = rule_factory(kind="territory", regions=["Tatarstan"], user=org.other_rep)
    client = api(org.rep)

    response = _post(
        client,
        "/api/v1/leads",
        {"first_name": "Ilnur", "email": "i@example.com", "region": "Tatarstan"},
    )

    assert response.status_code == 201
    lead = Lead.objects.get(pk=response.json()["id"])
    assert (lead.owner, lead.assigned_by_rule) == (org.other_rep, rule)


def test_create_refuses_unknown_and_bad_fields(org, api):
    response = _post(api(org.rep), "/api/v1/leads", {"email": "x", "colour": "red"})
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"colour"}
    response = _post(api(org.rep), "/api/v1/leads", {"email": "not-an-email"})
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["email"]
    assert Lead.objects.count() == 0


def test_create_of_a_known_contact_answers_duplicate(org, api, contact_factory):
    contact = contact_factory(owner=org.rep_peer, email="known@example.com")
    response = _post(api(org.rep), "/api/v1/leads", {"email": "known@example.com"})
    assert response.status_code == 200
    body = response.json()
    assert (body["duplicate_of"], body["id"]) == ("contact", contact.pk)
    assert Lead.objects.count() == 0
    assert Interaction.objects.get(pk=body["interaction_id"]).contact == contact


def test_list_filters_sorts_and_pages(org, api, lead_factory):
    for score in (5, 30, 10):
        lead_factory(owner=org.rep, score=score, source="web_form", campaign="spring")
    lead_factory(owner=org.rep, score=99, source="manual")
    client = api(org.rep)
    response = client.get("/api/v1/leads?source=web_form&sort=score&limit=2")
    assert response.status_code == 200
    body = response.json()
    assert [i["score"] for i in body["items"]] == [30, 10]
    page2 = client.get(
        f"/api/v1/leads?source=web_form&sort=score&limit=2&cursor={body['next_cursor']}"
    )
    assert [i["score"] for i in page2.json()["items"]] == [5]


def test_list_refuses_unknown_filter(org, api):
    response = api(org.rep).get("/api/v1/leads?colour=red")
    assert response.status_code == 422
    assert response.json()["fields"] == {"colour": "Unknown filter."}


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("rep", {"rep"}),
        ("rep_peer", {"rep_peer"}),
        ("head", {"rep", "rep_peer", "other_rep"}),
        ("admin", {"rep", "rep_peer", "other_rep", "marketer"}),
        ("analyst", {"rep", "rep_peer", "other_rep", "marketer"}),
    ],
)
def test_list_shows_what_the_role_may_see(org, api, lead_factory, who, visible):
    for owner in ("rep", "rep_peer", "other_rep", "marketer"):
        lead_factory(owner=getattr(org, owner), first_name=owner)
    response = api(getattr(org, who)).get("/api/v1/leads?limit=50")
    assert {i["first_name"] for i in response.json()["items"]} == visible


def test_hidden_lead_is_404_and_analyst_write_is_403(org, api, lead_factory):
    lead = lead_factory(owner=org.other_rep, city="Kazan")
    assert api(org.rep).get(f"/api/v1/leads/{lead.pk}").status_code == 404
    response = _patch(api(org.analyst), f"/api/v1/leads/{lead.pk}", {"city": "Tver"})
    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.city == "Kazan"


def test_patch_with_stale_if_match_is_412(org, api, lead_factory):
    lead = lead_factory(owner=org.rep, city="Kazan")
    client = api(org.rep)
    ok = _patch(client, f"/api/v1/leads/{lead.pk}", {"city": "Tver"}, HTTP_IF_MATCH=lead.etag)
    assert ok.status_code == 200 and ok["ETag"] == f'"{lead.pk}-2"'
    stale = _patch(client, f"/api/v1/leads/{lead.pk}", {"city": "Oryol"}, HTTP_IF_MATCH=lead.etag)
    assert stale.status_code == 412
    lead.refresh_from_db()
    assert lead.city == "Tver"


def test_delete(org, api, lead_factory):
    lead = lead_factory(owner=org.rep)
    assert api(org.rep).delete(f"/api/v1/leads/{lead.pk}").status_code == 204
    assert Lead.objects.count() == 0


def test_convert_over_http(org, api, lead_factory, pipeline):
    lead = lead_factory(owner=org.rep, company_name="Romashka")
    response = _post(
        api(org.rep), f"/api/v1/leads/{lead.pk}/convert", {"deal_name": "Big", "amount": "100.50"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lead"]["status"] == "converted"
    assert body["contact_id"] == Contact.objects.get().pk
    assert body["deal_id"] is not None and body["company_id"] is not None


def test_disqualify_over_http_and_bad_reason(org, api, lead_factory):
    lead = lead_factory(owner=org.rep)
    client = api(org.rep)
    bad = _post(client, f"/api/v1/leads/{lead.pk}/disqualify", {"reason": "bored"})
    assert bad.status_code == 422 and "reason" in bad.json()["fields"]
    ok = _post(client, f"/api/v1/leads/{lead.pk}/disqualify", {"reason": "spam"})
    assert ok.status_code == 200 and ok.json()["status"] == "disqualified"
    again = _post(client, f"/api/v1/leads/{lead.pk}/disqualify", {"reason": "spam"})
    assert again.status_code == 409


def test_distribute_over_http(org, api, lead_factory):
    leads = [lead_factory(owner=org.head) for _ in range(3)]
    response = _post(
        api(org.head),
        "/api/v1/leads/distribute",
        {"lead_ids": [x.pk for x in leads], "user_ids": [org.rep.pk, org.rep_peer.pk]},
    )
    assert response.status_code == 200
    assert response.json() == {
        "assigned": [{"user_id": org.rep.pk, "count": 2}, {"user_id": org.rep_peer.pk, "count": 1}]
    }
    denied = _post(
        api(org.rep),
        "/api/v1/leads/distribute",
        {"lead_ids": [leads[0].pk], "user_ids": [org.rep.pk]},
    )
    assert denied.status_code == 403


def test_log_interaction_and_score(org, api, lead_factory, scoring_factory):
    scoring_factory(kind="interaction_kind", value="call", points=15)
    lead = lead_factory(owner=org.rep)
    client = api(org.rep)
    response = _post(
        client, f"/api/v1/leads/{lead.pk}/interactions", {"kind": "call", "subject": "Hi"}
    )
    assert response.status_code == 201
    score = client.get(f"/api/v1/leads/{lead.pk}/score").json()
    assert score["score"] == 15 and score["rules"][0]["holds"] is True
    assert [i["subject"] for i in client.get(f"/api/v1/leads/{lead.pk}/interactions").json()] == [
        "Hi"
    ]


# --- settings ---------------------------------------------------------------------------------


def test_web_form_crud_is_for_admins(org, api):
    body = {"name": "Contact us", "fields": ["first_name", "email"], "campaign": "spring"}
    assert _post(api(org.head), "/api/v1/web-forms", body).status_code == 403
    response = _post(api(org.admin), "/api/v1/web-forms", body)
    assert response.status_code == 201
    form = WebForm.objects.get()
    assert response.json()["submit_url"] == f"/api/v1/forms/{form.key}/submit"
    assert (
        _patch(api(org.admin), f"/api/v1/web-forms/{form.pk}", {"active": False}).status_code == 200
    )
    form.refresh_from_db()
    assert form.active is False
    assert api(org.rep).get("/api/v1/web-forms").status_code == 403


def test_web_form_refuses_an_unknown_field(org, api):
    response = _post(api(org.admin), "/api/v1/web-forms", {"name": "X", "fields": ["salary"]})
    assert response.status_code == 422
    assert "fields.0" in response.json()["fields"]


def test_assignment_and_scoring_rules_crud(org, api):
    client = api(org.admin)
    rule = _post(
        client,
        "/api/v1/assignment-rules",
        {"name": "Moscow", "kind": "round_robin", "team_id": org.teams["moscow"].pk},
    )
    assert rule.status_code == 201 and rule.json()["position"] == 0
    bad = _post(client, "/api/v1/assignment-rules", {"name": "X", "kind": "fixed"})
    assert bad.status_code == 422 and list(bad.json()["fields"]) == ["user_id"]
    score = _post(
        client,
        "/api/v1/scoring-rules",
        {"name": "Phone", "kind": "field_filled", "field": "phone", "points": 10},
    )
    assert score.status_code == 201
    assert client.get("/api/v1/scoring-rules").json()[0]["points"] == 10
    assert client.delete(f"/api/v1/assignment-rules/{rule.json()['id']}").status_code == 204
    assert AssignmentRule.objects.count() == 0 and ScoringRule.objects.count() == 1
    assert api(org.rep).get("/api/v1/assignment-rules").status_code == 403


# --- public submission ------------------------------------------------------------------------


def _submit(form, body, ip="10.1.1.1"):
    return Client(REMOTE_ADDR=ip).post(
        f"/api/v1/forms/{form.key}/submit", json.dumps(body), content_type="application/json"
    )


def test_public_submit_creates_a_lead_without_login(org, web_form):
    response = _submit(web_form, {"email": "a@example.com", "utm_source": "vk", "referrer": "x"})
    assert response.status_code == 200
    assert response.json()["ok"] is True
    lead = Lead.objects.get()
    assert (lead.source, lead.utm_source, lead.web_form) == ("web_form", "vk", web_form)


def test_public_submit_refuses_fields_of_no_form(org, web_form):
    response = _submit(web_form, {"email": "a@example.com", "owner_id": "1"})
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["owner_id"]
    assert Lead.objects.count() == 0


def test_public_submit_bad_email_names_the_field(org, web_form):
    response = _submit(web_form, {"email": "nope"})
    assert response.status_code == 422 and list(response.json()["fields"]) == ["email"]


def test_public_submit_unknown_or_inactive_form_is_404(org, web_form):
    assert (
        Client()
        .post("/api/v1/forms/nope/submit", "{}", content_type="application/json")
        .status_code
        == 404
    )
    web_form.active = False
    web_form.save()
    assert _submit(web_form, {"email": "a@example.com"}).status_code == 404


def test_public_submit_honeypot_pretends_success(org, web_form):
    response = _submit(web_form, {"email": "a@example.com", "fax_number": "1"})
    assert response.status_code == 200 and response.json()["ok"] is True
    assert Lead.objects.count() == 0


def test_flood_is_429_while_other_addresses_still_land(org, web_form, settings, frozen_minute):
    settings.KLIENTO_WEBFORM_RATE_PER_MINUTE = 5
    codes = [
        _submit(web_form, {"email": f"s{i}@example.com"}, ip="6.6.6.6").status_code
        for i in range(20)
    ]
    assert codes == [200] * 5 + [429] * 15
    good = [
        _submit(web_form, {"email": f"g{i}@example.com"}, ip=f"7.7.7.{i}").status_code
        for i in range(3)
    ]
    assert good == [200, 200, 200]
    assert Lead.objects.count() == 8


def test_detail_answers_304_for_a_known_etag(org, api, lead_factory):
    lead = lead_factory(owner=org.rep)
    response = api(org.rep).get(f"/api/v1/leads/{lead.pk}", HTTP_IF_NONE_MATCH=lead.etag)
    assert response.status_code == 304


def test_list_query_count_does_not_grow_with_rows(
    org, api, lead_factory, django_assert_num_queries
):
    for _ in range(40):
        lead_factory(owner=org.rep)
    client = api(org.head)
    client.get("/api/v1/leads?limit=50")
    # the key, scope (team subtree: 2), shares, the page, owners.
    with django_assert_num_queries(6):
        response = client.get("/api/v1/leads?limit=50")
    assert len(response.json()["items"]) == 40


def test_public_submit_allows_posting_from_any_site(org, web_form):
    preflight = Client().options(
        f"/api/v1/forms/{web_form.key}/submit",
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "*"
    ok = _submit(web_form, {"email": "a@example.com"})
    bad = _submit(web_form, {"email": "nope"})
    assert (ok["Access-Control-Allow-Origin"], bad["Access-Control-Allow-Origin"]) == ("*", "*")
    assert bad.status_code == 422
