"""The leads web UI over HTTP: list, form, detail and actions, public form, settings pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from kliento.customers.models import Interaction
from kliento.sales.leads.models import AssignmentRule, Lead, ScoringRule, WebForm


def test_empty_list(org, login):
    response = login(org.rep).get("/leads/")
    assert response.status_code == 200
    assert "No leads yet" in response.content.decode()


def test_list_shows_own_leads_only_for_a_rep(org, login, lead_factory):
    lead_factory(owner=org.rep, first_name="Mine")
    lead_factory(owner=org.other_rep, first_name="Theirs")
    html = login(org.rep).get("/leads/").content.decode()
    assert "Mine" in html and "Theirs" not in html
    assert "Distribute selected" not in html


def test_head_sees_the_distribute_action(org, login, lead_factory):
    lead_factory(owner=org.rep)
    html = login(org.head).get("/leads/").content.decode()
    assert "Distribute selected" in html


def test_list_query_count_is_pinned(org, login, lead_factory, django_assert_num_queries):
    for _ in range(30):
        lead_factory(owner=org.rep)
    client = login(org.head)
    client.get("/leads/")
    # session + user with their team, scope (the team subtree's users), shares, leads page,
    # owners prefetch, owner filter list, campaigns, distribution targets.
    with django_assert_num_queries(10):
        response = client.get("/leads/?sort=score")
    assert response.status_code == 200


def test_list_shows_the_newest_leads_first(org, login, lead_factory):
    old = lead_factory(owner=org.rep, first_name="Oldest")
    lead_factory(owner=org.rep, first_name="Newest")
    Lead.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(days=400))
    html = login(org.rep).get("/leads/").content.decode()
    assert html.index("Newest") < html.index("Oldest")


def test_a_bad_sort_shows_the_error_not_an_empty_crm(org, login, lead_factory):
    lead_factory(owner=org.rep)
    html = login(org.rep).get("/leads/?sort=bogus").content.decode()
    assert "Unknown sort" in html
    assert "No leads yet" not in html and "Reset filters" in html


def test_list_filters_by_status_and_text(org, login, lead_factory):
    lead_factory(owner=org.rep, first_name="Alpha", status="working")
    lead_factory(owner=org.rep, first_name="Beta", status="new")
    html = login(org.rep).get("/leads/?status=working").content.decode()
    assert "Alpha" in html and "Beta" not in html
    html = login(org.rep).get("/leads/?q=bet").content.decode()
    assert "Beta" in html and "Alpha" not in html


def test_create_from_the_form(org, login):
    response = login(org.rep).post(
        "/leads/new/",
        {
            "first_name": "Anna",
            "email": "anna@example.com",
            "owner_id": org.rep.pk,
            "status": "new",
            "source": "manual",
            "channel": "phone",
        },
    )
    lead = Lead.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/leads/{lead.pk}/"


def test_create_form_shows_field_errors(org, login):
    response = login(org.rep).post(
        "/leads/new/", {"first_name": "A", "email": "nope", "owner_id": org.rep.pk}
    )
    assert response.status_code == 422
    assert "Not a valid email" in response.content.decode() or "Invalid email" in (
        response.content.decode()
    )
    assert Lead.objects.count() == 0


def test_edit_conflict_keeps_the_users_input(org, login, lead_factory):
    lead = lead_factory(owner=org.rep, city="Kazan", version=3)
    response = login(org.rep).post(
        f"/leads/{lead.pk}/edit/",
        {"first_name": "X", "city": "Tver", "version": "2", "owner_id": org.rep.pk},
    )
    assert response.status_code == 412
    assert "Someone else changed this record" in response.content.decode()
    lead.refresh_from_db()
    assert lead.city == "Kazan"


def test_detail_shows_score_breakdown_and_timeline(org, login, lead_factory, scoring_factory):
    scoring_factory(name="Has phone", kind="field_filled", field="phone", points=10)
    lead = lead_factory(owner=org.rep)
    client = login(org.rep)
    client.post(f"/leads/{lead.pk}/log/", {"kind": "call", "subject": "First call"})
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Has phone" in html and "First call" in html
    assert Interaction.objects.get().related_id == lead.pk


def test_hidden_lead_is_404(org, login, lead_factory):
    lead = lead_factory(owner=org.other_rep)
    assert login(org.rep).get(f"/leads/{lead.pk}/").status_code == 404


def test_analyst_sees_but_cannot_edit(org, login, lead_factory):
    lead = lead_factory(owner=org.rep)
    client = login(org.analyst)
    html = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Convert to contact and deal" not in html
    assert client.get(f"/leads/{lead.pk}/edit/").status_code == 403


def test_convert_error_names_the_field(org, login, lead_factory, pipeline):
    lead = lead_factory(owner=org.rep, company_name="Romashka")
    response = login(org.rep).post(
        f"/leads/{lead.pk}/convert/",
        {"create_deal": "1", "deal_name": "D", "pipeline": pipeline.pk, "amount": "abc"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "<div>Amount: " in html
    lead.refresh_from_db()
    assert lead.status != "converted"


def test_convert_from_the_detail_page(org, login, lead_factory, pipeline):
    lead = lead_factory(owner=org.rep, company_name="Romashka")
    response = login(org.rep).post(
        f"/leads/{lead.pk}/convert/",
        {
            "create_deal": "1",
            "deal_name": "Romashka deal",
            "pipeline": pipeline.pk,
            "amount": "1 000,50",
            "version": lead.version,
        },
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "converted" and str(lead.deal.amount) == "1000.50"


def test_disqualify_needs_a_reason(org, login, lead_factory):
    lead = lead_factory(owner=org.rep)
    client = login(org.rep)
    response = client.post(f"/leads/{lead.pk}/disqualify/", {"reason": ""})
    assert response.status_code == 422
    lead.refresh_from_db()
    assert lead.status == "new"
    response = client.post(f"/leads/{lead.pk}/disqualify/", {"reason": "spam"})
    lead.refresh_from_db()
    assert lead.status == "disqualified"


def test_distribute_from_the_list(org, login, lead_factory):
    leads = [lead_factory(owner=org.head) for _ in range(2)]
    response = login(org.head).post(
        "/leads/distribute/",
        {"lead_ids": [x.pk for x in leads], "user_ids": [org.rep.pk, org.rep_peer.pk]},
    )
    assert response.status_code == 302
    assert sorted(Lead.objects.values_list("owner_id", flat=True)) == sorted(
        [org.rep.pk, org.rep_peer.pk]
    )


# --- public form ------------------------------------------------------------------------------


def test_public_form_post_shows_thank_you(org, web_form):
    response = Client(enforce_csrf_checks=True).post(
        f"/leads/f/{web_form.key}/", {"email": "a@example.com", "first_name": "Ann"}
    )
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    assert Lead.objects.get().first_name == "Ann"


def test_public_form_redirects_when_configured(org, web_form):
    web_form.redirect_url = "https://example.com/thanks"
    web_form.save()
    response = Client().post(f"/leads/f/{web_form.key}/", {"email": "a@example.com"})
    assert response.status_code == 302 and response["Location"] == "https://example.com/thanks"


def test_public_form_shows_errors_on_a_small_page(org, web_form):
    response = Client().post(f"/leads/f/{web_form.key}/", {"email": "nope"})
    assert response.status_code == 422
    assert "Please check the form" in response.content.decode()
    assert Lead.objects.count() == 0


def test_public_form_unknown_key_is_404(org):
    assert Client().post("/leads/f/nope/", {"email": "a@example.com"}).status_code == 404


def test_public_form_flood_is_429(org, web_form, settings, frozen_minute):
    settings.KLIENTO_WEBFORM_RATE_PER_MINUTE = 2
    codes = [
        Client(REMOTE_ADDR="9.9.9.9")
        .post(f"/leads/f/{web_form.key}/", {"email": f"x{i}@example.com"})
        .status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 429, 429]


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/leads/settings/web-forms/",
        "/leads/settings/assignment-rules/",
        "/leads/settings/scoring-rules/",
        "/leads/settings/web-forms/new/",
    ],
)
def test_settings_pages_are_for_admins(org, login, url):
    assert login(org.admin).get(url).status_code == 200
    assert login(org.head).get(url).status_code == 403


def test_admin_creates_a_web_form_and_sees_the_snippet(org, login):
    client = login(org.admin)
    response = client.post(
        "/leads/settings/web-forms/new/",
        {"name": "Footer", "fields": ["first_name", "email"], "channel": "web", "active": "1"},
    )
    form = WebForm.objects.get()
    assert response.status_code == 302
    html = client.get(f"/leads/settings/web-forms/{form.pk}/").content.decode()
    assert f"/leads/f/{form.key}/" in html and "fax_number" in html and "utm_source" in html


def test_web_form_error_is_shown(org, login):
    response = login(org.admin).post(
        "/leads/settings/web-forms/new/", {"name": "", "fields": ["first_name"], "channel": "web"}
    )
    assert response.status_code == 422
    assert WebForm.objects.count() == 0


def test_admin_adds_reorders_and_deletes_assignment_rules(org, login):
    client = login(org.admin)
    for name in ("First", "Second"):
        client.post(
            "/leads/settings/assignment-rules/",
            {"name": name, "kind": "fixed", "user_id": org.rep.pk, "active": "1"},
        )
    second = AssignmentRule.objects.get(name="Second")
    client.post("/leads/settings/assignment-rules/", {"rule_id": second.pk, "action": "up"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["Second", "First"]
    client.post("/leads/settings/assignment-rules/", {"rule_id": second.pk, "action": "delete"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["First"]


def test_admin_adds_a_scoring_rule(org, login):
    response = login(org.admin).post(
        "/leads/settings/scoring-rules/",
        {"name": "Phone", "kind": "field_filled", "field": "phone", "points": "10", "active": "1"},
    )
    assert response.status_code == 302
    assert ScoringRule.objects.get().points == 10


def test_manual_lead_of_a_known_contact_goes_to_the_contact(org, login, contact_factory):
    contact = contact_factory(owner=org.rep, email="known@example.com")
    response = login(org.rep).post(
        "/leads/new/", {"email": "known@example.com", "owner_id": org.rep.pk, "source": "manual"}
    )
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"
    assert Lead.objects.count() == 0


def test_settings_lists_show_words_not_field_names(org, login, web_form_factory, scoring_factory):
    web_form_factory(name="Footer", fields=["first_name", "job_title", "email"])
    scoring_factory(name="Has title", kind="field_filled", field="job_title", points=5)
    scoring_factory(name="From the site", kind="source", value="web_form", points=10)
    scoring_factory(name="Three touches", kind="interactions", value="3", points=15)
    scoring_factory(name="Met", kind="interaction_kind", value="meeting", points=20)
    AssignmentRule.objects.create(name="Imports", kind="fixed", user=org.rep, sources=["import"])
    client = login(org.admin)
    forms_html = client.get("/leads/settings/web-forms/").content.decode()
    assert '<span class="tag">Job title</span>' in forms_html
    assert '<span class="tag">job_title</span>' not in forms_html
    scoring_html = client.get("/leads/settings/scoring-rules/").content.decode()
    for text in (
        "“Job title” is filled in",
        "Came from: Web form",
        "At least 3 interactions",
        "Had an interaction: meeting",
    ):
        assert text in scoring_html
    assert "web_form</span>" not in scoring_html
    rules_html = client.get("/leads/settings/assignment-rules/").content.decode()
    assert "Sources: Import" in rules_html


def test_scoring_rules_read_in_russian(org, login, scoring_factory):
    org.admin.language = "ru"
    org.admin.save(update_fields=["language"])
    scoring_factory(name="Страна", kind="field_equals", field="country", value="RU", points=5)
    scoring_factory(name="Касания", kind="interactions", value="21", points=5)
    html = login(org.admin).get("/leads/settings/scoring-rules/").content.decode()
    assert "Поле «Страна» равно RU" in html
    assert "Не менее 21 взаимодействия" in html
    assert "Действует" in html
