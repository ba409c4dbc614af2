"""Profit and loss per customer and per product."""

from __future__ import annotations

import pytest

from kliento.sales.reports.tests.conftest import MARCH

pytestmark = pytest.mark.django_db
COLUMNS = ("orders", "revenue", "cost", "discounts", "margin", "margin_pct")


def _get(api, user, **params):
    return api(user).get("/api/v1/reports/pnl", {**MARCH, **params})


def _rows(response):
    return [(r["label"], *(r[c] for c in COLUMNS)) for r in response.json()["rows"]]


def test_pnl_per_company_sorted_by_revenue(sales, api):
    response = _get(api, sales.org.admin)

    assert response.status_code == 200
    assert _rows(response) == [
        ("No company", 1, "8100.00", "500.00", "900.00", "7600.00", "93.8"),
        ("Alfa LLC", 1, "4800.00", "1500.00", "200.00", "3300.00", "68.8"),
        ("Beta JSC", 1, "2000.00", "500.00", "0.00", "1500.00", "75.0"),
    ]
    totals = response.json()["totals"]
    assert tuple(totals[c] for c in COLUMNS) == (
        3,
        "14900.00",
        "2500.00",
        "1100.00",
        "12400.00",
        "83.2",
    )


def test_pnl_per_product(sales, api):
    response = _get(api, sales.org.admin, by="product", sort="margin")

    assert _rows(response) == [
        ("CRM Pro licence (CRM-PRO)", 2, "10100.00", "1000.00", "900.00", "9100.00", "90.1"),
        ("Implementation, hour (IMPL)", 1, "3000.00", "900.00", "0.00", "2100.00", "70.0"),
        ("CRM Standard licence (CRM-STD)", 1, "1800.00", "600.00", "200.00", "1200.00", "66.7"),
    ]
    totals = response.json()["totals"]
    assert tuple(totals[c] for c in COLUMNS) == (
        3,
        "14900.00",
        "2500.00",
        "1100.00",
        "12400.00",
        "83.2",
    )


def test_pnl_per_contact(sales, api):
    response = _get(api, sales.org.admin, by="contact")

    assert [(r[0], r[2]) for r in _rows(response)] == [
        ("Clara Smirnova", "8100.00"),
        ("No contact", "6800.00"),
    ]


def test_top_n_keeps_the_rest_in_others(sales, api):
    response = _get(api, sales.org.admin, top=1, sort="margin_pct")

    assert [r[0] for r in _rows(response)] == ["No company"]
    others = response.json()["others"]
    assert (others["revenue"], others["margin"], others["margin_pct"]) == (
        "6800.00",
        "4800.00",
        "70.6",
    )


def test_a_reps_pnl_counts_only_their_orders(sales, api):
    response = _get(api, sales.org.rep)

    assert [r[0] for r in _rows(response)] == ["No company", "Alfa LLC"]
    assert response.json()["totals"]["revenue"] == "12900.00"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"top": "0"}, "top"),
        ({"top": "501"}, "top"),
        ({"by": "region"}, "by"),
        ({"sort": "name"}, "sort"),
    ],
)
def test_bad_pnl_filters_are_422(sales, api, params, field):
    response = _get(api, sales.org.admin, **params)

    assert response.status_code == 422
    assert list(response.json()["fields"]) == [field]
