"""Imported orders reach the product rollup behind P&L by product, re-runs included."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kliento.dataio.transfer.tests.conftest import csv_bytes
from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.orders import rollup
from kliento.sales.orders.models import ProductMonth

pytestmark = pytest.mark.django_db

ORDERS = [
    ["Order", "Date", "Status", "Contact email", "SKU", "Qty", "Price"],
    ["A-1", "2025-03-01", "paid", "anna@example.com", "CRM-STD", "2", "1000"],
    ["A-1", "", "", "", "IMPL", "3", "3000"],
    ["B-1", "2025-04-15", "cancelled", "anna@example.com", "CRM-STD", "1", "1000"],
    ["C-1", "2025-04-16", "new", "anna@example.com", "IMPL", "1", "3000"],
]


def _rows():
    return sorted(
        ProductMonth.objects.values_list("month", "owner_id", "product_key", "orders", "revenue")
    )


@pytest.fixture
def catalogue(org, contact_factory):
    std = Product.objects.create(sku="CRM-STD", name="CRM Standard", cost=Decimal("300"))
    Product.objects.create(sku="IMPL", name="Implementation", unit="h", cost=Decimal("900"))
    base = PriceList.objects.create(name="Base", currency="RUB", is_default=True)
    PriceListItem.objects.create(price_list=base, product=std, price=Decimal("1000"))
    contact_factory(owner=org.rep, email="anna@example.com", emails=["anna@example.com"])


def test_imported_orders_are_in_the_rollup_and_a_changed_file_updates_it(
    run_import, org, catalogue
):
    job = run_import(csv_bytes(ORDERS), entity="orders", batch_size=2)
    assert (job.created, job.failed) == (4, 0)  # rows
    imported = _rows()
    # March: A-1 with two products; April: C-1 only (B-1 is cancelled).
    assert [(str(m), k, n) for m, _o, k, n, _r in imported if k == rollup.ALL_PRODUCTS] == [
        ("2025-03-01", rollup.ALL_PRODUCTS, 1),
        ("2025-04-01", rollup.ALL_PRODUCTS, 1),
    ]
    rollup.rebuild()
    assert _rows() == imported

    # A-1 moves to April with one line left.
    moved = [ORDERS[0], ["A-1", "2025-04-02", "paid", "anna@example.com", "CRM-STD", "2", "1000"]]
    job = run_import(csv_bytes(moved + ORDERS[3:]), entity="orders")
    assert (job.updated, job.failed) == (1, 0)
    after = _rows()
    assert [str(m) for m, *_ in after if _[1] == rollup.ALL_PRODUCTS] == ["2025-04-01"]
    rollup.rebuild()
    assert _rows() == after
