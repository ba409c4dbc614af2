"""The real dates of a deal brought over from another system: `created_at` of deal_create and
`closed_at` of deal_win / deal_lose (imports and the system only; default now)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from kliento.core.errors import ValidationFailedError
from kliento.core.models import AuditLog
from kliento.customers.models import Interaction
from kliento.sales.deals import services
from kliento.sales.deals.models import Deal, StageChange

CREATED = dt.datetime(2023, 3, 1, 9, 0, tzinfo=dt.UTC)
CLOSED = dt.datetime(2023, 3, 11, 21, 0, tzinfo=dt.UTC)


def _create(org, rep_contact, **kwargs) -> Deal:
    return services.deal_create(
        user=org.rep, data={"name": "Old one", "contact": rep_contact.pk}, **kwargs
    )


@pytest.mark.parametrize("close", ["win", "lose"])
def test_a_deal_is_created_and_closed_on_the_given_dates(
    org, pipeline, reasons, rep_contact, close
):
    deal = _create(org, rep_contact, created_at=CREATED)
    if close == "win":
        deal = services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)
    else:
        deal = services.deal_lose(user=org.rep, deal=deal, reason=reasons[0], closed_at=CLOSED)

    deal.refresh_from_db()
    assert (deal.created_at, deal.stage_entered_at, deal.closed_at) == (CREATED, CREATED, CLOSED)
    assert deal.updated_at > CLOSED  # the record itself changed now
    changes = StageChange.objects.filter(deal=deal).order_by("at")
    assert list(changes.values_list("at", "seconds_in_from")) == [
        (CREATED, None),
        (CLOSED, 10 * 86400 + 12 * 3600),
    ]
    notes = Interaction.objects.filter(related_type="deal", related_id=deal.pk)
    assert sorted(notes.values_list("occurred_at", flat=True)) == [CREATED, CLOSED]
    audit = AuditLog.objects.filter(entity="deal", object_id=deal.pk).order_by("id")
    assert [a.changes.get("created_at", a.changes.get("closed_at")) for a in audit] == [
        [None, CREATED.isoformat()],
        [None, CLOSED.isoformat()],
    ]


def test_without_dates_the_deal_is_dated_now_and_the_audit_has_no_date(org, pipeline, rep_contact):
    before = timezone.now()
    deal = services.deal_win(user=org.rep, deal=_create(org, rep_contact))

    assert before <= deal.created_at <= deal.closed_at <= timezone.now()
    assert not any(
        {"created_at", "closed_at"} & set(a.changes)
        for a in AuditLog.objects.filter(entity="deal", object_id=deal.pk)
    )


def test_a_close_date_before_the_creation_is_refused_and_nothing_changes(
    org, pipeline, rep_contact
):
    deal = _create(org, rep_contact, created_at=CLOSED)

    with pytest.raises(ValidationFailedError) as caught:
        services.deal_win(user=org.rep, deal=deal, closed_at=CREATED)

    assert caught.value.fields == {
        "closed_at": "The deal was created on 2023-03-11 21:00, after this date."
    }
    deal.refresh_from_db()
    assert (deal.status, deal.closed_at, deal.version) == ("open", None, 1)
    assert StageChange.objects.filter(deal=deal).count() == 1


@pytest.mark.parametrize("field", ["created_at", "closed_at"])
def test_a_date_in_the_future_is_refused(org, pipeline, rep_contact, field):
    future = timezone.now() + dt.timedelta(days=1)

    with pytest.raises(ValidationFailedError) as caught:
        if field == "created_at":
            _create(org, rep_contact, created_at=future)
        else:
            services.deal_win(user=org.rep, deal=_create(org, rep_contact), closed_at=future)

    assert caught.value.fields == {field: "The date is in the future."}
    assert Deal.objects.filter(status="won").count() == 0


def _moved_at(deal: Deal) -> str:
    last = StageChange.objects.filter(deal=deal).latest("at", "id").at
    return timezone.localtime(last).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("close", ["win", "lose"])
def test_a_close_date_before_the_last_stage_change_is_refused_and_nothing_changes(
    org, pipeline, stages, reasons, rep_contact, close
):
    deal = services.deal_move(
        user=org.rep, deal=_create(org, rep_contact, created_at=CREATED), stage=stages[1]
    )

    with pytest.raises(ValidationFailedError) as caught:
        if close == "win":
            services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)
        else:
            services.deal_lose(user=org.rep, deal=deal, reason=reasons[0], closed_at=CLOSED)

    assert caught.value.fields == {
        "closed_at": f"The close date can't be before the last stage change on {_moved_at(deal)}."
    }
    deal.refresh_from_db()
    assert (deal.status, deal.closed_at, deal.loss_reason, deal.version) == ("open", None, None, 2)
    assert StageChange.objects.filter(deal=deal).count() == 2


def test_a_close_on_the_instant_of_the_last_stage_change_is_accepted(org, pipeline, rep_contact):
    deal = _create(org, rep_contact, created_at=CLOSED)

    deal = services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)

    assert (deal.status, deal.closed_at) == ("won", CLOSED)


def test_a_reopen_is_not_a_stage_change_so_a_corrected_close_date_is_accepted(
    org, pipeline, rep_contact
):
    # The import corrects a close date this way: reopen (now), close again on the new date.
    deal = services.deal_win(
        user=org.rep, deal=_create(org, rep_contact, created_at=CREATED), closed_at=CLOSED
    )
    deal = services.deal_reopen(user=org.rep, deal=deal)
    corrected = CLOSED + dt.timedelta(days=2)

    deal = services.deal_win(user=org.rep, deal=deal, closed_at=corrected)

    assert (deal.status, deal.closed_at) == ("won", corrected)


def test_the_close_date_message_is_translated(org, pipeline, stages, rep_contact):
    deal = services.deal_move(
        user=org.rep, deal=_create(org, rep_contact, created_at=CREATED), stage=stages[1]
    )

    with translation.override("ru"), pytest.raises(ValidationFailedError) as caught:
        services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)

    assert caught.value.fields == {
        "closed_at": "Дата закрытия не может быть раньше последней смены этапа "
        f"({_moved_at(deal)})."
    }
