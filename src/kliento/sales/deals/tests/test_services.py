"""Deal services: validation, moves and their history, closing, products, pipeline admin."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kliento.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog
from kliento.customers.models import Interaction
from kliento.sales.catalog.models import CurrencyRate
from kliento.sales.deals import services
from kliento.sales.deals.models import Deal, DealProduct, LossReason, Pipeline, Stage, StageChange

# --- create -------------------------------------------------------------------------------


def test_create_defaults_to_the_default_pipeline_first_stage_company_currency_and_owner(
    org, pipeline, stages
):
    deal = services.deal_create(user=org.rep, data={"name": "Licences", "amount": "1500.5"})
    assert (deal.pipeline_id, deal.stage_id, deal.currency, deal.owner_id) == (
        pipeline.pk,
        stages[0].pk,
        "RUB",
        org.rep.pk,
    )
    assert (deal.amount, deal.amount_company, deal.status, deal.version) == (
        Decimal("1500.50"),
        Decimal("1500.50"),
        "open",
        1,
    )


def test_create_records_the_first_stage_change_audit_and_timeline(
    org, pipeline, stages, rep_contact
):
    deal = services.deal_create(user=org.rep, data={"name": "X", "contact": rep_contact.pk})
    change = StageChange.objects.get(deal=deal)
    assert (change.from_stage_id, change.to_stage_id, change.status, change.user_id) == (
        None,
        stages[0].pk,
        "open",
        org.rep.pk,
    )
    assert AuditLog.objects.filter(entity="deal", object_id=deal.pk, action="create").count() == 1
    note = Interaction.objects.get(related_type="deal", related_id=deal.pk)
    assert (note.contact_id, note.user_id, note.subject) == (
        rep_contact.pk,
        org.rep.pk,
        "Deal created: X (Qualification)",
    )


def test_create_converts_a_foreign_amount_at_the_rate_of_the_day(org, pipeline):
    CurrencyRate.objects.create(
        currency="USD", rate=Decimal("90.5"), valid_from=dt.date(2020, 1, 1)
    )
    deal = services.deal_create(
        user=org.rep, data={"name": "Export", "amount": "100", "currency": "usd"}
    )
    assert (deal.currency, deal.amount_company) == ("USD", Decimal("9050.00"))


def test_create_in_a_currency_without_a_rate_names_the_currency_field(org, pipeline):
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_create(user=org.rep, data={"name": "X", "amount": "1", "currency": "EUR"})
    assert list(exc.value.fields) == ["currency"]
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "X", "amount": "-1"}, "amount"),
        ({"name": "X", "amount": "ten"}, "amount"),
        ({"name": "X", "currency": "RUBLES"}, "currency"),
        ({"name": "X", "expected_close": "31.12.2026"}, "expected_close"),
        ({"name": "X", "owner": 999999}, "owner"),
        ({"name": "X", "forecast_category": "maybe"}, "forecast_category"),
        ({"name": "X", "colour": "red"}, "colour"),
    ],
)
def test_create_rejects_bad_fields_by_name(org, pipeline, data, field):
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_create(user=org.rep, data=data)
    assert field in exc.value.fields
    assert not Deal.objects.exists()


def test_create_with_a_stage_of_another_pipeline_is_invalid(org, pipeline, other_pipeline):
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_create(
            user=org.rep,
            data={"name": "X", "pipeline": pipeline.pk, "stage": other_pipeline.stages.first().pk},
        )
    assert list(exc.value.fields) == ["stage"]


def test_create_with_only_a_stage_takes_its_pipeline(org, pipeline, other_pipeline):
    stage = other_pipeline.stages.order_by("position").last()
    deal = services.deal_create(user=org.rep, data={"name": "X", "stage": stage.pk})
    assert (deal.pipeline_id, deal.stage_id) == (other_pipeline.pk, stage.pk)


def test_create_for_a_customer_the_user_cannot_see_says_it_does_not_exist(
    org, pipeline, contact_factory
):
    hidden = contact_factory(owner=org.other_rep)
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_create(user=org.rep, data={"name": "X", "contact": hidden.pk})
    assert exc.value.fields == {"contact": f"No contact with id {hidden.pk}."}


def test_a_rep_cannot_give_a_deal_to_another_team(org, pipeline):
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_create(user=org.rep, data={"name": "X", "owner": org.other_rep.pk})
    assert list(exc.value.fields) == ["owner"]


def test_a_head_can_give_a_deal_to_a_rep_of_the_subtree(org, pipeline):
    deal = services.deal_create(user=org.head, data={"name": "X", "owner": org.other_rep.pk})
    assert deal.owner_id == org.other_rep.pk


def test_an_analyst_cannot_create_deals(org, pipeline):
    with pytest.raises(PermissionDeniedError):
        services.deal_create(user=org.analyst, data={"name": "X"})
    assert not Deal.objects.exists()


# --- update and delete --------------------------------------------------------------------


def test_update_with_a_stale_version_changes_nothing(org, pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(StaleVersionError):
        services.deal_update(user=org.rep, deal=deal, data={"name": "New"}, expected_version=7)
    deal.refresh_from_db()
    assert (deal.name, deal.version) == (deal.name, 1)
    assert not AuditLog.objects.filter(entity="deal").exists()


def test_update_recomputes_the_company_amount_and_audits_the_diff(org, pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, amount=Decimal("10"))
    deal = services.deal_update(user=org.rep, deal=deal, data={"amount": "250"}, expected_version=1)
    assert (deal.amount_company, deal.version) == (Decimal("250.00"), 2)
    audit = AuditLog.objects.get(entity="deal", object_id=deal.pk)
    assert audit.changes == {"amount": ["10.00", "250.00"]}


def test_update_of_the_stage_is_a_recorded_move(org, pipeline, stages, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    services.deal_update(user=org.rep, deal=deal, data={"stage": stages[1].pk})
    change = StageChange.objects.get(deal=deal)
    assert (change.from_stage_id, change.to_stage_id) == (stages[0].pk, stages[1].pk)


def test_update_cannot_change_the_pipeline(org, pipeline, other_pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_update(user=org.rep, deal=deal, data={"pipeline": other_pipeline.pk})
    assert list(exc.value.fields) == ["pipeline"]


def test_update_by_a_peer_without_a_share_is_not_found(org, pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(NotFoundError):
        services.deal_update(user=org.other_rep, deal=deal, data={"name": "Mine"})
    deal.refresh_from_db()
    assert deal.version == 1


def test_delete_removes_the_deal_and_keeps_the_timeline(org, pipeline, deal_factory, rep_contact):
    deal = services.deal_create(user=org.rep, data={"name": "X", "contact": rep_contact.pk})
    services.deal_delete(user=org.rep, deal=deal, expected_version=1)
    assert not Deal.objects.exists()
    assert list(Interaction.objects.values_list("subject", "related_id")) == [
        ("Deal created: X (Qualification)", None),
        ("Deal deleted: X", None),
    ]


# --- moves --------------------------------------------------------------------------------


def test_move_records_from_to_time_spent_and_resets_the_stage_clock(
    org, pipeline, stages, deal_factory, rep_company
):
    entered = timezone.now() - dt.timedelta(days=3, hours=2)
    deal = deal_factory(
        owner=org.rep, pipeline=pipeline, stage_entered_at=entered, company=rep_company
    )
    moved = services.deal_move(user=org.rep, deal=deal, stage=stages[2], expected_version=1)
    change = StageChange.objects.get(deal=deal)
    assert (change.from_stage_id, change.to_stage_id, change.status, change.user_id) == (
        stages[0].pk,
        stages[2].pk,
        "open",
        org.rep.pk,
    )
    assert 3 * 86400 + 7200 <= change.seconds_in_from < 3 * 86400 + 7260
    assert moved.stage_entered_at == change.at
    assert (moved.version, moved.days_in_stage) == (2, 0)
    note = Interaction.objects.get(related_type="deal")
    assert (note.company_id, note.contact_id, note.subject) == (
        rep_company.pk,
        None,
        f"Deal {deal.name} moved: Qualification → Proposal",
    )


def test_move_to_a_stage_of_another_pipeline_is_a_bad_request(
    org, pipeline, other_pipeline, deal_factory
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(BadRequestError):
        services.deal_move(user=org.rep, deal=deal, stage=other_pipeline.stages.first())
    deal.refresh_from_db()
    assert (deal.stage.pipeline_id, deal.version) == (pipeline.pk, 1)
    assert not StageChange.objects.exists()


def test_move_with_a_stale_version_changes_nothing(org, pipeline, stages, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(StaleVersionError):
        services.deal_move(user=org.rep, deal=deal, stage=stages[1], expected_version=2)
    assert not StageChange.objects.exists()


def test_move_of_a_closed_deal_is_a_conflict(org, pipeline, stages, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, status="won")
    with pytest.raises(ConflictError):
        services.deal_move(user=org.rep, deal=deal, stage=stages[1])


def test_move_to_the_same_stage_records_nothing(org, pipeline, stages, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    services.deal_move(user=org.rep, deal=deal, stage=stages[0].pk)
    assert not StageChange.objects.exists()


def test_an_analyst_cannot_move_a_deal(org, pipeline, stages, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(PermissionDeniedError):
        services.deal_move(user=org.analyst, deal=deal, stage=stages[1])
    assert not StageChange.objects.exists()


def test_moving_to_another_pipeline_explicitly(org, pipeline, other_pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    target = other_pipeline.stages.order_by("position").last()
    moved = services.deal_change_pipeline(user=org.rep, deal=deal, stage=target.pk)
    assert (moved.pipeline_id, moved.stage_id) == (other_pipeline.pk, target.pk)
    change = StageChange.objects.get(deal=deal)
    assert (change.pipeline_id, change.to_stage_id) == (other_pipeline.pk, target.pk)


# --- closing ------------------------------------------------------------------------------


def test_win_closes_and_records_a_won_change(org, pipeline, stages, deal_factory, rep_contact):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, contact=rep_contact)
    won = services.deal_win(user=org.rep, deal=deal, expected_version=1)
    assert (won.status, won.version, won.closed_at is not None) == ("won", 2, True)
    change = StageChange.objects.get(deal=deal)
    assert (change.status, change.from_stage_id, change.to_stage_id, change.at) == (
        "won",
        stages[0].pk,
        stages[0].pk,
        won.closed_at,
    )
    assert Interaction.objects.get(related_type="deal").subject.startswith("Deal won:")


def test_win_twice_is_a_conflict(org, pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    services.deal_win(user=org.rep, deal=deal)
    with pytest.raises(ConflictError):
        services.deal_win(user=org.rep, deal=deal)
    assert StageChange.objects.count() == 1


def test_lose_needs_a_reason(org, pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_lose(user=org.rep, deal=deal, reason=None)
    assert list(exc.value.fields) == ["reason"]
    deal.refresh_from_db()
    assert deal.status == "open"


def test_lose_keeps_the_reason_and_note(org, pipeline, deal_factory, reasons, rep_contact):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, contact=rep_contact)
    lost = services.deal_lose(user=org.rep, deal=deal, reason=reasons[1].pk, note="Cheaper")
    assert (lost.status, lost.loss_reason_id, lost.loss_note) == ("lost", reasons[1].pk, "Cheaper")
    assert StageChange.objects.get(deal=deal).status == "lost"
    note = Interaction.objects.get(related_type="deal")
    assert (note.subject, note.body) == (f"Deal lost: {deal.name} (Chose a competitor)", "Cheaper")


def test_reopen_clears_the_loss_and_restarts_the_stage_clock(org, pipeline, deal_factory, reasons):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    deal = services.deal_lose(user=org.rep, deal=deal, reason=reasons[0])
    reopened = services.deal_reopen(user=org.rep, deal=deal, expected_version=2)
    assert (reopened.status, reopened.closed_at, reopened.loss_reason_id, reopened.loss_note) == (
        "open",
        None,
        None,
        "",
    )
    assert list(StageChange.objects.values_list("status", flat=True)) == ["lost", "open"]


# --- products -----------------------------------------------------------------------------


def test_a_product_takes_its_price_from_the_deals_price_list(
    org, pipeline, deal_factory, price_list, products
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, price_list=price_list)
    line = services.deal_product_add(
        user=org.rep, deal=deal, product=products[1].pk, quantity="3", recompute=True
    )
    assert (line.price, line.quantity) == (Decimal("2000.00"), Decimal("3.000"))
    deal.refresh_from_db()
    assert (deal.amount, deal.amount_company, deal.version) == (
        Decimal("6000.00"),
        Decimal("6000.00"),
        2,
    )


def test_a_given_price_wins_and_the_amount_stays_unless_asked(
    org, pipeline, deal_factory, price_list, products
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, price_list=price_list)
    line = services.deal_product_add(
        user=org.rep, deal=deal, product=products[0], quantity=2, price="950"
    )
    assert line.price == Decimal("950.00")
    deal.refresh_from_db()
    assert deal.amount == Decimal("1000.00")


@pytest.mark.parametrize(("quantity", "field"), [("0", "quantity"), ("-2", "quantity")])
def test_a_product_needs_a_positive_quantity(
    org, pipeline, deal_factory, products, quantity, field
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_product_add(user=org.rep, deal=deal, product=products[0], quantity=quantity)
    assert list(exc.value.fields) == [field]
    assert not DealProduct.objects.exists()


def test_an_inactive_product_cannot_be_added(org, pipeline, deal_factory, products):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    with pytest.raises(ValidationFailedError) as exc:
        services.deal_product_add(user=org.rep, deal=deal, product=products[3])
    assert list(exc.value.fields) == ["product"]


def test_removing_a_product_recomputes_the_amount(org, pipeline, deal_factory, products):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    first = services.deal_product_add(user=org.rep, deal=deal, product=products[0], price="100")
    services.deal_product_add(user=org.rep, deal=deal, product=products[1], price="40")
    services.deal_product_remove(user=org.rep, deal=deal, line_id=first.pk, recompute=True)
    deal.refresh_from_db()
    assert (deal.amount, DealProduct.objects.count()) == (Decimal("40.00"), 1)


# --- pipelines, stages, loss reasons ------------------------------------------------------


def test_admin_creates_a_pipeline_with_ordered_stages(org):
    pipeline = services.pipeline_create(
        user=org.admin,
        data={
            "name": "Tenders",
            "stages": ["Bid", {"name": "Won tender", "probability": 80, "expected_days": 30}],
        },
    )
    assert pipeline.is_default  # the first pipeline becomes the default
    assert list(
        pipeline.stages.values_list("name", "position", "probability", "expected_days")
    ) == [
        ("Bid", 0, 10, None),
        ("Won tender", 1, 80, 30),
    ]


def test_a_rep_cannot_change_pipelines(org, pipeline):
    with pytest.raises(PermissionDeniedError):
        services.stage_create(user=org.rep, pipeline=pipeline, data={"name": "Extra"})
    assert pipeline.stages.count() == 5


def test_making_a_pipeline_default_unsets_the_previous_one(org, pipeline, other_pipeline):
    services.pipeline_update(user=org.admin, pipeline=other_pipeline, data={"is_default": True})
    assert list(Pipeline.objects.filter(is_default=True)) == [other_pipeline]


def test_stages_are_reordered(org, pipeline, stages):
    order = [stages[4].pk, stages[0].pk, stages[1].pk, stages[2].pk, stages[3].pk]
    services.stage_reorder(user=org.admin, pipeline=pipeline, stage_ids=order)
    assert list(pipeline.stages.order_by("position").values_list("pk", flat=True)) == order


def test_reorder_must_name_every_stage_once(org, pipeline, stages):
    with pytest.raises(ValidationFailedError):
        services.stage_reorder(
            user=org.admin, pipeline=pipeline, stage_ids=[stages[0].pk, stages[0].pk]
        )


def test_a_stage_holding_deals_cannot_be_deleted(org, pipeline, stages, deal_factory):
    deal_factory(owner=org.rep, pipeline=pipeline, stage=stages[1])
    with pytest.raises(ConflictError) as exc:
        services.stage_delete(user=org.admin, stage=stages[1])
    assert "move them to another stage first" in exc.value.message
    assert Stage.objects.filter(pk=stages[1].pk).exists()


def test_moving_its_deals_out_then_deleting_a_stage(org, pipeline, stages, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, stage=stages[1])
    assert services.stage_move_deals(user=org.admin, stage=stages[1], to_stage=stages[2].pk) == 1
    services.stage_delete(user=org.admin, stage=stages[1])
    deal.refresh_from_db()
    assert deal.stage_id == stages[2].pk
    assert pipeline.stages.count() == 4


def test_stage_probability_is_validated(org, pipeline, stages):
    with pytest.raises(ValidationFailedError) as exc:
        services.stage_update(user=org.admin, stage=stages[0], data={"probability": 101})
    assert list(exc.value.fields) == ["probability"]


def test_a_used_loss_reason_cannot_be_deleted(org, pipeline, deal_factory, reasons):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    services.deal_lose(user=org.rep, deal=deal, reason=reasons[0])
    with pytest.raises(ConflictError):
        services.loss_reason_delete(user=org.admin, reason=reasons[0])
    services.loss_reason_delete(user=org.admin, reason=reasons[1])
    assert list(LossReason.objects.values_list("name", flat=True)) == ["Price too high"]


def test_the_system_can_win_a_deal_for_a_customer_accepting_a_quote(org, pipeline, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    won = services.deal_win(user=None, deal=deal)
    assert won.status == "won"
    assert StageChange.objects.get(deal=deal).user_id is None


def test_a_closed_deal_cannot_change_stage_through_an_update(org, pipeline, stages, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, status="lost")
    with pytest.raises(ConflictError):
        services.deal_update(user=org.rep, deal=deal, data={"stage": stages[2].pk})
    deal.refresh_from_db()
    assert deal.stage_id == stages[0].pk
