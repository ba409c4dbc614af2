"""Web UI record actions: deleting records, sharing them, editing and deleting timeline entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kliento.core.models import AuditLog
from kliento.customers import services
from kliento.customers.models import Company, Contact, Interaction, RecordShare

HTMX = {"HTTP_HX_REQUEST": "true"}


# --- deleting a contact or a company ------------------------------------------------------


@pytest.mark.parametrize("entity", ["contact", "company"])
def test_owner_deletes_record_after_confirming(
    org, login, contact_factory, company_factory, entity
):
    obj = (contact_factory if entity == "contact" else company_factory)(owner=org.rep)
    client = login(org.rep)
    base = "/contacts" if entity == "contact" else "/companies"

    confirm = client.get(f"{base}/{obj.pk}/delete/?version={obj.version}")
    response = client.post(f"{base}/{obj.pk}/delete/", {"version": obj.version}, follow=True)

    assert confirm.status_code == 200
    assert 'name="version" value="1"' in confirm.content.decode()
    assert response.redirect_chain == [(f"{base}/", 302)]
    assert "is deleted." in response.content.decode()
    model = Contact if entity == "contact" else Company
    assert not model.objects.filter(pk=obj.pk).exists()
    audit = AuditLog.objects.get(entity=entity, object_id=obj.pk, action=AuditLog.Action.DELETE)
    assert audit.user == org.rep


def test_detail_page_offers_delete_only_to_those_who_may(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    url = f"/contacts/{contact.pk}/"

    owner_page = login(org.rep).get(url).content.decode()
    analyst_page = login(org.analyst).get(url).content.decode()
    marketer_page = login(org.marketer).get(url).content.decode()

    assert f"/contacts/{contact.pk}/delete/?version=1" in owner_page
    assert "/delete/" not in analyst_page
    assert "/delete/" not in marketer_page


@pytest.mark.parametrize("role", ["analyst", "marketer"])
def test_delete_by_user_who_may_not_write_is_forbidden(org, login, contact_factory, role):
    contact = contact_factory(owner=org.rep)

    response = login(getattr(org, role)).post(
        f"/contacts/{contact.pk}/delete/", {"version": contact.version}
    )

    assert response.status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.DELETE).exists()


def test_delete_of_hidden_record_is_not_found(org, login, company_factory):
    company = company_factory(owner=org.other_rep)

    response = login(org.rep).post(f"/companies/{company.pk}/delete/", {"version": 1})

    assert response.status_code == 404
    assert Company.objects.filter(pk=company.pk).exists()


def test_stale_delete_shows_conflict_and_keeps_record(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    services.contact_update(user=org.head, contact=contact, data={"city": "Tver"})

    response = login(org.rep).post(f"/contacts/{contact.pk}/delete/", {"version": 1})

    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert 'name="version" value="2"' in response.content.decode()
    assert Contact.objects.filter(pk=contact.pk).exists()


# --- sharing ------------------------------------------------------------------------------


def test_share_and_unshare_round_trip(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    owner = login(org.rep)
    grantee = login(org.other_rep)
    url = f"/contacts/{contact.pk}/"
    before = grantee.get(url).status_code

    shared = owner.post(f"{url}shares/", {"user_id": org.other_rep.pk}, **HTMX)
    during = grantee.get(url)
    readonly = owner.post(f"{url}shares/", {"user_id": org.other_rep.pk}, **HTMX)
    share_row = RecordShare.objects.get(entity="contact", object_id=contact.pk)
    removed = owner.post(f"{url}shares/{org.other_rep.pk}/remove/", **HTMX)
    after = grantee.get(url).status_code

    assert before == 404
    assert "Other_Rep" in shared.content.decode()
    assert "can edit" in shared.content.decode()
    assert during.status_code == 200
    assert "Shared with" in during.content.decode()
    assert "read only" in readonly.content.decode()
    assert (share_row.user, share_row.can_edit) == (org.other_rep, False)
    assert removed.status_code == 200
    assert not RecordShare.objects.filter(entity="contact", object_id=contact.pk).exists()
    assert after == 404
    changes = list(
        AuditLog.objects.filter(entity="contact", object_id=contact.pk)
        .order_by("id")
        .values_list("changes", flat=True)
    )
    assert changes[-1] == {"shared_with": ["other_rep", None]}


def test_share_with_edit_lets_grantee_edit(org, login, company_factory):
    company = company_factory(owner=org.rep)

    login(org.rep).post(
        f"/companies/{company.pk}/shares/", {"user_id": org.other_rep.pk, "can_edit": "1"}
    )
    page = login(org.other_rep).get(f"/companies/{company.pk}/").content.decode()

    assert RecordShare.objects.get(object_id=company.pk).can_edit is True
    assert f"/companies/{company.pk}/edit/" in page


def test_share_without_user_shows_error(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = login(org.rep).post(f"/contacts/{contact.pk}/shares/", {"user_id": ""}, **HTMX)

    assert response.status_code == 200
    assert "Choose a user to share with." in response.content.decode()
    assert not RecordShare.objects.exists()


def test_reader_sees_shares_read_only_and_cannot_share(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    services.record_share(user=org.rep, entity="contact", obj=contact, target=org.rep_peer)
    client = login(org.analyst)

    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    share = client.post(f"/contacts/{contact.pk}/shares/", {"user_id": org.analyst.pk})
    unshare = client.post(f"/contacts/{contact.pk}/shares/{org.rep_peer.pk}/remove/")

    assert "Rep_Peer" in page
    assert 'id="share-user"' not in page
    assert "/remove/" not in page
    assert (share.status_code, unshare.status_code) == (403, 403)
    assert list(RecordShare.objects.values_list("user_id", flat=True)) == [org.rep_peer.pk]


# --- editing and deleting timeline entries ------------------------------------------------


@pytest.fixture
def call(org, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    return interaction_factory(
        contact=contact,
        user=org.rep,
        occurred_at=timezone.now() - timedelta(hours=2),
        duration_seconds=300,
    )


def test_timeline_offers_edit_only_on_entries_user_may_change(org, login, call):
    url = f"/contacts/{call.contact_id}/"

    owner_page = login(org.rep).get(url).content.decode()
    analyst_page = login(org.analyst).get(url).content.decode()

    assert f"/interactions/{call.pk}/edit/" in owner_page
    assert f"/interactions/{call.pk}/edit/" not in analyst_page


def test_interaction_edit_form_and_save(org, login, call):
    client = login(org.rep)
    url = f"/interactions/{call.pk}/edit/?entity=contact"

    form = client.get(url, **HTMX).content.decode()
    response = client.post(
        url,
        {
            "version": call.version,
            "entity": "contact",
            "subject": "Renewal agreed",
            "body": "They sign on Friday",
            "outcome": "Won",
            "occurred_at": "2026-03-02T10:30",
            "duration_minutes": "15",
        },
        **HTMX,
    )

    assert 'name="duration_minutes" value="5"' in form
    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-changed"
    assert f'id="interaction-{call.pk}"' in response.content.decode()
    call.refresh_from_db()
    assert (call.subject, call.body, call.outcome) == (
        "Renewal agreed",
        "They sign on Friday",
        "Won",
    )
    assert call.duration_seconds == 900
    assert timezone.localtime(call.occurred_at).strftime("%Y-%m-%dT%H:%M") == "2026-03-02T10:30"
    assert call.version == 2


def test_planned_interaction_edit_changes_due_and_assignee(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    task = services.interaction_create(
        user=org.rep,
        data={
            "kind": "task",
            "planned": True,
            "due_at": timezone.now() + timedelta(days=1),
            "subject": "Send proposal",
            "contact_id": contact.pk,
        },
    )

    response = login(org.rep).post(
        f"/interactions/{task.pk}/edit/",
        {
            "version": task.version,
            "subject": "Send proposal v2",
            "due_at": "2026-12-01T09:00",
            "assignee_id": org.rep_peer.pk,
        },
        **HTMX,
    )

    assert response.status_code == 200
    task.refresh_from_db()
    assert task.subject == "Send proposal v2"
    assert task.assignee == org.rep_peer
    assert timezone.localtime(task.due_at).strftime("%Y-%m-%dT%H:%M") == "2026-12-01T09:00"
    assert task.occurred_at == task.due_at


def test_interaction_edit_validation_error_keeps_form(org, login, call):
    response = login(org.rep).post(
        f"/interactions/{call.pk}/edit/",
        {"version": call.version, "subject": "x", "occurred_at": "", "duration_minutes": "5"},
        **HTMX,
    )

    assert response.status_code == 200
    assert "has-error" in response.content.decode()
    call.refresh_from_db()
    assert call.version == 1


def test_interaction_edit_stale_version_shows_conflict(org, login, call):
    services.interaction_update(user=org.rep, interaction=call, data={"subject": "Newer"})

    response = login(org.rep).post(
        f"/interactions/{call.pk}/edit/",
        {"version": 1, "subject": "Mine", "occurred_at": "2026-03-02T10:30"},
        **HTMX,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "changed by someone else" in page
    assert 'value="Newer"' in page
    assert 'name="version" value="2"' in page
    call.refresh_from_db()
    assert (call.subject, call.version) == ("Newer", 2)


@pytest.mark.parametrize("action", ["edit", "delete"])
@pytest.mark.parametrize("role", ["analyst", "marketer"])
def test_interaction_change_by_reader_is_forbidden(org, login, call, role, action):
    subject = call.subject

    response = login(getattr(org, role)).post(
        f"/interactions/{call.pk}/{action}/",
        {"version": call.version, "subject": "Hacked", "occurred_at": "2026-03-02T10:30"},
        **HTMX,
    )

    assert response.status_code == 403
    call.refresh_from_db()
    assert (call.subject, call.version) == (subject, 1)


def test_interaction_of_hidden_record_is_not_found(org, login, call):
    response = login(org.other_rep).post(f"/interactions/{call.pk}/delete/", {"version": 1})

    assert response.status_code == 404
    assert Interaction.objects.filter(pk=call.pk).exists()


def test_interaction_delete_asks_then_deletes(org, login, call):
    client = login(org.rep)

    question = client.get(f"/interactions/{call.pk}/delete/?entity=contact", **HTMX)
    response = client.post(f"/interactions/{call.pk}/delete/", {"version": 1}, **HTMX)

    assert "Delete this entry from the timeline?" in question.content.decode()
    assert Interaction.objects.filter(pk=call.pk).exists() is False
    assert response.content == b""
    assert response["HX-Trigger"] == "timeline-changed"
    audit = AuditLog.objects.get(entity="interaction", object_id=call.pk)
    assert audit.action == AuditLog.Action.DELETE


def test_interaction_delete_stale_version_keeps_entry(org, login, call):
    services.interaction_update(user=org.rep, interaction=call, data={"subject": "Newer"})

    response = login(org.rep).post(f"/interactions/{call.pk}/delete/", {"version": 1}, **HTMX)

    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    assert Interaction.objects.filter(pk=call.pk).exists()


# --- changing the owner from the edit form ------------------------------------------------


def _contact_post(contact, owner_id):
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "lifecycle_stage": contact.lifecycle_stage,
        "owner_id": owner_id,
        "emails": contact.emails,
        "phones": contact.phones,
        "version": contact.version,
    }


def test_head_reassigns_reps_contact_to_another_rep(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = login(org.head).post(
        f"/contacts/{contact.pk}/edit/", _contact_post(contact, org.other_rep.pk)
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.owner == org.other_rep


def test_rep_cannot_assign_owner_outside_their_scope(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/edit/", _contact_post(contact, org.other_rep.pk)
    )

    assert response.status_code == 422
    assert "You can only assign records to yourself or your team." in response.content.decode()
    contact.refresh_from_db()
    assert contact.owner == org.rep
