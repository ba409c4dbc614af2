"""The kanban board in a real browser: drag a deal to another stage, see it recorded."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from django.db import OperationalError
from playwright.sync_api import expect

from kliento.conftest import log_in
from kliento.customers.models import Contact, Interaction
from kliento.sales.deals.models import Deal, LossReason, Pipeline, Stage, StageChange

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def board(org):
    """A default pipeline of three stages and two open deals of the rep in its first stage."""
    pipeline = Pipeline.objects.create(name="Sales", is_default=True)
    stages = [
        Stage.objects.create(pipeline=pipeline, name=name, position=i, probability=p)
        for i, (name, p) in enumerate([("Qualification", 10), ("Proposal", 50), ("Contract", 90)])
    ]
    contact = Contact.objects.create(first_name="Anna", last_name="Smirnova", owner=org.rep)
    deals = [
        Deal.objects.create(
            name=name,
            pipeline=pipeline,
            stage=stages[0],
            amount=Decimal(amount),
            amount_company=Decimal(amount),
            currency="RUB",
            owner=org.rep,
            contact=contact,
        )
        for name, amount in [("Romashka licences", "5000"), ("Vasilek support", "3000")]
    ]
    return type("Board", (), {"pipeline": pipeline, "stages": stages, "deals": deals})


def _bump_version(deal, version: int) -> None:
    """Change the deal behind the board's back; retry while the live server holds the table."""
    for _attempt in range(50):
        try:
            Deal.objects.filter(pk=deal.pk).update(version=version)
            return
        except OperationalError:  # SQLite's shared in-memory test database: table locked
            time.sleep(0.1)
    raise AssertionError("the deals table stayed locked")


def _column(page, stage):
    return page.locator(f'.board-col[data-stage="{stage.pk}"]')


def test_drag_a_deal_to_another_stage_and_see_its_history(live_server, org, page, board):
    base = live_server.url
    log_in(page, base, "rep")
    page.get_by_role("link", name="Deals", exact=True).click()
    first, second = _column(page, board.stages[0]), _column(page, board.stages[1])
    expect(first.locator("[data-col-count]")).to_have_text("2")
    expect(first.locator("[data-col-total]")).to_have_text("8,000")
    expect(second.locator("[data-col-count]")).to_have_text("0")

    # A real mouse drag of the card onto the next column.
    deal = board.deals[0]
    page.locator(f"#deal-{deal.pk}").drag_to(second.locator("[data-dropzone]"))

    expect(second.locator(f"#deal-{deal.pk}")).to_be_visible()
    expect(second.locator("[data-col-count]")).to_have_text("1")
    expect(second.locator("[data-col-total]")).to_have_text("5,000")
    expect(first.locator("[data-col-count]")).to_have_text("1")
    expect(first.locator("[data-col-total]")).to_have_text("3,000")
    expect(page.locator(f"#deal-{deal.pk}")).not_to_have_class(re.compile("is-pending"))
    deal.refresh_from_db()
    assert (deal.stage_id, deal.version) == (board.stages[1].pk, 2)
    change = StageChange.objects.get(deal=deal)
    assert (change.from_stage_id, change.to_stage_id, change.user_id) == (
        board.stages[0].pk,
        board.stages[1].pk,
        org.rep.pk,
    )
    assert Interaction.objects.filter(related_type="deal", related_id=deal.pk).count() == 1

    # The deal's page shows the move in its stage history.
    page.locator(f"#deal-{deal.pk} .deal-card-name").click()
    expect(page.get_by_role("heading", name="Romashka licences")).to_be_visible()
    history = page.locator("#stage-history")
    expect(history).to_contain_text("Qualification → Proposal")
    expect(history).to_contain_text("Rep")
    expect(page.locator(".stage-step.current")).to_have_text("Proposal")


def test_a_refused_move_puts_the_card_back_and_says_why(live_server, org, page, board):
    base = live_server.url
    log_in(page, base, "rep")
    page.goto(f"{base}/deals/")
    deal = board.deals[1]
    # Someone else changes the deal after the board was loaded: the move is stale.
    _bump_version(deal, 5)
    page.locator(f"#deal-{deal.pk}").drag_to(
        _column(page, board.stages[2]).locator("[data-dropzone]")
    )
    expect(page.locator("#board-error")).to_contain_text("changed by someone else")
    expect(_column(page, board.stages[0]).locator(f"#deal-{deal.pk}")).to_be_visible()
    expect(_column(page, board.stages[2]).locator("[data-col-count]")).to_have_text("0")
    deal.refresh_from_db()
    assert deal.stage_id == board.stages[0].pk
    assert not StageChange.objects.filter(deal=deal).exists()


def test_dropping_on_lost_asks_the_reason(live_server, org, page, board):
    reason = LossReason.objects.create(name="Price too high")
    base = live_server.url
    log_in(page, base, "rep")
    page.goto(f"{base}/deals/")
    deal = board.deals[0]
    # The Won/Lost zones slide in once a drag starts: drag with the mouse, step by step.
    card = page.locator(f"#deal-{deal.pk}").bounding_box()
    page.mouse.move(card["x"] + 40, card["y"] + 20)
    page.mouse.down()
    page.mouse.move(card["x"] + 60, card["y"] + 60, steps=4)
    lost = page.locator(".zone-lost")
    expect(lost).to_be_in_viewport()
    page.wait_for_timeout(250)
    zone = lost.bounding_box()
    page.mouse.move(zone["x"] + zone["width"] / 2, zone["y"] + zone["height"] / 2, steps=8)
    page.mouse.up()
    dialog = page.locator("#lose-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Reason").select_option(str(reason.pk))
    dialog.get_by_label("Note").fill("Went with a cheaper vendor")
    dialog.get_by_role("button", name="Mark as lost").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#deal-{deal.pk}")).to_have_count(0)
    expect(_column(page, board.stages[0]).locator("[data-col-count]")).to_have_text("1")
    deal.refresh_from_db()
    assert (deal.status, deal.loss_reason_id, deal.loss_note) == (
        "lost",
        reason.pk,
        "Went with a cheaper vendor",
    )
