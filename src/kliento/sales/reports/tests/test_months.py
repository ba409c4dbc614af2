"""Months in the reports are the company's calendar months (settings.TIME_ZONE), not UTC's.

The reports put each deal in its month in SQL; a deal closed late on the last evening of a
month in UTC already belongs to the next month in Moscow (UTC+3).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kliento.sales.reports.tests.conftest import FORECAST, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def moscow(settings):
    settings.TIME_ZONE = "Europe/Moscow"


@pytest.fixture
def edge_deals(sales, deal_factory):
    """Won at 00:30 on 1 March and at 01:30 on 1 April, Moscow time."""
    contract = sales.stages[-1]

    def won(amount, created, closed):
        return deal_factory(
            owner=sales.org.rep,
            pipeline=sales.pipeline,
            stage=contract,
            amount=Decimal(amount),
            status="won",
            created_at=at(created),
            closed_at=at(closed),
        )

    return (
        won("10", "2026-02-01T10:00:00", "2026-02-28T21:30:00"),
        won("100", "2026-02-01T10:00:00", "2026-03-31T22:30:00"),
    )


def test_forecast_counts_a_won_deal_in_its_local_month(moscow, sales, edge_deals, api):
    response = api(sales.org.admin).get("/api/v1/reports/forecast", FORECAST)

    rows = {r["key"]: (r["won_count"], r["won"]) for r in response.json()["rows"]}
    assert rows == {
        "2026-03": (3, "5010.00"),
        "2026-04": (1, "100.00"),
        "2026-05": (0, "0.00"),
    }


def test_forecast_in_utc_puts_the_same_deals_a_month_earlier(sales, edge_deals, api):
    response = api(sales.org.admin).get("/api/v1/reports/forecast", FORECAST)

    rows = {r["key"]: (r["won_count"], r["won"]) for r in response.json()["rows"]}
    assert rows == {
        "2026-03": (3, "5100.00"),
        "2026-04": (0, "0.00"),
        "2026-05": (0, "0.00"),
    }


def test_forecast_open_deals_on_the_first_and_last_day_of_a_month(sales, deal_factory, api):
    for day, amount in ((dt.date(2026, 3, 31), "1"), (dt.date(2026, 4, 1), "2")):
        deal_factory(
            owner=sales.org.rep,
            pipeline=sales.pipeline,
            stage=sales.stages[0],
            amount=Decimal(amount),
            expected_close=day,
        )

    response = api(sales.org.admin).get("/api/v1/reports/forecast", FORECAST)

    rows = {r["key"]: (r["open_count"], r["amount"]) for r in response.json()["rows"]}
    assert rows == {
        "2026-03": (4, "13001.00"),
        "2026-04": (2, "4002.00"),
        "2026-05": (0, "0.00"),
    }


def test_cycle_by_month_puts_a_deal_in_its_local_month(moscow, sales, edge_deals, api):
    response = api(sales.org.admin).get(
        "/api/v1/reports/sales-cycle",
        {"date_from": "2026-02-15", "date_to": "2026-04-10", "group": "month"},
    )

    rows = [(r["key"], r["deals"], r["won"], r["lost"]) for r in response.json()["breakdown"]]
    assert rows == [("2026-03", 5, 3, 2), ("2026-04", 1, 1, 0)]


def test_a_one_month_forecast(sales, api):
    response = api(sales.org.admin).get(
        "/api/v1/reports/forecast", {"month_from": "2026-03", "month_to": "2026-03"}
    )

    rows = [(r["key"], r["open_count"], r["won_count"], r["won"]) for r in response.json()["rows"]]
    assert rows == [("2026-03", 3, 2, "5000.00")]
