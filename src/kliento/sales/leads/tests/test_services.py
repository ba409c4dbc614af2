"""Lead services: capture, duplicates, assignment, scoring, distribution, conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from kliento.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog
from kliento.customers.models import Company, Contact, ContactCompany, Interaction
from kliento.sales.deals.models import Deal
from kliento.sales.leads import scoring, services, settings_services
from kliento.sales.leads.models import AssignmentRule, CaptureHit, Lead, ScoringRule


def _capture(web_form, ip="10.0.0.1", **data):
    return services.lead_capture(web_form=web_form, data=data, ip=ip)


# --- create and update ----------------------------------------------------------------------


def test_create_normalises_email_and_phone_and_keeps_tracking(org):
    intake = services.lead_create(
        user=org.rep,
        data={
            "first_name": "Anna",
            "email": " Anna@Example.COM ",
            "phone": "8 (916) 555-44-33",
            "utm_source": "yandex",
            "utm_campaign": "spring",
            "referrer": "https://ya.ru/",
            "campaign": "Spring sale",
            "channel": "ads",
        },
    )
    lead = Lead.objects.get()
    assert intake.created and intake.lead == lead
    assert (lead.email, lead.phone) == ("anna@example.com", "+79165554433")
    assert (lead.utm_source, lead.utm_campaign, lead.referrer) == (
        "yandex",
        "spring",
        "https://ya.ru/",
    )
    assert (lead.source, lead.channel, lead.campaign, lead.owner) == (
        "manual",
        "ads",
        "Spring sale",
        org.rep,
    )
    audit = AuditLog.objects.get(entity="lead", object_id=lead.pk)
    assert audit.action == "create" and audit.changes["email"] == [None, "anna@example.com"]


@pytest.mark.parametrize(
    ("field", "value"), [("email", "not-an-email"), ("phone", "12"), ("country", "Russia")]
)
def test_create_refuses_bad_contact_details_naming_the_field(org, field, value):
    with pytest.raises(ValidationFailedError) as exc:
        services.lead_create(user=org.rep, data={"first_name": "A", field: value})
    assert list(exc.value.fields) == [field]
    assert Lead.objects.count() == 0


def test_create_needs_some_identity(org):
    with pytest.raises(ValidationFailedError) as exc:
        services.lead_create(user=org.rep, data={"city": "Kazan"})
    assert "email" in exc.value.fields


def test_analyst_cannot_create(org):
    with pytest.raises(PermissionDeniedError):
        services.lead_create(user=org.analyst, data={"first_name": "A"})
    assert Lead.objects.count() == 0


def test_api_lead_without_owner_is_assigned_by_rules(org, rule_factory):
    rule_factory(kind="fixed", user=org.other_rep)
    intake = services.lead_create(user=org.rep, data={"first_name": "A", "source": "api"})
    assert intake.lead.owner == org.other_rep
    assert intake.lead.assigned_by_rule.kind == "fixed"


def test_update_checks_version_and_audits(org, lead_factory):
    lead = lead_factory(owner=org.rep)
    services.lead_update(user=org.rep, lead=lead, data={"city": "Tver"}, expected_version=1)
    lead.refresh_from_db()
    assert (lead.city, lead.version) == ("Tver", 2)
    with pytest.raises(StaleVersionError):
        services.lead_update(user=org.rep, lead=lead, data={"city": "Oryol"}, expected_version=1)
    lead.refresh_from_db()
    assert lead.city == "Tver"
    audit = AuditLog.objects.filter(entity="lead", action="update").get()
    assert audit.changes == {"city": ["", "Tver"]}


def test_rep_cannot_update_another_reps_lead(org, lead_factory):
    lead = lead_factory(owner=org.other_rep, city="Kazan")
    with pytest.raises(NotFoundError):
        services.lead_update(user=org.rep, lead=lead, data={"city": "Tver"})
    lead.refresh_from_db()
    assert lead.city == "Kazan"


def test_delete_removes_lead_and_its_own_notes(org, lead_factory):
    lead = lead_factory(owner=org.rep)
    services.lead_log(user=org.rep, lead=lead, data={"kind": "note", "subject": "Hi"})
    services.lead_delete(user=org.rep, lead=lead)
    assert Lead.objects.count() == 0
    assert Interaction.objects.count() == 0
    assert AuditLog.objects.filter(entity="lead", action="delete").count() == 1


# --- duplicates -------------------------------------------------------------------------------


def test_capture_from_a_known_contact_attaches_the_inquiry(
    org, web_form, contact_factory, django_capture_on_commit_callbacks
):
    org.rep.email = "rep@example.com"
    org.rep.language = "ru"
    org.rep.save()
    contact = contact_factory(owner=org.rep, email="known@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        intake = _capture(
            web_form,
            email="KNOWN@example.com",
            first_name="Ivan",
            message="Need 40 licences",
            utm_source="google",
        )
    assert Lead.objects.count() == 0
    assert (intake.created, intake.contact, intake.duplicate_of) == (False, contact, "contact")
    inquiry = Interaction.objects.get(kind="webform")
    assert (inquiry.contact, inquiry.channel, inquiry.direction) == (contact, "web", "in")
    assert "Need 40 licences" in inquiry.body and "utm_source: google" in inquiry.body
    task = Interaction.objects.get(kind="task")
    assert (task.assignee, task.planned, task.done, task.contact) == (org.rep, True, False, contact)
    assert task.subject == "Новое обращение от существующего клиента"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["rep@example.com"]
    assert "Новое обращение" in mail.outbox[0].subject


def test_capture_matching_an_open_lead_by_phone_attaches_to_it(org, web_form, lead_factory):
    lead = lead_factory(owner=org.rep_peer, phone="+79161112233")
    intake = _capture(web_form, phone="8 916 111-22-33", message="Call me")
    assert Lead.objects.count() == 1
    assert (intake.lead, intake.duplicate_of) == (lead, "lead")
    inquiry = Interaction.objects.get(kind="webform")
    assert (inquiry.related_type, inquiry.related_id) == ("lead", lead.pk)
    assert Interaction.objects.get(kind="task").assignee == org.rep_peer


def test_a_closed_lead_is_not_a_duplicate(org, web_form, lead_factory):
    lead_factory(owner=org.rep, email="x@example.com", status="disqualified")
    intake = _capture(web_form, email="x@example.com")
    assert intake.created
    assert Lead.objects.count() == 2


def test_manual_create_of_a_known_email_does_not_duplicate(org, lead_factory):
    lead = lead_factory(owner=org.rep, email="x@example.com")
    intake = services.lead_create(user=org.rep, data={"email": "x@example.com"})
    assert (intake.created, intake.lead) == (False, lead)
    assert Lead.objects.count() == 1


# --- web-form capture -------------------------------------------------------------------------


def test_capture_creates_a_lead_with_form_tracking(org, web_form):
    intake = _capture(
        web_form,
        first_name="Olga",
        email="olga@example.com",
        message="Price list please",
        utm_source="vk",
        referrer="https://vk.com/",
    )
    lead = intake.lead
    assert (lead.source, lead.channel, lead.campaign, lead.web_form) == (
        "web_form",
        "web",
        "spring",
        web_form,
    )
    assert (lead.utm_source, lead.referrer, lead.owner) == ("vk", "https://vk.com/", org.admin)
    inquiry = Interaction.objects.get()
    assert (inquiry.kind, inquiry.related_type, inquiry.related_id) == ("webform", "lead", lead.pk)


def test_capture_refuses_a_field_the_form_does_not_have(org, web_form):
    with pytest.raises(ValidationFailedError) as exc:
        _capture(web_form, email="a@example.com", owner_id=1)
    assert exc.value.fields == {"owner_id": "This form has no such field."}
    assert Lead.objects.count() == 0


def test_honeypot_pretends_success_and_creates_nothing(org, web_form):
    intake = _capture(web_form, email="bot@example.com", fax_number="123")
    assert intake.spam
    assert Lead.objects.count() == 0 and Interaction.objects.count() == 0


def test_inactive_form_is_not_found(org, web_form):
    web_form.active = False
    web_form.save()
    with pytest.raises(NotFoundError):
        _capture(web_form, email="a@example.com")


@pytest.mark.parametrize(("value", "limit"), [(None, 10), ("", 10), ("2", 2), (" 4 ", 4), (6, 6)])
def test_rate_limit_setting_defaults_to_ten_and_takes_environment_text(
    org, web_form, settings, frozen_minute, value, limit
):
    if value is None:
        del settings.KLIENTO_WEBFORM_RATE_PER_MINUTE
    else:
        settings.KLIENTO_WEBFORM_RATE_PER_MINUTE = value
    for i in range(limit):
        _capture(web_form, ip="1.1.1.1", email=f"a{i}@example.com")
    with pytest.raises(services.CaptureThrottledError):
        _capture(web_form, ip="1.1.1.1", email="over@example.com")
    assert Lead.objects.count() == limit


@pytest.mark.parametrize("value", ["ten", "0", -1, "1.5", True])
def test_bad_rate_limit_setting_is_named(org, web_form, settings, value):
    settings.KLIENTO_WEBFORM_RATE_PER_MINUTE = value
    with pytest.raises(ImproperlyConfigured) as exc:
        _capture(web_form, ip="1.1.1.1", email="a@example.com")
    assert str(exc.value) == (
        f"KLIENTO_WEBFORM_RATE_PER_MINUTE must be a whole number of at least 1, got {value!r}."
    )
    assert Lead.objects.count() == 0


def test_rate_limit_per_ip(org, web_form, settings, frozen_minute):
    settings.KLIENTO_WEBFORM_RATE_PER_MINUTE = 3
    for i in range(3):
        _capture(web_form, ip="1.1.1.1", email=f"a{i}@example.com")
    with pytest.raises(services.CaptureThrottledError):
        _capture(web_form, ip="1.1.1.1", email="a9@example.com")
    _capture(web_form, ip="2.2.2.2", email="b@example.com")
    assert Lead.objects.count() == 4
    assert CaptureHit.objects.get(ip="1.1.1.1").count == 4


# --- assignment rules -------------------------------------------------------------------------


def test_territory_rule_assigns_leads_from_its_cities(org, web_form, rule_factory):
    rule_factory(kind="territory", cities=["Kazan"], user=org.other_rep)
    rule_factory(kind="fixed", user=org.rep)
    assert _capture(web_form, email="a@example.com", city="kazan").lead.owner == org.other_rep
    assert _capture(web_form, email="b@example.com", city="Tver").lead.owner == org.rep


def test_round_robin_takes_turns_within_the_team(org, web_form, rule_factory):
    rule = rule_factory(kind="round_robin", team=org.teams["moscow"])
    owners = [_capture(web_form, email=f"a{i}@example.com").lead.owner for i in range(4)]
    assert owners == [org.rep, org.rep_peer, org.rep, org.rep_peer]
    rule.refresh_from_db()
    assert rule.last_user == org.rep_peer


def test_load_rule_picks_the_member_with_fewest_open_leads(
    org, web_form, rule_factory, lead_factory
):
    lead_factory(owner=org.rep)
    lead_factory(owner=org.rep)
    lead_factory(owner=org.rep_peer, status="converted")
    rule_factory(kind="load", team=org.teams["moscow"])
    assert _capture(web_form, email="a@example.com").lead.owner == org.rep_peer


def test_rule_conditions_on_source_and_form(org, web_form, web_form_factory, rule_factory):
    other = web_form_factory()
    rule_factory(kind="fixed", user=org.rep, web_form=other)
    rule_factory(kind="fixed", user=org.rep_peer, sources=["web_form"])
    assert _capture(web_form, email="a@example.com").lead.owner == org.rep_peer
    assert _capture(other, email="b@example.com").lead.owner == org.rep


def test_without_a_matching_rule_the_forms_default_owner_gets_it(org, web_form, rule_factory):
    rule_factory(kind="territory", regions=["Tatarstan"], user=org.other_rep)
    web_form.default_owner = org.rep_peer
    web_form.save()
    assert _capture(web_form, email="a@example.com").lead.owner == org.rep_peer


def test_inactive_rule_and_empty_team_are_skipped(org, web_form, rule_factory):
    rule_factory(kind="fixed", user=org.rep, active=False)
    rule_factory(kind="round_robin", team=org.teams["marketing"], position=5)
    org.marketer.is_active = False
    org.marketer.save()
    assert _capture(web_form, email="a@example.com").lead.owner == org.admin


# --- scoring ---------------------------------------------------------------------------------


def test_score_adds_points_of_the_rules_that_hold(org, web_form, scoring_factory):
    scoring_factory(kind="field_filled", field="phone", points=10)
    scoring_factory(kind="field_equals", field="city", value="moscow", points=5)
    scoring_factory(kind="source", value="web_form", points=3)
    scoring_factory(kind="interaction_kind", value="call", points=20)
    scoring_factory(kind="interactions", value="2", points=7)
    lead = _capture(web_form, email="a@example.com", city="Moscow").lead
    assert lead.score == 5 + 3
    services.lead_update(user=org.admin, lead=lead, data={"phone": "+79160000000"})
    services.lead_log(user=org.admin, lead=lead, data={"kind": "call", "subject": "Intro"})
    lead.refresh_from_db()
    assert lead.score == 5 + 3 + 10 + 20 + 7
    rows = scoring.score_breakdown(lead=lead)
    assert [r["points"] for r in rows] == [10, 5, 3, 20, 7]


def test_a_new_scoring_rule_rescores_open_leads(
    org, lead_factory, django_capture_on_commit_callbacks
):
    lead = lead_factory(owner=org.rep, city="Kazan")
    with django_capture_on_commit_callbacks(execute=True):
        settings_services.scoring_rule_create(
            user=org.admin,
            data={"name": "Has city", "kind": "field_filled", "field": "city", "points": 4},
        )
    lead.refresh_from_db()
    assert lead.score == 4


def test_scoring_rule_validation(org):
    with pytest.raises(ValidationFailedError) as exc:
        settings_services.scoring_rule_create(
            user=org.admin,
            data={"name": "X", "kind": "field_filled", "field": "owner", "points": 1},
        )
    assert list(exc.value.fields) == ["field"]
    with pytest.raises(PermissionDeniedError):
        settings_services.scoring_rule_create(
            user=org.head, data={"name": "X", "kind": "source", "value": "api", "points": 1}
        )
    assert ScoringRule.objects.count() == 0


# --- distribution ------------------------------------------------------------------------------


def test_head_distributes_leads_evenly_in_turn(org, lead_factory):
    leads = [lead_factory(owner=org.head) for _ in range(5)]
    counts = services.lead_distribute(
        user=org.head,
        lead_ids=[lead.pk for lead in leads],
        user_ids=[org.rep.pk, org.other_rep.pk],
    )
    assert counts == {org.rep.pk: 3, org.other_rep.pk: 2}
    owners = list(Lead.objects.order_by("id").values_list("owner_id", flat=True))
    assert owners == [org.rep.pk, org.other_rep.pk, org.rep.pk, org.other_rep.pk, org.rep.pk]
    assert AuditLog.objects.filter(entity="lead", action="update").count() == 5
    assert Interaction.objects.filter(related_type="lead").count() == 5


def test_rep_cannot_distribute(org, lead_factory):
    lead = lead_factory(owner=org.rep)
    with pytest.raises(PermissionDeniedError):
        services.lead_distribute(user=org.rep, lead_ids=[lead.pk], user_ids=[org.rep_peer.pk])
    lead.refresh_from_db()
    assert lead.owner == org.rep


def test_head_cannot_distribute_leads_outside_the_team(org, lead_factory):
    mine = lead_factory(owner=org.rep)
    outside = lead_factory(owner=org.marketer)
    with pytest.raises(ValidationFailedError) as exc:
        services.lead_distribute(
            user=org.head, lead_ids=[mine.pk, outside.pk], user_ids=[org.rep_peer.pk]
        )
    assert "lead_ids" in exc.value.fields
    assert set(Lead.objects.values_list("owner_id", flat=True)) == {org.rep.pk, org.marketer.pk}


def test_head_cannot_give_leads_to_someone_outside_the_team(org, lead_factory):
    lead = lead_factory(owner=org.rep)
    with pytest.raises(ValidationFailedError) as exc:
        services.lead_distribute(user=org.head, lead_ids=[lead.pk], user_ids=[org.marketer.pk])
    assert "user_ids" in exc.value.fields


# --- conversion and disqualification ----------------------------------------------------------


def test_convert_creates_contact_company_and_deal_and_moves_history(org, pipeline, web_form):
    lead = _capture(
        web_form,
        first_name="Olga",
        last_name="Ivanova",
        email="olga@example.com",
        company_name="Romashka LLC",
        message="Need a quote",
    ).lead
    services.lead_log(user=org.admin, lead=lead, data={"kind": "call", "subject": "Qualified"})
    result = services.lead_convert(
        user=org.admin,
        lead=lead,
        data={"deal_name": "Romashka licences", "amount": "1500.00"},
    )
    contact = Contact.objects.get()
    company = Company.objects.get()
    deal = Deal.objects.get()
    assert (result.contact, result.company, result.deal) == (contact, company, deal)
    assert (contact.email, contact.first_name, contact.owner) == (
        "olga@example.com",
        "Olga",
        org.admin,
    )
    assert company.name == "Romashka LLC"
    assert ContactCompany.objects.filter(contact=contact, company=company).exists()
    assert (deal.name, deal.amount, deal.contact, deal.company, deal.pipeline) == (
        "Romashka licences",
        Decimal("1500.00"),
        contact,
        company,
        pipeline,
    )
    lead.refresh_from_db()
    assert (lead.status, lead.contact, lead.company, lead.deal) == (
        "converted",
        contact,
        company,
        deal,
    )
    history = Interaction.objects.filter(related_type="lead", related_id=lead.pk)
    assert set(history.values_list("kind", flat=True)) == {"webform", "call", "note"}
    assert set(history.values_list("contact_id", flat=True)) == {contact.pk}
    assert set(history.values_list("company_id", flat=True)) == {company.pk}


def test_convert_reuses_an_existing_company_by_name_and_can_skip_the_deal(
    org, lead_factory, company_factory
):
    company = company_factory(owner=org.rep, name="Romashka")
    lead = lead_factory(owner=org.rep, company_name="Romashka")
    result = services.lead_convert(user=org.rep, lead=lead, data={"create_deal": False})
    assert result.company == company and result.deal is None
    assert Company.objects.count() == 1 and Deal.objects.count() == 0


def test_convert_reuses_the_contact_the_lead_matched(org, lead_factory, contact_factory):
    contact = contact_factory(owner=org.rep)
    lead = lead_factory(owner=org.rep, contact=contact, company_name="")
    result = services.lead_convert(user=org.rep, lead=lead, data={"create_deal": False})
    assert result.contact == contact
    assert Contact.objects.count() == 1


def test_convert_twice_is_a_conflict(org, lead_factory):
    lead = lead_factory(owner=org.rep, company_name="")
    services.lead_convert(user=org.rep, lead=lead, data={"create_deal": False})
    with pytest.raises(ConflictError):
        services.lead_convert(user=org.rep, lead=lead, data={"create_deal": False})
    assert Contact.objects.count() == 1


def test_failed_deal_rolls_the_conversion_back(org, lead_factory):
    lead = lead_factory(owner=org.rep, company_name="Acme")
    with pytest.raises(ValidationFailedError):
        services.lead_convert(user=org.rep, lead=lead, data={"amount": "-5"})
    lead.refresh_from_db()
    assert lead.status == "new"
    assert (Contact.objects.count(), Company.objects.count()) == (0, 0)


def test_disqualify_with_reason_and_note(org, lead_factory):
    lead = lead_factory(owner=org.rep)
    services.lead_disqualify(user=org.rep, lead=lead, reason="no_budget", note="Next year")
    lead.refresh_from_db()
    assert (lead.status, lead.disqualify_reason, lead.disqualify_note) == (
        "disqualified",
        "no_budget",
        "Next year",
    )
    note = Interaction.objects.get(related_type="lead")
    assert note.subject == "Disqualified: No budget" and note.body == "Next year"


def test_disqualify_needs_a_known_reason(org, lead_factory):
    lead = lead_factory(owner=org.rep)
    with pytest.raises(ValidationFailedError) as exc:
        services.lead_disqualify(user=org.rep, lead=lead, reason="bored")
    assert list(exc.value.fields) == ["reason"]
    lead.refresh_from_db()
    assert lead.status == "new"


def test_analyst_cannot_disqualify(org, lead_factory):
    lead = lead_factory(owner=org.rep)
    with pytest.raises(PermissionDeniedError):
        services.lead_disqualify(user=org.analyst, lead=lead, reason="spam")
    lead.refresh_from_db()
    assert lead.status == "new"


# --- settings --------------------------------------------------------------------------------


def test_web_form_needs_email_or_phone(org):
    with pytest.raises(ValidationFailedError) as exc:
        settings_services.web_form_create(
            user=org.admin, data={"name": "X", "fields": ["first_name"]}
        )
    assert list(exc.value.fields) == ["fields"]


def test_rules_move_up_and_down(org, rule_factory):
    a = rule_factory(kind="fixed", user=org.rep)
    b = rule_factory(kind="fixed", user=org.rep)
    c = rule_factory(kind="fixed", user=org.rep)
    settings_services.assignment_rule_move(user=org.admin, rule=c, offset=-1)
    assert list(AssignmentRule.objects.values_list("id", flat=True)) == [a.pk, c.pk, b.pk]


def test_round_robin_rule_needs_a_team(org):
    with pytest.raises(ValidationFailedError) as exc:
        settings_services.assignment_rule_create(
            user=org.admin, data={"name": "RR", "kind": "round_robin"}
        )
    assert list(exc.value.fields) == ["team_id"]


def test_owner_task_for_an_inquiry_shows_in_my_tasks(org, web_form, lead_factory):
    from kliento.customers.selectors import my_tasks

    lead = lead_factory(owner=org.rep_peer, email="known@example.com")
    _capture(web_form, email="known@example.com", message="Again")
    tasks = my_tasks(user=org.rep_peer)
    found = tasks["overdue"] + tasks["today"]
    assert [(t.subject, t.related_id) for t in found] == [
        ("New inquiry from an existing customer", lead.pk)
    ]


def test_converted_history_is_on_the_contacts_timeline(org, web_form, pipeline):
    from kliento.customers.selectors import timeline

    lead = _capture(web_form, email="olga@example.com", message="Hello").lead
    services.lead_log(user=org.admin, lead=lead, data={"kind": "call", "subject": "Intro call"})
    result = services.lead_convert(user=org.admin, lead=lead, data={"create_deal": False})
    subjects = [i.subject for i in timeline(user=org.admin, contact=result.contact).items]
    assert "Intro call" in subjects and f"Web form “{web_form.name}”" in subjects


def test_a_lead_shared_with_a_rep_is_visible_to_them(org, lead_factory):
    from kliento.customers.models import RecordShare
    from kliento.sales.leads.selectors import lead_get_for_user, lead_list

    lead = lead_factory(owner=org.other_rep)
    RecordShare.objects.create(entity="lead", object_id=lead.pk, user=org.rep, can_edit=False)
    assert lead_get_for_user(user=org.rep, pk=lead.pk) == lead
    assert [x.pk for x in lead_list(user=org.rep).items] == [lead.pk]
    with pytest.raises(PermissionDeniedError):
        lead_get_for_user(user=org.rep, pk=lead.pk, for_write=True)


def test_an_update_to_a_known_email_links_the_contact(org, lead_factory, contact_factory):
    contact = contact_factory(owner=org.rep, email="known@example.com")
    lead = lead_factory(owner=org.rep)
    services.lead_update(user=org.rep, lead=lead, data={"email": "KNOWN@example.com"})
    lead.refresh_from_db()
    assert lead.contact == contact
