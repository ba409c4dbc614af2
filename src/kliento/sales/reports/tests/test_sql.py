"""The raw SQL each report runs (for bench/) gives the same grouped rows as the app."""

from __future__ import annotations

import pytest

from kliento.sales.reports.selectors import reports_catalogue, run_sql
from kliento.sales.reports.tests.conftest import FORECAST, MARCH

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "params", "query", "rows"),
    [
        ("forecast", FORECAST, "open", 2),
        ("forecast", FORECAST, "won", 1),
        ("sales_cycle", MARCH, "breakdown", 3),
        ("activity", MARCH, "interactions", 3),
        ("pnl", MARCH, "top", 3),
        ("pnl", MARCH, "totals", 1),
    ],
)
def test_report_sql_runs_directly(sales, name, params, query, rows):
    parse, _report, sql = reports_catalogue()[name]

    result = run_sql(sql(user=sales.org.admin, f=parse(params)))

    assert len(result[query]) == rows


def test_forecast_sql_sums_like_the_report(sales):
    parse, report, sql = reports_catalogue()["forecast"]
    f = parse(FORECAST)

    statements = sql(user=sales.org.admin, f=f)
    app = report(user=sales.org.admin, f=f)

    assert "GROUP BY" in statements["open"][0]
    direct = run_sql(statements)["open"]
    assert sorted(int(r[1]) for r in direct) == sorted(
        r["open_count"] for r in app["rows"] if r["open_count"]
    )
