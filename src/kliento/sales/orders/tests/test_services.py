"""Order services: exact totals and margins, validation, numbering, status machine, quotes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kliento.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog
from kliento.customers.models import Interaction
from kliento.sales.orders import services
from kliento.sales.orders.models import Order, OrderStatus


def test_create_computes_exact_totals_and_margin(org, make_order, products):
    order = make_order(
        lines=[
            {
                "product": products[0].pk,
                "quantity": "3",
                "discount_kind": "percent",
                "discount_value": "10",
            },
            {
                "product": products[1].pk,
                "quantity": "1.5",
                "price": "1999.99",
                "discount_kind": "amount",
                "discount_value": "99.99",
            },
            {"product": products[2].pk, "quantity": "0.333"},
        ]
    )

    assert (order.subtotal, order.discount_total, order.tax_total, order.total) == (
        Decimal("6998.99"),
        Decimal("399.99"),
        Decimal("1319.80"),
        Decimal("7918.80"),
    )
    assert (order.revenue_company, order.cost_company, order.margin_company) == (
        Decimal("6599.00"),
        Decimal("1949.70"),
        Decimal("4649.30"),
    )
    lines = list(order.lines.order_by("position"))
    assert [(x.price, x.discount, x.net, x.tax, x.cost) for x in lines] == [
        (
            Decimal("1000.00"),
            Decimal("300.00"),
            Decimal("2700.00"),
            Decimal("540.00"),
            Decimal("300.00"),
        ),
        (
            Decimal("1999.99"),
            Decimal("99.99"),
            Decimal("2900.00"),
            Decimal("580.00"),
            Decimal("500.00"),
        ),
        (
            Decimal("3000.00"),
            Decimal("0.00"),
            Decimal("999.00"),
            Decimal("199.80"),
            Decimal("900.00"),
        ),
    ]


def test_create_converts_foreign_currency_at_order_date(org, contact, products, usd_rate):
    order = services.order_create(
        user=org.rep,
        data={
            "contact": contact.pk,
            "currency": "usd",
            "ordered_at": "2026-03-15",
            "lines": [{"product": products[0].pk, "quantity": 2, "price": "10.50"}],
        },
    )

    assert order.currency == "USD"
    assert order.total == Decimal("25.20")
    assert order.revenue_company == Decimal("1892.59")
    assert order.cost_company == Decimal("600.00")
    assert order.margin_company == Decimal("1292.59")
    assert order.lines.get().revenue_company == Decimal("1892.59")


def test_create_numbers_orders_by_year(org, make_order):
    first, second = make_order(), make_order()

    year = dt.date.today().year
    assert (first.number, second.number) == (f"O-{year}-000001", f"O-{year}-000002")


def test_create_writes_audit_and_purchase_on_timeline(org, make_order, contact, company):
    order = make_order(company=company.pk)

    entry = Interaction.objects.get(related_type="order", related_id=order.pk)
    assert (entry.kind, entry.contact_id, entry.company_id, entry.user_id) == (
        "purchase",
        contact.pk,
        company.pk,
        org.rep.pk,
    )
    assert order.number in entry.subject
    audit = AuditLog.objects.get(entity="order", object_id=order.pk)
    assert (audit.action, audit.changes["total"]) == ("create", [None, "2400.00"])


@pytest.mark.parametrize("quantity", ["-1", "0"])
def test_create_refuses_non_positive_quantity(org, make_order, products, quantity):
    with pytest.raises(ValidationFailedError) as exc:
        make_order(
            lines=[
                {"product": products[0].pk, "quantity": "1"},
                {"product": products[1].pk, "quantity": quantity},
            ]
        )

    assert list(exc.value.fields) == ["lines.1.quantity"]
    assert Order.objects.count() == 0


def test_create_refuses_inactive_product(org, make_order, products):
    with pytest.raises(ValidationFailedError) as exc:
        make_order(lines=[{"product": products[3].pk, "quantity": "1"}])

    assert list(exc.value.fields) == ["lines.0.product"]
    assert "inactive" in exc.value.fields["lines.0.product"]
    assert Order.objects.count() == 0


def test_create_refuses_missing_product(org, make_order):
    with pytest.raises(ValidationFailedError) as exc:
        make_order(lines=[{"product": 999999, "quantity": "1"}])

    assert list(exc.value.fields) == ["lines.0.product"]


def test_create_refuses_negative_price_and_oversized_discount(org, make_order, products):
    with pytest.raises(ValidationFailedError) as exc:
        make_order(
            lines=[
                {"product": products[0].pk, "quantity": "1", "price": "-5"},
                {
                    "product": products[1].pk,
                    "quantity": "1",
                    "discount_kind": "amount",
                    "discount_value": "2000.01",
                },
            ]
        )

    assert sorted(exc.value.fields) == ["lines.0.price", "lines.1.discount_value"]


def test_create_needs_a_customer_the_user_sees(org, contact_factory, products, price_list):
    hidden = contact_factory(owner=org.other_rep)

    with pytest.raises(ValidationFailedError) as exc:
        services.order_create(
            user=org.rep,
            data={
                "contact": hidden.pk,
                "lines": [{"product": products[0].pk, "quantity": 1, "price": 1}],
            },
        )

    assert list(exc.value.fields) == ["contact"]


def test_create_without_price_or_price_list_is_422(org, contact, products):
    with pytest.raises(ValidationFailedError) as exc:
        services.order_create(
            user=org.rep,
            data={"contact": contact.pk, "lines": [{"product": products[0].pk, "quantity": 1}]},
        )

    assert list(exc.value.fields) == ["lines.0.price"]


def test_create_by_analyst_is_forbidden(org, make_order):
    with pytest.raises(PermissionDeniedError):
        make_order(user=org.analyst)

    assert Order.objects.count() == 0


def test_rep_cannot_give_order_to_another_team(org, make_order):
    with pytest.raises(ValidationFailedError) as exc:
        make_order(owner=org.other_rep.pk)

    assert list(exc.value.fields) == ["owner"]


# --- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ["paid", "shipped", "returned"],
        ["paid", "returned"],
        ["paid", "cancelled"],
        ["cancelled"],
    ],
)
def test_allowed_status_paths(org, make_order, path):
    order = make_order()

    for status in path:
        order = services.order_set_status(user=org.rep, order=order, status=status)

    assert order.status == path[-1]
    assert order.version == 1 + len(path)
    notes = Interaction.objects.filter(related_type="order", related_id=order.pk, kind="note")
    assert notes.count() == len(path)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ([], "shipped"),
        ([], "returned"),
        (["paid", "shipped"], "cancelled"),
        (["cancelled"], "paid"),
        (["paid", "returned"], "shipped"),
        (["paid"], "paid"),
    ],
)
def test_forbidden_status_changes_are_409(org, make_order, path, wanted):
    order = make_order()
    for status in path:
        order = services.order_set_status(user=org.rep, order=order, status=status)

    with pytest.raises(ConflictError) as exc:
        services.order_set_status(user=org.rep, order=order, status=wanted)

    assert "status" in exc.value.fields
    order.refresh_from_db()
    assert order.status == (path[-1] if path else "new")


def test_stale_version_is_412(org, make_order):
    order = make_order()

    with pytest.raises(StaleVersionError):
        services.order_set_status(user=org.rep, order=order, status="paid", expected_version=7)

    order.refresh_from_db()
    assert (order.status, order.version) == ("new", 1)


def test_status_change_by_hidden_user_is_404(org, make_order):
    order = make_order()

    with pytest.raises(NotFoundError):
        services.order_set_status(user=org.other_rep, order=order, status="paid")

    order.refresh_from_db()
    assert order.status == "new"


def test_status_change_by_analyst_is_403(org, make_order):
    order = make_order()

    with pytest.raises(PermissionDeniedError):
        services.order_set_status(user=org.analyst, order=order, status="paid")


# --- update ------------------------------------------------------------------------------------


def test_update_new_order_note_and_channel(org, make_order):
    order = make_order()

    order = services.order_update(
        user=org.rep, order=order, data={"note": "Call before delivery", "channel": "phone"}
    )

    assert (order.note, order.channel, order.version) == ("Call before delivery", "phone", 2)


def test_update_date_reconverts_revenue(org, contact, products, usd_rate):
    from kliento.sales.catalog.models import CurrencyRate

    CurrencyRate.objects.create(currency="USD", rate=Decimal("100"), valid_from=dt.date(2026, 6, 1))
    order = services.order_create(
        user=org.rep,
        data={
            "contact": contact.pk,
            "currency": "USD",
            "ordered_at": "2026-03-15",
            "lines": [{"product": products[0].pk, "quantity": 1, "price": "10"}],
        },
    )

    order = services.order_update(user=org.rep, order=order, data={"ordered_at": "2026-07-01"})

    assert order.revenue_company == Decimal("1000.00")
    assert order.margin_company == Decimal("700.00")


def test_update_after_payment_is_409(org, make_order):
    order = services.order_set_status(user=org.rep, order=make_order(), status="paid")

    with pytest.raises(ConflictError):
        services.order_update(user=org.rep, order=order, data={"note": "late"})

    order.refresh_from_db()
    assert order.note == ""


# --- from a quote ------------------------------------------------------------------------------


def test_from_quote_copies_lines_customer_and_deal(org, make_quote):
    quote = make_quote()

    order = services.order_create_from_quote(user=org.rep, quote=quote)

    assert (order.quote_id, order.deal_id, order.contact_id, order.company_id) == (
        quote.pk,
        quote.deal_id,
        quote.contact_id,
        quote.company_id,
    )
    assert (order.owner_id, order.currency, order.status) == (org.rep.pk, "RUB", "new")
    assert (order.subtotal, order.discount_total, order.tax_total, order.total) == (
        Decimal("5000.00"),
        Decimal("450.00"),
        Decimal("910.00"),
        Decimal("5460.00"),
    )
    assert (order.revenue_company, order.cost_company, order.margin_company) == (
        Decimal("4550.00"),
        Decimal("1600.00"),
        Decimal("2950.00"),
    )
    lines = list(order.lines.order_by("position"))
    assert [(x.product_id, x.net, x.discount, x.tax) for x in lines] == [
        (
            quote.lines.get(position=0).product_id,
            Decimal("1800.00"),
            Decimal("200.00"),
            Decimal("360.00"),
        ),
        (None, Decimal("2750.00"), Decimal("250.00"), Decimal("550.00")),
    ]


def test_from_quote_is_idempotent(org, make_quote):
    quote = make_quote()

    first = services.order_create_from_quote(user=org.rep, quote=quote)
    second = services.order_create_from_quote(user=org.rep, quote=quote)

    assert first.pk == second.pk
    assert Order.objects.count() == 1
    assert Interaction.objects.filter(related_type="order", kind="purchase").count() == 1


def test_from_quote_that_is_not_accepted_is_409(org, make_quote):
    quote = make_quote(status="sent")

    with pytest.raises(ConflictError):
        services.order_create_from_quote(user=org.rep, quote=quote)

    assert Order.objects.count() == 0


def test_from_quote_without_user_is_the_customers_acceptance(org, make_quote):
    order = services.order_create_from_quote(user=None, quote=make_quote())

    assert order.owner_id == org.rep.pk
    assert AuditLog.objects.get(entity="order", object_id=order.pk).user_id is None


def test_status_enum_values_are_the_documented_ones():
    assert OrderStatus.values == ["new", "paid", "shipped", "cancelled", "returned"]
