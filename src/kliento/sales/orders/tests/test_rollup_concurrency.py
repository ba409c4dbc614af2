"""Orders of one rep in one month written at the same time by several threads, each with its
own database connection: the product rollup ends up exact, and no writer fails."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from kliento.sales.orders import rollup, services
from kliento.sales.orders.models import ProductMonth

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("file_database")]

WRITERS = 6
EACH = 3


def test_concurrent_orders_of_one_month_keep_the_rollup_exact(
    org, contact_factory, products, price_list
):
    contact = contact_factory(owner=org.rep, first_name="Anna", last_name="Smirnova")
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
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
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    written = sorted(ProductMonth.objects.values_list("product_key", "orders", "revenue", "cost"))
    assert dict((k, n) for k, n, *_ in written)[rollup.ALL_PRODUCTS] == WRITERS * EACH
    rollup.rebuild()
    assert written == sorted(
        ProductMonth.objects.values_list("product_key", "orders", "revenue", "cost")
    )
