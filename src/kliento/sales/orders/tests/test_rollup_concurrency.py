"""Orders of one rep in one month written at the same time by several threads, each with its
own database connection: the product rollup ends up exact, and no writer fails."""

from __future__ import annotations

import pytest

from kliento.conftest import run_concurrently
from kliento.sales.orders import rollup, services
from kliento.sales.orders.models import ProductMonth

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("file_database")]

WRITERS = 6
EACH = 3


def test_concurrent_orders_of_one_month_keep_the_rollup_exact(
    org, contact_factory, products, price_list
):
    contact = contact_factory(owner=org.rep, first_name="Anna", last_name="Smirnova")

    def writer(n: int) -> None:
        for i in range(EACH):
            services.order_create(
                user=org.rep,
                data={
                    "contact": contact.pk,
                    "price_list": price_list.pk,
                    "ordered_at": f"2026-03-{n + 1:02d}",
                    "lines": [{"product": products[(n + i) % 3].pk, "quantity": str(i + 1)}],
                },
            )

    errors = run_concurrently(WRITERS, writer)
    assert errors == []
    written = sorted(ProductMonth.objects.values_list("product_key", "orders", "revenue", "cost"))
    assert dict((k, n) for k, n, *_ in written)[rollup.ALL_PRODUCTS] == WRITERS * EACH
    rollup.rebuild()
    assert written == sorted(
        ProductMonth.objects.values_list("product_key", "orders", "revenue", "cost")
    )
