"""Forecast: weighted pipeline by expected close month, commit and best case."""

from __future__ import annotations

import pytest

from kliento.sales.reports.tests.conftest import FORECAST

pytestmark = pytest.mark.django_db


def _get(api, user, **params):
    return api(user).get("/api/v1/reports/forecast", {**FORECAST, **params})


def test_forecast_months_have_exact_totals(sales, api):
    response = _get(api, sales.org.admin)

    assert response.status_code == 200
    rows = {r["key"]: r for r in response.json()["rows"]}
    assert list(rows) == ["2026-03", "2026-04", "2026-05"]
    march = rows["2026-03"]
    assert (march["open_count"], march["amount"], march["weighted"]) == (3, "13000.00", "9700.00")
    assert (march["commit"], march["best_case"], march["pipeline"]) == (
        "11000.00",
        "0.00",
        "2000.00",
    )
    assert (march["won_count"], march["won"]) == (2, "5000.00")
    assert (march["committed"], march["best"]) == ("16000.00", "16000.00")
    april = rows["2026-04"]
    assert (april["open_count"], april["amount"], april["weighted"]) == (1, "4000.00", "3000.00")
    assert (april["best_case"], april["committed"], april["best"]) == ("4000.00", "0.00", "4000.00")
    assert rows["2026-05"]["open_count"] == 0
    totals = response.json()["totals"]
    assert (totals["open_count"], totals["amount"], totals["weighted"]) == (
        4,
        "17000.00",
        "12700.00",
    )


def test_a_reps_forecast_counts_only_their_deals(sales, api):
    response = _get(api, sales.org.rep)

    march = response.json()["rows"][0]
    assert (march["open_count"], march["amount"], march["weighted"]) == (2, "3000.00", "700.00")
    assert (march["commit"], march["won"]) == ("1000.00", "3000.00")
    assert response.json()["rows"][1]["open_count"] == 0


def test_a_head_sees_the_whole_team_subtree(sales, api):
    response = _get(api, sales.org.head)

    assert response.json()["totals"]["amount"] == "17000.00"


def test_forecast_filters_by_owner_and_team(sales, api):
    by_owner = _get(api, sales.org.admin, owner=sales.org.other_rep.pk).json()
    by_team = _get(api, sales.org.admin, team=sales.org.teams["moscow"].pk).json()

    assert by_owner["totals"]["amount"] == "10000.00"
    assert by_team["totals"]["amount"] == "7000.00"
    assert by_team["totals"]["won"] == "5000.00"


def test_forecast_of_another_pipeline_is_empty(sales, api, other_pipeline):
    response = _get(api, sales.org.admin, pipeline=other_pipeline.pk)

    assert response.json()["totals"]["open_count"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month_from": "2026-13"}, "month_from"),
        ({"month_from": "March"}, "month_from"),
        ({"month_to": "2026-01"}, "month_to"),
        ({"month_to": "2030-01"}, "month_to"),
        ({"owner": "abc"}, "owner"),
        ({"pipeline": "999999"}, "pipeline"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_forecast_filters_are_422_naming_the_parameter(sales, api, params, field):
    response = _get(api, sales.org.admin, **params)

    assert response.status_code == 422
    assert list(response.json()["fields"]) == [field]
