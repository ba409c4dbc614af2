"""Report pages: rendering, drill-down lists that match the numbers, CSV/XLSX exports."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from kliento.sales.reports.tests.conftest import FORECAST, MARCH

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode("utf-8-sig")
    return response.content.decode()


def _drill_names(response) -> list[str]:
    body = response.content.decode()
    table = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<td class="name">(?:<a href="[^"]*">)?([^<]+)', table)


def test_index_links_every_report(sales, login):
    response = login(sales.org.rep).get("/reports/")

    assert response.status_code == 200
    body = response.content.decode()
    for url in (
        "/reports/forecast/",
        "/reports/sales-cycle/",
        "/reports/activity/",
        "/reports/pnl/",
    ):
        assert f'href="{url}"' in body


@pytest.mark.parametrize(
    ("url", "params", "number"),
    [
        ("/reports/forecast/", FORECAST, "9,700"),
        ("/reports/sales-cycle/", MARCH, "66.7%"),
        ("/reports/activity/", MARCH, "3,000"),
        ("/reports/pnl/", MARCH, "14,900.00"),
    ],
)
def test_report_page_has_an_accessible_chart_and_the_numbers(sales, login, url, params, number):
    response = login(sales.org.admin).get(url, params)

    assert response.status_code == 200
    body = response.content.decode()
    assert "<svg viewBox=" in body and 'role="img"' in body and "<title id=" in body
    assert number in body


@pytest.mark.parametrize(
    "url", ["/reports/forecast/", "/reports/sales-cycle/", "/reports/activity/", "/reports/pnl/"]
)
def test_report_pages_render_without_data(org, login, url):
    response = login(org.rep).get(url)

    assert response.status_code == 200
    assert 'class="empty' in response.content.decode()


def test_bad_filter_in_the_ui_shows_the_error_by_the_field(sales, login):
    response = login(sales.org.admin).get("/reports/forecast/", {"month_from": "soon"})

    assert response.status_code == 200
    assert (
        '<span class="err-field">From month</span>: Enter a month as YYYY-MM.'
        in response.content.decode()
    )


def test_forecast_drilldown_lists_the_deals_behind_the_number(sales, login):
    response = login(sales.org.admin).get(
        "/reports/forecast/deals/", {**FORECAST, "month": "2026-03", "measure": "commit"}
    )

    assert response.status_code == 200
    assert sorted(_drill_names(response)) == [sales.d1.name, sales.d4.name]
    assert "11,000.00" in response.content.decode()


def test_a_reps_drilldown_hides_other_peoples_deals(sales, login):
    response = login(sales.org.rep).get(
        "/reports/forecast/deals/", {**FORECAST, "month": "2026-03", "measure": "commit"}
    )

    assert _drill_names(response) == [sales.d1.name]


def test_forecast_won_drilldown_matches_the_won_total(sales, login):
    response = login(sales.org.admin).get(
        "/reports/forecast/deals/", {**FORECAST, "measure": "won"}
    )

    assert sorted(_drill_names(response)) == sorted([sales.d6.name, sales.d9.name])
    assert "5,000.00" in response.content.decode()


def test_cycle_drilldown_of_a_stage_lists_the_deals_that_reached_it(sales, login):
    proposal = sales.stages[2]
    response = login(sales.org.admin).get(
        "/reports/sales-cycle/deals/", {**MARCH, "measure": "reached", "stage": proposal.pk}
    )

    assert sorted(_drill_names(response)) == sorted([sales.d6.name, sales.d8.name, sales.d9.name])


def test_cycle_drilldown_of_an_owners_lost_deals(sales, login):
    response = login(sales.org.admin).get(
        "/reports/sales-cycle/deals/", {**MARCH, "measure": "lost", "owner": sales.org.rep.pk}
    )

    assert _drill_names(response) == [sales.d7.name]


def test_activity_drilldown_lists_the_calls(sales, login):
    response = login(sales.org.admin).get(
        "/reports/activity/records/", {**MARCH, "metric": "calls", "owner": sales.org.rep.pk}
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("call 2026-03-0") == 2
    assert "2026-04-01" not in body


def test_activity_drilldown_of_tasks_credits_the_assignee(sales, login):
    response = login(sales.org.admin).get(
        "/reports/activity/records/", {**MARCH, "metric": "tasks", "owner": sales.org.rep.pk}
    )

    assert response.content.decode().count("task 2026-03-01") == 1


def test_pnl_drilldown_lists_the_orders_of_a_company(sales, login):
    response = login(sales.org.admin).get(
        "/reports/pnl/orders/", {**MARCH, "key": sales.company_a.pk}
    )

    assert _drill_names(response) == ["O-1"]
    assert "4,800.00" in response.content.decode()


def test_pnl_drilldown_per_product_lists_order_lines(sales, login):
    pro = sales.products[1]
    response = login(sales.org.admin).get(
        "/reports/pnl/orders/", {**MARCH, "by": "product", "key": pro.pk}
    )

    assert sorted(_drill_names(response)) == ["O-2", "O-4"]
    assert "10,100.00" in response.content.decode()


def test_forecast_csv_export(sales, login):
    response = login(sales.org.admin).get("/reports/forecast/", {**FORECAST, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(_text(response))))
    assert rows[0][:4] == ["Month", "Open deals", "Pipeline total", "Weighted"]
    assert rows[1][:4] == ["2026-03", "3", "13000.00", "9700.00"]
    assert rows[-1][:4] == ["Total", "4", "17000.00", "12700.00"]


def test_pnl_csv_export_neutralises_formulas(sales, login, company_factory):
    sales.company_a.name = '=HYPERLINK("http://evil")'
    sales.company_a.save(update_fields=["name"])

    response = login(sales.org.admin).get("/reports/pnl/", {**MARCH, "format": "csv"})

    rows = list(csv.reader(io.StringIO(_text(response))))
    assert [
        '\'=HYPERLINK("http://evil")',
        "1",
        "4800.00",
        "1500.00",
        "200.00",
        "3300.00",
        "68.8",
    ] in rows


def test_activity_xlsx_export_reads_back(sales, login):
    response = login(sales.org.admin).get("/reports/activity/", {**MARCH, "format": "xlsx"})

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:4] == ["Employee", "Team", "Calls", "Meetings"]
    rep = next(r for r in rows if r[0] == "Rep")
    assert rep[1:7] == ["Moscow", 2, 1, 1, 1, 1]
    assert rep[-1] == 3000
    assert rows[-1][0] == "Total"


def test_xlsx_export_neutralises_formulas(sales, login):
    sales.company_b.name = "@SUM(A1:A9)"
    sales.company_b.save(update_fields=["name"])

    response = login(sales.org.admin).get("/reports/pnl/", {**MARCH, "format": "xlsx"})

    sheet = load_workbook(io.BytesIO(response.content)).active
    names = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert "'@SUM(A1:A9)" in names
    assert all(row[0].data_type != "f" for row in sheet.iter_rows())


def test_cycle_xlsx_export_has_the_stage_table(sales, login):
    response = login(sales.org.admin).get("/reports/sales-cycle/", {**MARCH, "format": "xlsx"})

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    stages = {r[0]: r for r in rows if r and r[0] in ("Proposal", "Contract")}
    assert stages["Proposal"][1:4] == [3, 2, 66.7]


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get("/reports/forecast/")

    assert response.status_code == 302


def test_pnl_chart_labels_bars_in_whole_units(sales, login):
    body = login(sales.org.admin).get("/reports/pnl/", MARCH).content.decode()

    labels = re.findall(r'<text class="value"[^>]*>([^<]+)</text>', body)
    assert labels and all("." not in label for label in labels)
    assert "14,900.00" in body  # the table keeps the kopecks


def test_cycle_report_without_pipelines_says_so(org, login):
    body = login(org.admin).get("/reports/sales-cycle/").content.decode()

    assert "Stages of" not in body
    assert "No pipelines yet: create one in Settings" in body
