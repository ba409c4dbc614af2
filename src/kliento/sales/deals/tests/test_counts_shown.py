"""Counts shown to people are grouped as their language writes numbers ("1,234" / "1 234"),
while the numbers the page uses as data (ids in links, form values) stay plain."""

from __future__ import annotations

import pytest
from django.utils import translation

from kliento.sales.conftest import DealFactory
from kliento.sales.deals.models import Deal

N = 1234
NBSP = "\xa0"  # Django's Russian thousand separator


@pytest.fixture(autouse=True)
def _language_reset():
    """The user's language, activated by the middleware, stays on the thread: not after us."""
    yield
    translation.deactivate()


@pytest.fixture
def many_deals(org, pipeline):
    stage = pipeline.stages.order_by("position").first()
    Deal.objects.bulk_create(
        DealFactory.build(owner=org.rep, pipeline=pipeline, stage=stage) for _ in range(N)
    )


@pytest.mark.parametrize(
    ("language", "header", "board"),
    [
        ("en", "<strong>1,234</strong> deals", "<strong data-board-count>1,234</strong>"),
        ("ru", f"<strong>1{NBSP}234</strong> сделки",
         f"<strong data-board-count>1{NBSP}234</strong>"),
    ],
)  # fmt: skip
def test_the_deal_list_and_board_group_their_counts(
    org, login, many_deals, pipeline, language, header, board
):
    org.rep.language = language
    org.rep.save(update_fields=["language"])
    client = login(org.rep)

    listing = client.get("/deals/list/").content.decode()
    kanban = client.get("/deals/").content.decode()

    assert header in listing
    assert board in kanban
    column = board.replace("<strong data-board-count>", '<span class="count-pill" data-col-count>')
    assert column.replace("</strong>", "</span>") in kanban
    # Data stays as it was: the deals' links carry plain ids.
    last = Deal.objects.order_by("-id").first().pk
    assert last > 999 and f'href="/deals/{last}/"' in kanban + listing


def test_the_pipeline_settings_group_the_deal_count(org, login, many_deals):
    org.admin.language = "ru"
    org.admin.save(update_fields=["language"])

    page = login(org.admin).get("/deals/settings/").content.decode()

    assert f"1{NBSP}234 сделки" in page
    assert f'<span class="count-pill">1{NBSP}234</span>' in page
