from datetime import timedelta

import pytest
from django.utils import timezone

from kliento.core.errors import BadCursorError, NotFoundError, ValidationFailedError
from kliento.core.services import org_settings_update
from kliento.customers import selectors, services


def _ids(page):
    return [c.pk for c in page.items]


@pytest.fixture
def records(org, contact_factory):
    own = contact_factory(owner=org.rep)
    peer = contact_factory(owner=org.rep_peer)
    other = contact_factory(owner=org.other_rep)
    shared = contact_factory(owner=org.other_rep)
    services.record_share(
        user=org.other_rep, entity="contact", obj=shared, target=org.rep, can_edit=False
    )
    return {"own": own, "peer": peer, "other": other, "shared": shared}


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("admin", {"own", "peer", "other", "shared"}),
        ("analyst", {"own", "peer", "other", "shared"}),
        ("marketer", {"own", "peer", "other", "shared"}),
        ("support", {"own", "peer", "other", "shared"}),
        ("head", {"own", "peer", "other", "shared"}),
        ("rep", {"own", "shared"}),
        ("rep_peer", {"peer"}),
        ("other_rep", {"other", "shared"}),
    ],
)
def test_contact_list_shows_exactly_the_visible_records(org, records, role, visible):
    page = selectors.contact_list(user=org.users[role], limit=200)
    assert set(_ids(page)) == {records[k].pk for k in visible}


def test_team_sharing_switch_lets_reps_see_their_team(org, records):
    org_settings_update(actor=org.admin, team_sharing=True)
    rep = type(org.rep).objects.get(pk=org.rep.pk)  # fresh object: scope is cached per user
    assert set(_ids(selectors.contact_list(user=rep))) == {
        records["own"].pk,
        records["peer"].pk,
        records["shared"].pk,
    }


def test_hidden_contact_answers_not_found(org, records):
    with pytest.raises(NotFoundError):
        selectors.contact_get_for_user(user=org.rep, pk=records["other"].pk)
    with pytest.raises(NotFoundError):
        selectors.contact_get_for_user(user=org.rep, pk=999999)


def test_keyset_pagination_walks_forward_and_back(org, contact_factory):
    for i in range(7):
        contact_factory(owner=org.rep, last_name=f"N{i}", first_name="A")
    first = selectors.contact_list(user=org.rep, sort="name", limit=3)
    second = selectors.contact_list(user=org.rep, sort="name", limit=3, cursor=first.next_cursor)
    third = selectors.contact_list(user=org.rep, sort="name", limit=3, cursor=second.next_cursor)
    names = [c.last_name for p in (first, second, third) for c in p.items]
    assert names == [f"N{i}" for i in range(7)]
    assert third.next_cursor is None and first.prev_cursor is None
    back = selectors.contact_list(user=org.rep, sort="name", limit=3, cursor=third.prev_cursor)
    assert [c.last_name for c in back.items] == ["N3", "N4", "N5"]
    desc = selectors.contact_list(user=org.rep, sort="-name", limit=2)
    assert [c.last_name for c in desc.items] == ["N6", "N5"]


def test_bad_cursor_and_bad_filters_are_named(org):
    with pytest.raises(BadCursorError):
        selectors.contact_list(user=org.rep, cursor="garbage")
    with pytest.raises(ValidationFailedError) as exc:
        selectors.contact_list(user=org.rep, filters={"stage": "vip", "colour": "red"}, sort="name")
    assert set(exc.value.fields) == {"stage", "colour"}
    with pytest.raises(ValidationFailedError) as exc:
        selectors.contact_list(user=org.rep, sort="shoe_size")
    assert set(exc.value.fields) == {"sort"}


def test_filters_by_stage_tag_and_custom_field(org):
    from kliento.core.services import custom_field_create

    custom_field_create(
        actor=org.admin, entity="contact", label="Tier", type="choice", choices=["gold", "silver"]
    )
    gold = services.contact_create(
        user=org.rep,
        data={
            "first_name": "G",
            "lifecycle_stage": "customer",
            "tags": ["VIP"],
            "custom": {"tier": "gold"},
        },
    )
    services.contact_create(user=org.rep, data={"first_name": "S", "custom": {"tier": "silver"}})
    assert _ids(selectors.contact_list(user=org.rep, filters={"stage": "customer"})) == [gold.pk]
    assert _ids(selectors.contact_list(user=org.rep, filters={"tag": "vip"})) == [gold.pk]
    assert _ids(selectors.contact_list(user=org.rep, filters={"custom.tier": "gold"})) == [gold.pk]


def test_company_timeline_includes_its_contacts(org):
    company = services.company_create(user=org.rep, data={"name": "Acme"})
    contact = services.contact_create(
        user=org.rep, data={"first_name": "P", "companies": [{"company_id": company.pk}]}
    )
    now = timezone.now()
    a = services.interaction_create(
        user=org.rep,
        data={"kind": "call", "contact_id": contact.pk, "occurred_at": now - timedelta(hours=2)},
    )
    b = services.interaction_create(
        user=org.rep,
        data={"kind": "meeting", "company_id": company.pk, "occurred_at": now - timedelta(hours=1)},
    )
    page = selectors.timeline(user=org.rep, company=company)
    assert [i.pk for i in page.items] == [b.pk, a.pk]
    only_calls = selectors.timeline(user=org.rep, company=company, filters={"kind": "call"})
    assert [i.pk for i in only_calls.items] == [a.pk]


def test_timeline_pages_without_offset(org, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    now = timezone.now()
    made = [
        interaction_factory(contact=contact, user=org.rep, occurred_at=now - timedelta(minutes=i))
        for i in range(5)
    ]
    first = selectors.timeline(user=org.rep, contact=contact, limit=2)
    second = selectors.timeline(user=org.rep, contact=contact, limit=2, cursor=first.next_cursor)
    third = selectors.timeline(user=org.rep, contact=contact, limit=2, cursor=second.next_cursor)
    seen = [i.pk for p in (first, second, third) for i in p.items]
    assert seen == [m.pk for m in made]


def test_who_worked_with_counts_users_and_last_touch(org, contact_factory, interaction_factory):
    contact = contact_factory(owner=org.rep)
    now = timezone.now()
    interaction_factory(contact=contact, user=org.rep, occurred_at=now - timedelta(days=3))
    interaction_factory(contact=contact, user=org.rep, occurred_at=now - timedelta(days=1))
    interaction_factory(contact=contact, user=org.support, occurred_at=now - timedelta(days=2))
    rows = selectors.who_worked_with(contact=contact)
    assert [(r["user"], r["count"]) for r in rows] == [(org.rep, 2), (org.support, 1)]
    assert rows[0]["last_at"] == now - timedelta(days=1)


def test_my_tasks_are_grouped(org, contact_factory):
    contact = contact_factory(owner=org.rep)
    now = timezone.now()

    def plan(delta):
        return services.interaction_create(
            user=org.rep, data={"planned": True, "contact_id": contact.pk, "due_at": now + delta}
        )

    overdue, upcoming = plan(timedelta(days=-1)), plan(timedelta(days=3))
    tasks = selectors.my_tasks(user=org.rep)
    assert [t.pk for t in tasks["overdue"]] == [overdue.pk]
    assert [t.pk for t in tasks["upcoming"]] == [upcoming.pk]
    assert selectors.my_tasks(user=org.rep_peer) == {"overdue": [], "today": [], "upcoming": []}


def test_company_timeline_hides_interactions_of_contacts_the_user_cannot_see(org):
    company = services.company_create(user=org.rep, data={"name": "Acme"})
    services.record_share(user=org.rep, entity="company", obj=company, target=org.other_rep)
    theirs = services.contact_create(
        user=org.other_rep, data={"first_name": "Secret", "companies": [{"company_id": company.pk}]}
    )
    hidden = services.interaction_create(
        user=org.other_rep, data={"kind": "call", "contact_id": theirs.pk, "subject": "private"}
    )
    seen_by_owner = selectors.timeline(user=org.other_rep, company=company)
    assert [i.pk for i in seen_by_owner.items] == [hidden.pk]
    assert selectors.timeline(user=org.rep, company=company).items == []


def test_recent_activity_includes_shared_records(org, contact_factory, interaction_factory):
    shared = contact_factory(owner=org.other_rep)
    services.record_share(user=org.other_rep, entity="contact", obj=shared, target=org.rep)
    hidden = contact_factory(owner=org.other_rep)
    on_shared = interaction_factory(contact=shared, user=org.other_rep)
    interaction_factory(contact=hidden, user=org.other_rep)
    assert [i.pk for i in selectors.recent_activity(user=org.rep)] == [on_shared.pk]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"owner_id": "9" * 30}, "owner_id"),
        ({"company_id": "9" * 30}, "company_id"),
        ({"created_after": "2024-02-30T10:00:00"}, "created_after"),
        ({"created_before": "2024-13-01"}, "created_before"),
    ],
)
def test_out_of_range_filters_are_named_not_crashing(org, filters, field):
    with pytest.raises(ValidationFailedError) as exc:
        selectors.contact_list(user=org.rep, filters=filters)
    assert set(exc.value.fields) == {field}
