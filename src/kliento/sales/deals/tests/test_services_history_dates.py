"""The real dates of a deal's history brought over from another system: `at` of deal_move and
deal_change_pipeline, and deal_close_date_set correcting a close date in place (imports and the
system only; default now)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from kliento.core.errors import ConflictError, NotFoundError, ValidationFailedError
from kliento.core.models import AuditLog
from kliento.customers.models import Interaction
from kliento.sales.deals import services
from kliento.sales.deals.models import Deal, StageChange

CREATED = dt.datetime(2023, 3, 1, 9, 0, tzinfo=dt.UTC)
MOVED = dt.datetime(2023, 3, 5, 9, 0, tzinfo=dt.UTC)
CLOSED = dt.datetime(2023, 3, 11, 21, 0, tzinfo=dt.UTC)


def _create(org, contact, created_at=CREATED) -> Deal:
    return services.deal_create(
        user=org.rep, data={"name": "Old one", "contact": contact.pk}, created_at=created_at
    )


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _history(deal: Deal) -> list[tuple]:
    return list(
        StageChange.objects.filter(deal=deal)
        .order_by("id")
        .values_list("at", "from_stage__name", "to_stage__name", "status", "seconds_in_from")
    )


def _move(org, deal, kind, stages, other_pipeline, at):
    if kind == "stage":
        return services.deal_move(user=org.rep, deal=deal, stage=stages[1], at=at)
    target = other_pipeline.stages.get(name="Intro")
    return services.deal_change_pipeline(user=org.rep, deal=deal, stage=target, at=at)


# --- deal_move / deal_change_pipeline with `at` -------------------------------------------------


@pytest.mark.parametrize("kind", ["stage", "pipeline"])
def test_a_move_on_a_given_date_is_dated_then_in_history_timeline_and_audit(
    org, pipeline, stages, other_pipeline, rep_contact, kind
):
    deal = _move(org, _create(org, rep_contact), kind, stages, other_pipeline, MOVED)

    deal.refresh_from_db()
    target = "Needs analysis" if kind == "stage" else "Intro"
    assert (deal.stage.name, deal.stage_entered_at, deal.version) == (target, MOVED, 2)
    assert deal.updated_at > MOVED  # the record itself changed now
    assert _history(deal) == [
        (CREATED, None, "Qualification", "open", None),
        (MOVED, "Qualification", target, "open", 4 * 86400),
    ]
    notes = Interaction.objects.filter(related_type="deal", related_id=deal.pk)
    assert sorted(notes.values_list("occurred_at", flat=True)) == [CREATED, MOVED]
    audit = AuditLog.objects.filter(entity="deal", object_id=deal.pk).latest("id")
    assert audit.changes["moved_at"] == [None, MOVED.isoformat()]


def test_a_deal_moved_and_closed_on_the_same_past_date_reads_in_order(
    org, pipeline, stages, rep_contact
):
    deal = services.deal_move(
        user=org.rep, deal=_create(org, rep_contact), stage=stages[1], at=CLOSED
    )

    deal = services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)

    assert (deal.status, deal.closed_at) == ("won", CLOSED)
    assert [row[0] for row in _history(deal)] == [CREATED, CLOSED, CLOSED]


def test_a_move_without_a_date_is_now_and_the_audit_has_no_date(org, pipeline, stages, rep_contact):
    before = timezone.now()

    deal = services.deal_move(user=org.rep, deal=_create(org, rep_contact), stage=stages[1])

    assert before <= deal.stage_entered_at <= timezone.now()
    audit = AuditLog.objects.filter(entity="deal", object_id=deal.pk).latest("id")
    assert "moved_at" not in audit.changes


@pytest.mark.parametrize("kind", ["stage", "pipeline"])
@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("future", "The date is in the future."),
        ("before_created", f"The deal was created on {_local(CREATED)}, after this date."),
        (
            "before_last_move",
            "The move can't be before the deal's previous stage change on {last}.",
        ),
    ],
)
def test_an_impossible_move_date_is_refused_and_nothing_changes(
    org, pipeline, stages, other_pipeline, rep_contact, kind, when, message
):
    deal = _create(org, rep_contact)
    if when == "before_last_move":
        deal = services.deal_move(user=org.rep, deal=deal, stage=stages[2], at=CLOSED)
    at = {
        "future": timezone.now() + dt.timedelta(days=1),
        "before_created": CREATED - dt.timedelta(minutes=1),
        "before_last_move": MOVED,
    }[when]
    history = _history(deal)

    with pytest.raises(ValidationFailedError) as caught:
        _move(org, deal, kind, stages, other_pipeline, at)

    assert caught.value.fields == {"at": message.format(last=_local(CLOSED))}
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.stage_id, fresh.pipeline_id, fresh.version) == (
        deal.stage_id,
        deal.pipeline_id,
        deal.version,
    )
    assert _history(deal) == history


def test_a_move_before_a_reopen_is_refused(org, pipeline, stages, rep_contact):
    deal = services.deal_win(user=org.rep, deal=_create(org, rep_contact), closed_at=MOVED)
    deal = services.deal_reopen(user=org.rep, deal=deal)  # now

    with pytest.raises(ValidationFailedError) as caught:
        services.deal_move(user=org.rep, deal=deal, stage=stages[1], at=CLOSED)

    assert list(caught.value.fields) == ["at"]
    assert Deal.objects.get(pk=deal.pk).stage_id == stages[0].pk


def test_the_move_date_messages_are_translated(org, pipeline, stages, rep_contact):
    deal = services.deal_move(
        user=org.rep, deal=_create(org, rep_contact), stage=stages[2], at=CLOSED
    )

    with translation.override("ru"), pytest.raises(ValidationFailedError) as caught:
        services.deal_move(user=org.rep, deal=deal, stage=stages[1], at=MOVED)

    assert caught.value.fields == {
        "at": f"Перемещение не может быть раньше предыдущей смены этапа ({_local(CLOSED)})."
    }


# --- deal_close_date_set ----------------------------------------------------------------------


@pytest.mark.parametrize("close", ["win", "lose"])
def test_a_close_date_is_corrected_in_place_without_a_reopen(
    org, pipeline, reasons, rep_contact, close
):
    deal = _create(org, rep_contact)
    if close == "win":
        deal = services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)
    else:
        deal = services.deal_lose(user=org.rep, deal=deal, reason=reasons[0], closed_at=CLOSED)
    corrected = CLOSED + dt.timedelta(days=2)

    deal = services.deal_close_date_set(user=org.rep, deal=deal, closed_at=corrected)

    deal.refresh_from_db()
    status = "won" if close == "win" else "lost"
    assert (deal.status, deal.closed_at, deal.version) == (status, corrected, 3)
    assert _history(deal) == [
        (CREATED, None, "Qualification", "open", None),
        (corrected, "Qualification", "Qualification", status, 12 * 86400 + 12 * 3600),
    ]
    notes = Interaction.objects.filter(related_type="deal", related_id=deal.pk)
    assert sorted(notes.values_list("occurred_at", flat=True)) == [CREATED, corrected]
    audit = AuditLog.objects.filter(entity="deal", object_id=deal.pk).latest("id")
    assert (audit.action, audit.changes) == (
        AuditLog.Action.UPDATE,
        {"closed_at": [CLOSED.isoformat(), corrected.isoformat()]},
    )


def test_correcting_the_close_of_a_deal_closed_on_its_creation_keeps_the_creation_note(
    org, pipeline, rep_contact
):
    deal = _create(org, rep_contact, created_at=CLOSED)
    deal = services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)
    corrected = CLOSED + dt.timedelta(hours=3)

    services.deal_close_date_set(user=org.rep, deal=deal, closed_at=corrected)

    notes = Interaction.objects.filter(related_type="deal", related_id=deal.pk).order_by("id")
    assert list(notes.values_list("occurred_at", flat=True)) == [CLOSED, corrected]


def test_the_same_close_date_changes_nothing(org, pipeline, rep_contact):
    deal = services.deal_win(user=org.rep, deal=_create(org, rep_contact), closed_at=CLOSED)
    audits = AuditLog.objects.count()

    deal = services.deal_close_date_set(user=org.rep, deal=deal, closed_at=CLOSED)

    assert (deal.closed_at, deal.version, AuditLog.objects.count()) == (CLOSED, 2, audits)


def test_an_open_deal_has_no_close_date_to_change(org, pipeline, rep_contact):
    deal = _create(org, rep_contact)

    with pytest.raises(ConflictError):
        services.deal_close_date_set(user=org.rep, deal=deal, closed_at=CLOSED)

    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.status, fresh.closed_at, fresh.version) == ("open", None, 1)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("future", "The date is in the future."),
        ("before_created", f"The deal was created on {_local(CREATED)}, after this date."),
        ("before_last_move", "The close date can't be before the last stage change on {last}."),
    ],
)
def test_an_impossible_corrected_close_date_is_refused_and_nothing_changes(
    org, pipeline, stages, rep_contact, when, message
):
    deal = services.deal_move(
        user=org.rep, deal=_create(org, rep_contact), stage=stages[1], at=MOVED
    )
    deal = services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)
    at = {
        "future": timezone.now() + dt.timedelta(days=1),
        "before_created": CREATED - dt.timedelta(minutes=1),
        "before_last_move": MOVED - dt.timedelta(minutes=1),
    }[when]
    history = _history(deal)

    with pytest.raises(ValidationFailedError) as caught:
        services.deal_close_date_set(user=org.rep, deal=deal, closed_at=at)

    assert caught.value.fields == {"closed_at": message.format(last=_local(MOVED))}
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.closed_at, fresh.version) == (CLOSED, 3)
    assert _history(deal) == history


def test_a_rep_cannot_correct_the_close_date_of_another_teams_deal(org, pipeline, rep_contact):
    deal = services.deal_win(user=org.rep, deal=_create(org, rep_contact), closed_at=CLOSED)

    with pytest.raises(NotFoundError):
        services.deal_close_date_set(user=org.other_rep, deal=deal, closed_at=MOVED)

    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.closed_at, fresh.version) == (CLOSED, 2)


def test_the_corrected_close_date_messages_are_translated(org, pipeline, rep_contact):
    deal = services.deal_win(user=org.rep, deal=_create(org, rep_contact), closed_at=CLOSED)

    with translation.override("ru"), pytest.raises(ConflictError) as caught:
        services.deal_close_date_set(
            user=org.rep, deal=services.deal_reopen(user=org.rep, deal=deal), closed_at=CLOSED
        )

    assert caught.value.message == "Сделка открыта, у неё нет даты закрытия."
