from datetime import timedelta

import pytest
from django.utils import timezone, translation

from kliento.core.errors import (
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog
from kliento.core.services import custom_field_create
from kliento.customers import services
from kliento.customers.models import Consent, Contact, Interaction, SearchEntry


def test_contact_create_normalises_emails_and_phones(org):
    contact = services.contact_create(
        user=org.rep,
        data={
            "first_name": "Анна",
            "last_name": "Смирнова",
            "emails": [" Anna.Smirnova@Example.COM ", "anna.smirnova@example.com"],
            "phones": ["8 (916) 555-01-02", "+44 20 7946 0958"],
        },
    )
    assert contact.emails == ["anna.smirnova@example.com"]
    assert contact.email == "anna.smirnova@example.com"
    assert contact.phones == ["+79165550102", "+442079460958"]
    assert contact.phone_display == "+7 916 555-01-02"
    assert contact.owner == org.rep
    entry = SearchEntry.objects.get(entity="contact", object_id=contact.pk)
    assert "smirnova" in entry.text and "79165550102" in entry.text


def test_contact_create_names_each_bad_field(org):
    with pytest.raises(ValidationFailedError) as exc:
        services.contact_create(
            user=org.rep,
            data={
                "first_name": "A",
                "emails": ["ok@example.com", "not-an-email"],
                "phones": ["12"],
                "lifecycle_stage": "vip",
                "colour": "red",
            },
        )
    assert set(exc.value.fields) == {"emails.1", "phones.0", "lifecycle_stage", "colour"}
    assert Contact.objects.count() == 0


def test_contact_create_needs_some_identity(org):
    with pytest.raises(ValidationFailedError) as exc:
        services.contact_create(user=org.rep, data={"city": "Kazan"})
    assert "first_name" in exc.value.fields


def test_contact_update_records_audit_diff_and_bumps_version(org, contact_factory):
    contact = contact_factory(owner=org.rep, first_name="Ivan", city="Moscow")
    updated = services.contact_update(
        user=org.rep, contact=contact, data={"city": "Kazan"}, expected_version=1
    )
    assert updated.version == 2
    row = AuditLog.objects.filter(entity="contact", object_id=contact.pk).first()
    assert row.action == "update"
    assert row.changes == {"city": ["Moscow", "Kazan"]}
    assert row.user == org.rep


def test_contact_update_with_stale_version_changes_nothing(org, contact_factory):
    contact = contact_factory(owner=org.rep, city="Moscow")
    services.contact_update(user=org.rep, contact=contact, data={"city": "Kazan"})
    with pytest.raises(StaleVersionError):
        services.contact_update(
            user=org.rep, contact=contact, data={"city": "Omsk"}, expected_version=1
        )
    contact.refresh_from_db()
    assert (contact.city, contact.version) == ("Kazan", 2)


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("other_rep", NotFoundError),
        ("analyst", PermissionDeniedError),
        ("marketer", PermissionDeniedError),
        ("rep_peer", NotFoundError),
    ],
)
def test_contact_update_denied_changes_nothing(org, contact_factory, actor, error):
    contact = contact_factory(owner=org.rep, city="Moscow")
    with pytest.raises(error):
        services.contact_update(user=org.users[actor], contact=contact, data={"city": "X"})
    contact.refresh_from_db()
    assert contact.city == "Moscow"


@pytest.mark.parametrize("actor", ["rep", "head", "admin"])
def test_contact_update_allowed(org, contact_factory, actor):
    contact = contact_factory(owner=org.rep, city="Moscow")
    services.contact_update(user=org.users[actor], contact=contact, data={"city": "Tver"})
    contact.refresh_from_db()
    assert contact.city == "Tver"


def test_shared_contact_is_editable_by_the_grantee(org, contact_factory):
    contact = contact_factory(owner=org.rep)
    services.record_share(user=org.rep, entity="contact", obj=contact, target=org.other_rep)
    services.contact_update(user=org.other_rep, contact=contact, data={"city": "Perm"})
    contact.refresh_from_db()
    assert contact.city == "Perm"


def test_rep_cannot_give_a_record_to_another_team(org):
    with pytest.raises(ValidationFailedError) as exc:
        services.contact_create(
            user=org.rep, data={"first_name": "X", "owner_id": org.other_rep.pk}
        )
    assert "owner_id" in exc.value.fields


def test_custom_fields_are_validated_and_stored_typed(org):
    custom_field_create(actor=org.admin, entity="contact", label="Budget", type="number")
    custom_field_create(
        actor=org.admin, entity="contact", label="Segment", type="choice", choices=["A", "B"]
    )
    contact = services.contact_create(
        user=org.rep, data={"first_name": "X", "custom": {"budget": "1500", "segment": "A"}}
    )
    assert contact.custom == {"budget": 1500, "segment": "A"}
    with pytest.raises(ValidationFailedError) as exc:
        services.contact_update(
            user=org.rep, contact=contact, data={"custom": {"budget": "lots", "segment": "Z"}}
        )
    assert set(exc.value.fields) == {"custom.budget", "custom.segment"}


def test_consent_set_records_status_time_and_source(org, contact_factory):
    contact = contact_factory(owner=org.rep)
    consent = services.consent_set(
        user=org.rep, contact=contact, channel="email", status="opt_out", source="unsubscribe link"
    )
    assert (consent.status, consent.source) == ("opt_out", "unsubscribe link")
    services.consent_set(user=org.rep, contact=contact, channel="email", status="opt_in")
    assert Consent.objects.get(contact=contact, channel="email").status == "opt_in"
    with pytest.raises(ValidationFailedError):
        services.consent_set(user=org.rep, contact=contact, channel="pigeon", status="opt_in")


def test_interaction_create_defaults_channel_and_time(org, contact_factory):
    contact = contact_factory(owner=org.rep)
    call = services.interaction_create(
        user=org.rep,
        data={
            "kind": "call",
            "contact_id": contact.pk,
            "subject": "Intro",
            "duration_seconds": 120,
        },
    )
    assert (call.channel, call.direction, call.user) == ("phone", "out", org.rep)
    assert abs((timezone.now() - call.occurred_at).total_seconds()) < 5


def test_planned_interaction_needs_due_time_and_completes(org, contact_factory):
    contact = contact_factory(owner=org.rep)
    with pytest.raises(ValidationFailedError) as exc:
        services.interaction_create(user=org.rep, data={"planned": True, "contact_id": contact.pk})
    assert "due_at" in exc.value.fields
    due = timezone.now() + timedelta(days=1)
    task = services.interaction_create(
        user=org.rep,
        data={
            "planned": True,
            "contact_id": contact.pk,
            "due_at": due,
            "subject": "Send the offer",
        },
    )
    assert (task.kind, task.assignee, task.done) == ("task", org.rep, False)
    done = services.task_complete(user=org.rep, interaction=task, outcome="sent")
    assert done.done and done.outcome == "sent" and done.done_at is not None


def test_interaction_on_hidden_contact_is_refused(org, contact_factory):
    contact = contact_factory(owner=org.other_rep)
    with pytest.raises(ValidationFailedError) as exc:
        services.interaction_create(user=org.rep, data={"kind": "call", "contact_id": contact.pk})
    assert exc.value.fields == {"contact_id": f"No contact with id {contact.pk}."}
    assert Interaction.objects.count() == 0


def test_contact_delete_removes_search_entry_and_audits(org, contact_factory):
    contact = contact_factory(owner=org.rep)
    pk = contact.pk
    services.contact_delete(user=org.rep, contact=contact)
    assert not Contact.objects.filter(pk=pk).exists()
    assert not SearchEntry.objects.filter(entity="contact", object_id=pk).exists()
    assert AuditLog.objects.filter(entity="contact", object_id=pk, action="delete").exists()


def test_company_create_and_link(org):
    company = services.company_create(user=org.rep, data={"name": "Ромашка", "tax_id": "7701"})
    contact = services.contact_create(
        user=org.rep,
        data={"first_name": "Olga", "companies": [{"company_id": company.pk, "title": "CFO"}]},
    )
    link = contact.company_links.get()
    assert (link.company, link.title, link.is_primary) == (company, "CFO", True)
    with pytest.raises(ValidationFailedError) as exc:
        services.company_create(user=org.rep, data={"name": ""})
    assert "name" in exc.value.fields


def test_reminders_are_sent_once_per_task(
    org, contact_factory, mailoutbox, django_capture_on_commit_callbacks
):
    org.rep.email = "rep@example.com"
    org.rep.save(update_fields=["email"])
    contact = contact_factory(owner=org.rep, first_name="Oleg", last_name="Ivanov")
    now = timezone.now()
    task = services.interaction_create(
        user=org.rep,
        data={
            "planned": True,
            "contact_id": contact.pk,
            "subject": "Call back",
            "due_at": now + timedelta(hours=1),
            "remind_at": now - timedelta(minutes=1),
        },
    )
    services.interaction_create(
        user=org.rep,
        data={
            "planned": True,
            "contact_id": contact.pk,
            "subject": "Later",
            "due_at": now + timedelta(days=2),
            "remind_at": now + timedelta(days=1),
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.task_reminders_send(now=now) == 1
        assert services.task_reminders_send(now=now) == 0
    assert [m.to for m in mailoutbox] == [["rep@example.com"]]
    assert mailoutbox[0].subject == "Reminder: Call back"
    assert "Oleg Ivanov" in mailoutbox[0].body
    task.refresh_from_db()
    assert task.reminded_at == now


def test_update_cannot_make_a_contact_anonymous(org, contact_factory):
    contact = contact_factory(owner=org.rep, first_name="", last_name="Only")
    with pytest.raises(ValidationFailedError) as exc:
        services.contact_update(
            user=org.rep, contact=contact, data={"last_name": "", "emails": [], "phones": []}
        )
    assert "first_name" in exc.value.fields


def test_interaction_time_cannot_be_cleared(org, contact_factory):
    contact = contact_factory(owner=org.rep)
    call = services.interaction_create(
        user=org.rep, data={"kind": "call", "contact_id": contact.pk}
    )
    with pytest.raises(ValidationFailedError) as exc:
        services.interaction_update(user=org.rep, interaction=call, data={"occurred_at": None})
    assert set(exc.value.fields) == {"occurred_at"}


def test_contact_create_errors_come_in_the_active_language(org):
    with translation.override("ru"), pytest.raises(ValidationFailedError) as exc:
        services.contact_create(
            user=org.rep,
            data={"first_name": "Анна", "emails": ["not-an-email"], "lifecycle_stage": "vip"},
        )
    assert exc.value.message == "Некоторые поля заполнены неверно."
    assert set(exc.value.fields) == {"emails.0", "lifecycle_stage"}
    assert exc.value.fields["emails.0"].startswith(
        "Некорректный адрес электронной почты 'not-an-email': "
    )
    assert exc.value.fields["lifecycle_stage"] == (
        "'vip' — недопустимое значение; допустимые: subscriber, lead, prospect, customer, former."
    )
    assert Contact.objects.count() == 0


def test_default_error_message_is_translated_when_raised(org, contact_factory):
    contact = contact_factory(owner=org.rep, first_name="Ivan")
    with translation.override("ru"), pytest.raises(NotFoundError) as exc:
        services.contact_update(user=org.other_rep, contact=contact, data={"city": "Kazan"})
    assert exc.value.message == "Не найдено."
    contact.refresh_from_db()
    assert contact.city == ""


def test_email_and_phone_reasons_follow_the_language(org):
    from django.utils import translation

    with translation.override("ru"), pytest.raises(ValidationFailedError) as exc:
        services.contact_create(
            user=org.rep, data={"first_name": "A", "emails": ["bad@"], "phones": ["+999 1"]}
        )
    assert exc.value.fields["emails.0"].endswith(": это не адрес электронной почты")
    assert exc.value.fields["phones.0"].endswith(": код страны не указан или неизвестен")
