"""The product rollup: order lines added up per month, owner and product (`ProductMonth`).

P&L by product over three years of three million orders would add up some ten million order
lines on every request; it reads the rollup for the whole months of its period instead and
the order lines only for the days at either end. The rollup is exact, never approximate:

- every service that writes an order calls `refresh_orders` (or `refresh`) in the same
  transaction, which recomputes that order's (month, owner) from the order lines; on
  PostgreSQL an advisory lock per (month, owner) makes two concurrent writers recompute one
  after the other, each seeing the other's committed order; SQLite has one writer anyway;
- bulk loaders (the demo, imports) call `refresh` once per batch or `rebuild` at the end;
- `kliento manage pnl_rollup` rebuilds everything (after a TIME_ZONE change, say).

Months are those of the company time zone (settings.TIME_ZONE), whatever zone is active.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from kliento.sales.catalog.money import company_currency
from kliento.sales.orders.models import NO_REVENUE_STATUSES, Order, OrderLine, ProductMonth

RATIO_FIELD = DecimalField(max_digits=30, decimal_places=10)
ZERO = Decimal("0")
LOCK_CLASS = 0x504E4C  # "PNL": the advisory-lock namespace of the rollup

Key = tuple[dt.date, int]  # (first day of the month, owner id)
ALL_PRODUCTS = -1  # the product_key of a (month, owner)'s number of orders


def company_amount(field: str, prefix: str = ""):
    """`field` (in the order currency) in the company currency, at the order's own rate:
    revenue_company / (total − tax)."""
    net = F(f"{prefix}total") - F(f"{prefix}tax_total")
    return Case(
        When(**{f"{prefix}currency": company_currency()}, then=F(field)),
        default=ExpressionWrapper(
            F(field) * F(f"{prefix}revenue_company") / NullIf(net, Value(ZERO)),
            output_field=RATIO_FIELD,
        ),
        output_field=RATIO_FIELD,
    )


def line_aggregates() -> dict:
    """What P&L by product adds up over order lines, and the rollup stores."""
    return {
        "orders": Count("order_id", distinct=True),
        "qty": Coalesce(Sum("quantity"), Value(ZERO)),
        "revenue": Coalesce(Sum("revenue_company"), Value(ZERO)),
        "costs": Coalesce(
            Sum(ExpressionWrapper(F("quantity") * F("cost"), output_field=RATIO_FIELD)),
            Value(ZERO),
        ),
        "discounts": Coalesce(Sum(company_amount("discount", "order__")), Value(ZERO)),
    }


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_start(month: dt.date) -> dt.datetime:
    """The first instant of `month` in the company time zone."""
    return timezone.make_aware(
        dt.datetime.combine(month, dt.time.min), timezone.get_default_timezone()
    )


def month_of(moment: dt.datetime) -> dt.date:
    return first_of_month(timezone.localtime(moment, timezone.get_default_timezone()).date())


def key_of(order: Order) -> Key:
    return month_of(order.ordered_at), order.owner_id


def _month_q(month: dt.date, owners: Iterable[int] | None, prefix: str = "") -> Q:
    q = Q(
        **{
            f"{prefix}ordered_at__gte": month_start(month),
            f"{prefix}ordered_at__lt": month_start(next_month(month)),
        }
    ) & ~Q(**{f"{prefix}status__in": NO_REVENUE_STATUSES})
    if owners is not None:
        q &= Q(**{f"{prefix}owner_id__in": sorted(owners)})
    return q


def _per_product(month: dt.date, owners: Iterable[int] | None) -> QuerySet:
    return (
        OrderLine.objects.filter(_month_q(month, owners, "order__"))
        .annotate(owner_key=F("order__owner_id"), product_key=Coalesce(F("product_id"), Value(0)))
        .values("owner_key", "product_key")
        .annotate(**line_aggregates())
        .order_by()
    )


def _orders_per_owner(month: dt.date, owners: Iterable[int] | None) -> QuerySet:
    # Every order has at least one line (the services refuse an order without), so counting
    # the orders counts the orders of the lines, without reading the lines.
    return (
        Order.objects.filter(_month_q(month, owners))
        .annotate(owner_key=F("owner_id"))
        .values("owner_key")
        .annotate(orders=Count("id"))
        .order_by()
    )


COLUMNS = "month, owner_id, product_key, orders, quantity, revenue, cost, discounts"


def _insert_month(month: dt.date, owners: Iterable[int] | None) -> None:
    """INSERT … SELECT the month's sums per product, and each owner's number of orders (which
    the products' rows can't give: an order has several products); the rows never pass
    through Python."""
    table = connection.ops.quote_name(ProductMonth._meta.db_table)
    month_param = connection.ops.adapt_datefield_value(month)
    sql, params = _per_product(month, owners).query.sql_with_params()
    count_sql, count_params = _orders_per_owner(month, owners).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({COLUMNS}) "
            "SELECT %s, s.owner_key, s.product_key, s.orders, s.qty, s.revenue, s.costs, "
            f"s.discounts FROM ({sql}) s",
            (month_param, *params),
        )
        cursor.execute(
            f"INSERT INTO {table} ({COLUMNS}) "
            f"SELECT %s, s.owner_key, {ALL_PRODUCTS}, s.orders, 0, 0, 0, 0 FROM ({count_sql}) s",
            (month_param, *count_params),
        )


def _lock(keys: list[Key]) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite: the order write before this already holds the only write lock
    with connection.cursor() as cursor:
        for month, owner in keys:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [LOCK_CLASS, (owner * 4096 + month.year * 12 + month.month) % 2**31],
            )


def refresh(keys: Iterable[Key]) -> None:
    """Recompute the rollup rows of these (month, owner) pairs from the order lines."""
    keys = sorted(set(keys))
    if not keys:
        return
    by_month: dict[dt.date, set[int]] = defaultdict(set)
    for month, owner in keys:
        by_month[month].add(owner)
    with transaction.atomic():
        _lock(keys)
        for month, owners in sorted(by_month.items()):
            ProductMonth.objects.filter(month=month, owner_id__in=sorted(owners)).delete()
            _insert_month(month, owners)


def refresh_orders(*orders: Order, before: Iterable[Key] = ()) -> None:
    """Recompute after writing `orders`; `before`: their keys before a change of date."""
    refresh([*(key_of(o) for o in orders), *before])


@transaction.atomic
def rebuild() -> int:
    """The whole rollup again from the order lines; returns the number of rows."""
    ProductMonth.objects.all().delete()
    span = Order.objects.aggregate(first=Min("ordered_at"), last=Max("ordered_at"))
    if span["first"] is None:
        return 0
    month, last = month_of(span["first"]), month_of(span["last"])
    while month <= last:
        _insert_month(month, None)
        month = next_month(month)
    return ProductMonth.objects.count()
