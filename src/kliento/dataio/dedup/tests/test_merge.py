"""Merging two records and undoing it: every related row moves, undo restores exactly."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kliento.core.errors import ConflictError, NotFoundError, PermissionDeniedError
from kliento.core.models import AuditLog
from kliento.customers.models import (
    Company,
    Consent,
    Contact,
    ContactCompany,
    Interaction,
    RecordShare,
    SearchEntry,
)
from kliento.dataio.dedup.models import DuplicatePair, MergeRecord
from kliento.dataio.dedup.services import (
    company_merge,
    contact_merge,
    merge_undo,
    pair_dismiss,
    pair_merge,
)
from kliento.sales.deals.models import Deal, Pipeline, Stage
from kliento.sales.leads.models import Lead
from kliento.sales.orders.models import Order


def _state(*contacts):
    """Everything a merge touches, as plain values, to compare before and after undo."""
    ids = [c.pk for c in contacts]
    return {
        "contacts": sorted(Contact.objects.filter(pk__in=ids).values_list()),
        "interactions": sorted(
            Interaction.objects.filter(contact_id__in=ids).values_list("id", "contact_id")
        ),
        "consents": sorted(
            Consent.objects.filter(contact_id__in=ids).values_list(
                "id", "contact_id", "channel", "status", "at"
            )
        ),
        "links": sorted(
            ContactCompany.objects.filter(contact_id__in=ids).values_list(
                "id", "contact_id", "company_id", "role"
            )
        ),
        "shares": sorted(
            RecordShare.objects.filter(entity="contact", object_id__in=ids).values_list(
                "id", "object_id", "user_id", "can_edit"
            )
        ),
        "deals": sorted(Deal.objects.filter(contact_id__in=ids).values_list("id", "contact_id")),
        "orders": sorted(Order.objects.filter(contact_id__in=ids).values_list("id", "contact_id")),
        "leads": sorted(Lead.objects.filter(contact_id__in=ids).values_list("id", "contact_id")),
        "search": sorted(
            SearchEntry.objects.filter(entity="contact", object_id__in=ids).values_list(
                "object_id", "title"
            )
        ),
    }


@pytest.fixture
def loaded(org, twin_contacts, company_factory, interaction_factory):
    """The two Ivans, the second with history of every kind."""
    survivor, other = twin_contacts
    acme = company_factory(owner=org.rep, name="Acme")
    globex = company_factory(owner=org.rep, name="Globex")
    ContactCompany.objects.create(contact=survivor, company=acme, role="buyer")
    ContactCompany.objects.create(contact=other, company=acme, role="boss")
    ContactCompany.objects.create(contact=other, company=globex, role="advisor")
    for n in range(3):
        interaction_factory(contact=other, user=org.rep, subject=f"Call {n}")
    interaction_factory(contact=survivor, user=org.rep, subject="Mine")
    now = timezone.now()
    Consent.objects.create(
        contact=survivor, channel="email", status="opt_in", at=now - timedelta(days=9)
    )
    Consent.objects.create(
        contact=other, channel="email", status="opt_out", at=now - timedelta(days=1)
    )
    Consent.objects.create(contact=other, channel="sms", status="opt_in", at=now)
    Consent.objects.create(contact=survivor, channel="phone", status="opt_in", at=now)
    Consent.objects.create(
        contact=other, channel="phone", status="opt_out", at=now - timedelta(days=30)
    )
    RecordShare.objects.create(entity="contact", object_id=other.pk, user=org.rep_peer)
    RecordShare.objects.create(entity="contact", object_id=other.pk, user=org.other_rep)
    RecordShare.objects.create(entity="contact", object_id=survivor.pk, user=org.other_rep)
    pipe = Pipeline.objects.create(name="Sales", position=0, is_default=True)
    stage = Stage.objects.create(pipeline=pipe, name="New", position=0, probability=10)
    deal = Deal.objects.create(
        name="Big deal",
        pipeline=pipe,
        stage=stage,
        contact=other,
        owner=org.rep,
        amount=Decimal("10"),
        amount_company=Decimal("10"),
        currency="RUB",
    )
    Order.objects.create(number="O-1", contact=other, owner=org.rep, currency="RUB", deal=deal)
    Lead.objects.create(first_name="Ivan", contact=other, owner=org.rep)
    return survivor, other


def test_merge_moves_every_related_record(org, loaded):
    survivor, other = loaded
    other_id = other.pk

    record = contact_merge(user=org.rep, survivor=survivor, other=other, field_choices={})

    assert not Contact.objects.filter(pk=other_id).exists()
    assert Interaction.objects.filter(contact=survivor, subject__startswith="Call").count() == 3
    assert Deal.objects.get().contact_id == survivor.pk
    assert Order.objects.get().contact_id == survivor.pk
    assert Lead.objects.get().contact_id == survivor.pk
    assert sorted(survivor.company_links.values_list("company__name", "role")) == [
        ("Acme", "buyer"),
        ("Globex", "advisor"),
    ]
    consents = dict(Consent.objects.filter(contact=survivor).values_list("channel", "status"))
    # The most recent decision per channel wins.
    assert consents == {"email": "opt_out", "sms": "opt_in", "phone": "opt_in"}
    assert sorted(
        RecordShare.objects.filter(entity="contact", object_id=survivor.pk).values_list(
            "user__username", flat=True
        )
    ) == ["other_rep", "rep_peer"]
    assert not SearchEntry.objects.filter(entity="contact", object_id=other_id).exists()
    assert record.moved["customers.Interaction.contact"]
    assert record.moved["orders.Order.contact"] == [Order.objects.get().pk]


def test_merge_combines_fields(org, loaded):
    survivor, other = loaded

    contact_merge(user=org.rep, survivor=survivor, other=other)

    survivor.refresh_from_db()
    # By default the newest non-empty value wins: `other` was entered later.
    assert (survivor.first_name, survivor.last_name) == ("Ivan", "Petrov")
    assert survivor.emails == ["ivan.petrov@gmail.com", "ivanpetrov@gmail.com", "ivan@work.example"]
    assert survivor.email == "ivan.petrov@gmail.com"
    assert survivor.city == "Москва"
    assert survivor.custom == {"source": "expo"}
    assert survivor.version == 2


def test_merge_keeps_the_survivors_names_when_the_other_has_them_swapped(org, contact_factory):
    survivor = contact_factory(owner=org.rep, first_name="Ольга", last_name="Смирнова")
    other = contact_factory(owner=org.rep, first_name="Smirnova", last_name="Olga")

    contact_merge(user=org.rep, survivor=survivor, other=other)

    survivor.refresh_from_db()
    # Not "Smirnova Olga", nor "Smirnova Смирнова": the newer record's order is no better.
    assert (survivor.first_name, survivor.last_name) == ("Ольга", "Смирнова")


def test_merge_keeps_the_survivors_owner(org, contact_factory):
    survivor = contact_factory(owner=org.rep, first_name="Иван", last_name="Иванов")
    other = contact_factory(owner=org.admin, first_name="Ivan", last_name="Ivanov")

    contact_merge(user=org.admin, survivor=survivor, other=other)

    survivor.refresh_from_db()
    assert survivor.owner_id == org.rep.pk


def test_field_choices_override_the_defaults(org, loaded):
    survivor, other = loaded

    contact_merge(
        user=org.rep,
        survivor=survivor,
        other=other,
        field_choices={"first_name": "survivor", "last_name": "survivor", "emails": "survivor"},
    )

    survivor.refresh_from_db()
    assert (survivor.first_name, survivor.last_name) == ("Иван", "Петров")
    assert survivor.emails == ["ivan.petrov@gmail.com"]


def test_merge_is_audited_and_noted_on_the_timeline(org, loaded):
    survivor, other = loaded
    other_id = other.pk

    contact_merge(user=org.rep, survivor=survivor, other=other)

    entry = AuditLog.objects.get(action="merge")
    assert (entry.entity, entry.object_id, entry.user) == ("contact", survivor.pk, org.rep)
    assert entry.changes["merged"] == [other_id, survivor.pk]
    note = Interaction.objects.get(contact=survivor, kind="note")
    assert f"#{other_id}" in note.subject


def test_undo_restores_everything_exactly(org, loaded):
    survivor, other = loaded
    before = _state(survivor, other)
    record = contact_merge(user=org.rep, survivor=survivor, other=other)

    restored = merge_undo(user=org.rep, merge=record)

    assert restored.pk == other.pk
    after = _state(survivor, other)
    # The survivor's version went up twice (merge, undo); everything else is as it was.
    version = [f.name for f in Contact._meta.concrete_fields].index("version")
    updated = [f.name for f in Contact._meta.concrete_fields].index("updated_at")
    strip = lambda rows: [r[:version] + r[version + 1 : updated] + r[updated + 1 :] for r in rows]  # noqa: E731
    assert strip(after.pop("contacts")) == strip(before.pop("contacts"))
    assert after == before
    record.refresh_from_db()
    assert record.undone_at is not None


def test_undo_twice_is_a_conflict(org, loaded):
    record = contact_merge(user=org.rep, survivor=loaded[0], other=loaded[1])
    merge_undo(user=org.rep, merge=record)
    with pytest.raises(ConflictError):
        merge_undo(user=org.rep, merge=record)


def test_pair_merge_marks_the_pair_and_undo_reopens_it(org, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)

    record = pair_merge(user=org.rep, pair=pair)

    pair.refresh_from_db()
    assert (pair.status, pair.decided_by) == ("merged", org.rep)
    assert record.survivor_id == twin_contacts[0].pk
    merge_undo(user=org.rep, merge=record)
    pair.refresh_from_db()
    assert pair.status == "open"


def test_merge_needs_write_access_to_both(org, twin_contacts):
    a, b = twin_contacts
    b.owner = org.other_rep
    b.save()

    with pytest.raises(NotFoundError):
        contact_merge(user=org.rep, survivor=a, other=b)

    RecordShare.objects.create(entity="contact", object_id=b.pk, user=org.rep, can_edit=False)
    with pytest.raises(PermissionDeniedError):
        contact_merge(user=org.rep, survivor=a, other=b)
    assert Contact.objects.filter(pk=b.pk).exists()
    assert MergeRecord.objects.count() == 0


def test_analyst_cannot_merge(org, twin_contacts):
    with pytest.raises(PermissionDeniedError):
        contact_merge(user=org.analyst, survivor=twin_contacts[0], other=twin_contacts[1])
    assert Contact.objects.count() == 2


def test_dismiss_marks_not_duplicate(org, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)

    pair_dismiss(user=org.rep, pair=pair)

    pair.refresh_from_db()
    assert (pair.status, pair.decided_by) == ("not_duplicate", org.rep)


def test_company_merge_moves_contacts_deals_and_interactions(
    org, company_factory, contact_factory, interaction_factory
):
    a = company_factory(owner=org.rep, name="ООО «Ромашка»", tax_id="7701234567")
    b = company_factory(
        owner=org.rep, name="Romashka LLC", tax_id="7701234567", website="romashka.ru"
    )
    person = contact_factory(owner=org.rep)
    both = contact_factory(owner=org.rep)
    ContactCompany.objects.create(contact=person, company=b)
    ContactCompany.objects.create(contact=both, company=a, role="a")
    ContactCompany.objects.create(contact=both, company=b, role="b")
    interaction_factory(company=b, user=org.rep)
    Order.objects.create(number="O-9", company=b, owner=org.rep, currency="RUB")
    b_id = b.pk

    record = company_merge(user=org.rep, survivor=a, other=b)

    assert not Company.objects.filter(pk=b_id).exists()
    assert sorted(a.contact_links.values_list("contact_id", "role")) == sorted(
        [(person.pk, ""), (both.pk, "a")]
    )
    assert Order.objects.get().company_id == a.pk
    a.refresh_from_db()
    assert a.website == "romashka.ru"
    merge_undo(user=org.rep, merge=record)
    assert sorted(
        ContactCompany.objects.filter(company_id=b_id).values_list("contact_id", "role")
    ) == sorted([(person.pk, ""), (both.pk, "b")])
    assert Order.objects.get().company_id == b_id
    assert DuplicatePair.objects.count() == 0
