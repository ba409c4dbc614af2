"""Sales cycle: days per stage, conversion, win rate, cycle length, breakdowns."""

from __future__ import annotations

import pytest

from kliento.sales.reports.tests.conftest import MARCH

pytestmark = pytest.mark.django_db


def _get(api, user, **params):
    return api(user).get("/api/v1/reports/sales-cycle", {**MARCH, **params})


def test_summary_of_deals_closed_in_march(sales, api):
    response = _get(api, sales.org.admin)

    assert response.status_code == 200
    summary = response.json()["summary"]
    assert (summary["deals"], summary["won"], summary["lost"], summary["open"]) == (4, 2, 2, 0)
    assert summary["win_rate"] == "50.0"
    assert summary["won_amount"] == "5000.00"
    assert (summary["cycle_days"], summary["won_cycle_days"]) == ("19.0", "18.0")


def test_funnel_reach_conversion_and_days_per_stage(sales, api):
    response = _get(api, sales.org.admin)

    funnel = response.json()["funnel"]
    assert [r["name"] for r in funnel] == [
        "Qualification",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Contract",
    ]
    assert [r["reached"] for r in funnel] == [4, 4, 3, 2, 2]
    assert [r["conversion"] for r in funnel] == ["100.0", "75.0", "66.7", "100.0", "100.0"]
    assert [r["lost"] for r in funnel] == [0, 1, 1, 0, 0]
    assert [r["avg_days"] for r in funnel] == ["3.0", "3.5", None, None, "1.0"]
    assert response.json()["pipeline"]["name"] == "Sales"


def test_breakdown_by_owner(sales, api):
    response = _get(api, sales.org.admin, group="owner")

    rows = {r["label"]: r for r in response.json()["breakdown"]}
    assert set(rows) == {"Rep", "Rep_Peer", "Other_Rep"}
    rep = rows["Rep"]
    assert (rep["deals"], rep["won"], rep["lost"], rep["win_rate"]) == (2, 1, 1, "50.0")
    assert (rep["won_amount"], rep["cycle_days"]) == ("3000.00", "21.0")
    assert (rows["Rep_Peer"]["win_rate"], rows["Rep_Peer"]["cycle_days"]) == ("100.0", "6.0")
    assert (rows["Other_Rep"]["win_rate"], rows["Other_Rep"]["cycle_days"]) == ("0.0", "28.0")


def test_breakdown_by_month_of_creation(sales, api):
    response = _get(
        api,
        sales.org.admin,
        basis="created",
        group="month",
        date_from="2026-02-01",
        date_to="2026-03-31",
    )

    rows = [(r["key"], r["deals"], r["won"], r["lost"]) for r in response.json()["breakdown"]]
    assert rows == [("2026-02", 2, 1, 1), ("2026-03", 2, 1, 1)]


def test_breakdown_by_pipeline(sales, api):
    response = _get(api, sales.org.admin, group="pipeline")

    rows = [(r["label"], r["deals"]) for r in response.json()["breakdown"]]
    assert rows == [("Sales", 4)]


def test_a_reps_cycle_counts_only_their_deals(sales, api):
    response = _get(api, sales.org.rep)

    summary = response.json()["summary"]
    assert (summary["deals"], summary["won"], summary["lost"]) == (2, 1, 1)
    assert [r["reached"] for r in response.json()["funnel"]] == [2, 2, 1, 1, 1]
    assert [r["label"] for r in response.json()["breakdown"]] == ["Rep"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_to": "2026-02-01"}, "date_to"),
        ({"basis": "opened"}, "basis"),
        ({"group": "colour"}, "group"),
        ({"team": "0"}, "team"),
    ],
)
def test_bad_cycle_filters_are_422_naming_the_parameter(sales, api, params, field):
    response = _get(api, sales.org.admin, **params)

    assert response.status_code == 422
    assert list(response.json()["fields"]) == [field]
