"""The sales-cycle charts mark a stage without data the way the table does (a dash), never as a
bar of 0 days."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from kliento.sales.reports import charts, filters, selectors
from kliento.sales.reports.tests.conftest import MARCH

pytestmark = pytest.mark.django_db


def _rows(svg: str) -> dict[str, str]:
    """Each row's label → the SVG drawn for it up to the next row's label."""
    pieces = re.split(r'<text class="label"[^>]*><title>([^<]*)</title>[^<]*</text>', svg)
    return dict(zip(pieces[1::2], pieces[2::2], strict=True))


def _days_chart(funnel) -> str:
    return str(
        charts.bar_chart(
            title="Average days per stage",
            desc="One bar per stage.",
            labels=[r["name"] for r in funnel],
            series=[charts.Series("Days", [r["avg_days"] for r in funnel], "s-best")],
            digits=1,
            suffix=" d",
        )
    )


def test_stages_without_data_get_a_dash_and_no_bar(sales):
    funnel = selectors.sales_cycle(user=sales.org.admin, f=filters.cycle_filters(MARCH))["funnel"]
    assert [r["avg_days"] for r in funnel] == [
        pytest.approx(3),
        pytest.approx(3.5),
        None,
        None,
        pytest.approx(1),
    ]

    rows = _rows(_days_chart(funnel))

    assert list(rows) == ["Qualification", "Needs analysis", "Proposal", "Negotiation", "Contract"]
    for stage in ("Proposal", "Negotiation"):
        assert "<rect" not in rows[stage]
        assert f"<title>{stage}: no data</title>—</text>" in rows[stage]
        assert "0.0 d" not in rows[stage]
    assert "<title>Qualification · Days: 3.0 d</title></rect>" in rows["Qualification"]
    assert ">3.5 d</text>" in rows["Needs analysis"]
    assert ">1.0 d</text>" in rows["Contract"]


def test_missing_rows_are_explained_to_readers_and_screen_readers():
    svg = str(
        charts.bar_chart(
            title="Days",
            desc="Per stage.",
            labels=["A", "B"],
            series=[charts.Series("D", [2, None])],
        )
    )

    assert (
        '<desc id="chart-d' in svg and "Per stage. A dash marks a row with no data.</desc>" in svg
    )
    assert '<span aria-hidden="true">—</span>No data</li>' in svg


def test_a_real_zero_is_still_drawn_as_zero():
    svg = str(
        charts.bar_chart(
            title="Days",
            desc="",
            labels=["A", "B"],
            series=[charts.Series("D", [0, 4])],
            suffix=" d",
        )
    )

    rows = _rows(svg)
    assert ">0 d</text>" in rows["A"] and "no data" not in svg


def test_chart_without_any_data_draws_no_bars():
    svg = str(
        charts.bar_chart(
            title="Days", desc="", labels=["A", "B"], series=[charts.Series("D", [None, None])]
        )
    )

    assert "<rect" not in svg
    assert svg.count("no data</title>—</text>") == 2


def test_missing_points_break_the_line_of_a_column_chart():
    svg = str(
        charts.column_chart(
            title="T",
            desc="",
            categories=["Mar", "Apr", "May", "Jun"],
            series=[charts.Series("Won", [1, 1, 1, 1])],
            line=charts.Series("Weighted", [10, None, 20, 30], "s-line"),
        )
    )

    assert svg.count("<polyline") == 2
    assert svg.count('<circle class="dot') == 3
    assert "Apr · Weighted" not in svg


def test_dash_and_legend_in_russian():
    with translation.override("ru"):
        svg = str(
            charts.bar_chart(
                title="Дни", desc="", labels=["A"], series=[charts.Series("D", [None])]
            )
        )

    assert "<title>A: нет данных</title>—</text>" in svg
    assert "Прочерк — строка без данных." in svg
    assert "Нет данных</li>" in svg
