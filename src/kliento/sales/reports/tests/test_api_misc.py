"""API conventions of the report endpoints: authentication and a bounded number of queries."""

from __future__ import annotations

import pytest
from django.test import Client

from kliento.sales.reports.tests.conftest import FORECAST, MARCH

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["forecast", "sales-cycle", "activity", "pnl"])
def test_reports_need_authentication(db, path):
    response = Client().get(f"/api/v1/reports/{path}")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "params", "limit"),
    [
        ("forecast", FORECAST, 8),
        ("sales-cycle", MARCH, 14),
        ("activity", MARCH, 12),
        ("pnl", {**MARCH, "by": "product"}, 11),
    ],
)
def test_reports_run_a_fixed_number_of_queries(
    sales, api, django_assert_max_num_queries, path, params, limit
):
    client = api(sales.org.admin)

    with django_assert_max_num_queries(limit):
        response = client.get(f"/api/v1/reports/{path}", params)

    assert response.status_code == 200


def test_pnl_drilldown_of_orders_without_a_company(sales, login):
    response = login(sales.org.admin).get("/reports/pnl/orders/", {**MARCH, "key": "none"})

    body = response.content.decode()
    assert "O-4" in body and "O-1" not in body
    assert "8,100.00" in body


def test_a_rep_cannot_drill_into_a_colleagues_orders(sales, login):
    response = login(sales.org.rep).get(
        "/reports/pnl/orders/", {**MARCH, "key": sales.company_b.pk}
    )

    assert response.status_code == 200
    assert "O-2" not in response.content.decode()
