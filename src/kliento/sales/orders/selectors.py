"""Reads of orders, always from what the user may see (owner-based, like deals).

Also the analytics exposure: `order_facts` (exact per-order and per-line amounts and margins
in the company currency) and `orders_for_customer` (a customer's purchase history summary).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core import signing
from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from kliento.core.errors import (
    BadCursorError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from kliento.core.models import User
from kliento.core.permissions import can_read, can_write, record_q
from kliento.customers.models import Channel, Company, Contact, Interaction
from kliento.customers.selectors import MAX_LIMIT, Page, parse_id
from kliento.sales.catalog.money import money
from kliento.sales.orders.models import Order, OrderLine, OrderStatus

# Revenue counts orders that were not undone.
COUNTED = Q(status__in=[OrderStatus.NEW, OrderStatus.PAID, OrderStatus.SHIPPED])
SORTS = {
    "date": [("ordered_at", "dt"), ("id", "int")],
    "total": [("total", "dec"), ("id", "int")],
}
FILTERS = {
    "status",
    "channel",
    "owner_id",
    "contact_id",
    "company_id",
    "deal_id",
    "q",
    "date_from",
    "date_to",
}


def order_qs(user: User, *, for_write: bool = False) -> QuerySet[Order]:
    q = record_q(user, "order", for_write=for_write)
    qs = Order.objects.all()
    return qs.filter(q) if q is not None else qs


def order_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> Order:
    """The one gate: a hidden order is as missing as one that never existed."""
    pk = parse_id(pk)
    order = (
        Order.objects.select_related("contact", "company", "owner", "deal", "quote", "price_list")
        .filter(pk=pk)
        .first()
        if pk
        else None
    )
    if order is None or not can_read(user, "order", order):
        raise NotFoundError(_("No order with id %(id)s.") % {"id": pk})
    if for_write and not can_write(user, "order", order):
        raise PermissionDeniedError(_("You can view this order but not change it."))
    return order


def order_lines(order: Order) -> list[OrderLine]:
    return list(order.lines.select_related("product").order_by("position", "id"))


def order_timeline(order: Order) -> list[Interaction]:
    """The order's own entries on the customer timeline (creation, status changes)."""
    return list(
        Interaction.objects.filter(related_type="order", related_id=order.pk)
        .select_related("user")
        .order_by("-occurred_at", "-id")
    )


# --- lists ------------------------------------------------------------------------------------


def _day(raw: Any, name: str, errors: dict[str, str]) -> dt.date | None:
    if isinstance(raw, dt.date):
        return raw
    try:
        value = parse_date(str(raw).strip())
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2200:
        errors[name] = _("Expected a date (YYYY-MM-DD), got %(value)s.") % {"value": repr(raw)}
    return value


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def period_q(date_from: dt.date | None, date_to: dt.date | None, prefix: str = "") -> Q:
    """ordered_at within [date_from, date_to], both days inclusive, in local time."""
    q = Q()
    if date_from:
        q &= Q(**{f"{prefix}ordered_at__gte": _day_start(date_from)})
    if date_to:
        q &= Q(**{f"{prefix}ordered_at__lt": _day_start(date_to + dt.timedelta(days=1))})
    return q


def _filtered(user: User, filters: dict[str, Any]) -> QuerySet[Order]:
    qs = order_qs(user)
    errors: dict[str, str] = {}
    for key, raw in filters.items():
        if raw in (None, "") or key in {"sort", "cursor", "limit"}:
            continue
        if key not in FILTERS:
            errors[key] = _("Unknown filter.")
            continue
        text = str(raw).strip()
        if key == "status":
            statuses = [s for s in text.split(",") if s]
            bad = [s for s in statuses if s not in OrderStatus.values]
            if bad:
                errors[key] = _("%(value)s is not one of: %(allowed)s.") % {
                    "value": repr(bad[0]),
                    "allowed": ", ".join(OrderStatus.values),
                }
            else:
                qs = qs.filter(status__in=statuses)
        elif key == "channel":
            if text not in Channel.values:
                errors[key] = _("%(value)s is not one of: %(allowed)s.") % {
                    "value": repr(text),
                    "allowed": ", ".join(Channel.values),
                }
            else:
                qs = qs.filter(channel=text)
        elif key in {"owner_id", "contact_id", "company_id", "deal_id"}:
            value = parse_id(text)
            if value is None:
                errors[key] = _("Expected an id.")
            else:
                qs = qs.filter(**{key: value})
        elif key == "q":
            text = text[:100]
            q = (
                Q(number__istartswith=text)
                | Q(contact__last_name__istartswith=text)
                | Q(contact__first_name__istartswith=text)
                | Q(contact__email__istartswith=text.lower())
                | Q(company__name__istartswith=text)
            )
            qs = qs.filter(q)
        elif key in {"date_from", "date_to"}:
            day = _day(raw, key, errors)
            if day is not None:
                qs = qs.filter(period_q(day, None) if key == "date_from" else period_q(None, day))
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    return qs


def _encode(values: list[Any], direction: str) -> str:
    plain = [
        v.isoformat() if isinstance(v, dt.datetime) else str(v) if isinstance(v, Decimal) else v
        for v in values
    ]
    return signing.dumps({"v": plain, "d": direction}, salt="kliento.orders.cursor")


def _decode(cursor: str, kinds: list[str]) -> tuple[list[Any], str]:
    try:
        data = signing.loads(cursor, salt="kliento.orders.cursor")
        values, direction = data["v"], data["d"]
        if direction not in {"n", "p"} or len(values) != len(kinds):
            raise ValueError
        result: list[Any] = []
        for value, kind in zip(values, kinds, strict=True):
            if kind == "dt":
                parsed = parse_datetime(value)
                if parsed is None:
                    raise ValueError
                result.append(parsed)
            elif kind == "dec":
                result.append(Decimal(value))
            else:
                result.append(int(value))
        return result, direction
    except (signing.BadSignature, KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise BadCursorError(_("The cursor is invalid; start again from the first page.")) from exc


def keyset(
    qs: QuerySet, fields: list[tuple[str, str]], desc: bool, cursor: str | None, limit: int
) -> Page:
    """Keyset pagination over `fields` (the last one unique), without OFFSET."""
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise ValidationFailedError(
            fields={"limit": _("Must be between 1 and %(max)s.") % {"max": MAX_LIMIT}}
        )
    reverse = False
    if cursor:
        values, direction = _decode(cursor, [k for _n, k in fields])
        reverse = direction == "p"
        down = desc != reverse
        after = Q(pk__in=[])
        equal: dict[str, Any] = {}
        for (name, _kind), value in zip(fields, values, strict=True):
            after |= Q(**equal, **{f"{name}__{'lt' if down else 'gt'}": value})
            equal[name] = value
        qs = qs.filter(after)
    down = desc != reverse
    rows = list(qs.order_by(*[("-" if down else "") + name for name, _k in fields])[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()

    def key(obj):
        return [getattr(obj, name) for name, _k in fields]

    page = Page(items=rows)
    if rows:
        if has_more or reverse:
            page.next_cursor = _encode(key(rows[-1]), "n")
        if cursor and (not reverse or has_more):
            page.prev_cursor = _encode(key(rows[0]), "p")
    return page


def _sort(sort: str) -> tuple[list[tuple[str, str]], bool]:
    sort = sort or "-date"
    fields = SORTS.get(sort.lstrip("-"))
    if fields is None:
        raise ValidationFailedError(
            fields={
                "sort": _("Unknown sort %(sort)s; use one of %(allowed)s.")
                % {"sort": repr(sort), "allowed": "date, -date, total, -total"}
            }
        )
    return fields, sort.startswith("-")


def order_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    sort: str = "-date",
    cursor: str | None = None,
    limit: int = 50,
    with_totals: bool = True,
) -> Page:
    """A page of visible orders; `extra["totals"]` sums the whole filtered list, unless
    `with_totals` is off (an export reads every page: summing the list for each is waste)."""
    fields, desc = _sort(sort)
    qs = _filtered(user, dict(filters or {}))
    page = keyset(qs.select_related("contact", "company", "owner"), fields, desc, cursor, limit)
    if with_totals:
        page.extra["totals"] = order_totals(qs)
    return page


def order_totals(qs: QuerySet[Order]) -> dict[str, Any]:
    """Count of the list, and revenue/margin of its orders that count (not cancelled/returned)."""
    counted = qs.order_by().aggregate(
        count=Count("id"),
        revenue=Sum("revenue_company", filter=COUNTED),
        cost=Sum("cost_company", filter=COUNTED),
        margin=Sum("margin_company", filter=COUNTED),
    )
    return {
        "count": counted["count"],
        "revenue": money(counted["revenue"] or 0),
        "cost": money(counted["cost"] or 0),
        "margin": money(counted["margin"] or 0),
    }


# --- analytics ----------------------------------------------------------------------------------


def _line_fact(line: OrderLine) -> dict[str, Any]:
    cost = (line.quantity * line.cost).quantize(Decimal("0.01"))
    return {
        "id": line.pk,
        "product_id": line.product_id,
        "sku": line.product.sku if line.product else "",
        "description": line.description,
        "quantity": line.quantity,
        "price": line.price,
        "discount": line.discount,
        "net": line.net,
        "tax_rate": line.tax_rate,
        "tax": line.tax,
        "unit_cost": line.cost,
        "revenue_company": line.revenue_company,
        "cost_company": cost,
        "margin_company": line.revenue_company - cost,
    }


def order_fact(order: Order, lines: list[OrderLine] | None = None) -> dict[str, Any]:
    return {
        "id": order.pk,
        "number": order.number,
        "ordered_at": order.ordered_at,
        "status": order.status,
        "counted": order.status not in {OrderStatus.CANCELLED, OrderStatus.RETURNED},
        "channel": order.channel,
        "contact_id": order.contact_id,
        "company_id": order.company_id,
        "owner_id": order.owner_id,
        "deal_id": order.deal_id,
        "quote_id": order.quote_id,
        "currency": order.currency,
        "subtotal": order.subtotal,
        "discount_total": order.discount_total,
        "tax_total": order.tax_total,
        "total": order.total,
        "revenue_company": order.revenue_company,
        "cost_company": order.cost_company,
        "margin_company": order.margin_company,
        "lines": [_line_fact(line) for line in (lines if lines is not None else [])],
    }


def order_facts(
    *,
    user: User,
    date_from: dt.date,
    date_to: dt.date,
    statuses: list[str] | None = None,
    include_lines: bool = True,
    cursor: str | None = None,
    limit: int = 200,
) -> Page:
    """Visible orders dated within [date_from, date_to] (local days, inclusive), oldest first,
    as plain dicts with exact amounts: per order and, with include_lines, per line.

    `counted` says whether the order is revenue (not cancelled or returned); amounts in the
    company currency are revenue (net of discounts and tax), cost and margin.
    """
    errors: dict[str, str] = {}
    if date_to < date_from:
        errors["date_to"] = _("The end of the period is before its start.")
    for status in statuses or []:
        if status not in OrderStatus.values:
            errors["status"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(status),
                "allowed": ", ".join(OrderStatus.values),
            }
    if errors:
        raise ValidationFailedError(fields=errors)
    qs = order_qs(user).filter(period_q(date_from, date_to))
    if statuses:
        qs = qs.filter(status__in=statuses)
    if include_lines:
        qs = qs.prefetch_related(
            Prefetch(
                "lines",
                queryset=OrderLine.objects.select_related("product").order_by("position", "id"),
            )
        )
    page = keyset(qs, SORTS["date"], False, cursor, limit)
    page.items = [order_fact(o, list(o.lines.all()) if include_lines else None) for o in page.items]
    return page


def orders_for_customer(
    *,
    user: User,
    contact: Contact | None = None,
    company: Company | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """A customer's visible orders, newest first, with count, revenue, margin and last order.

    Revenue and margin (company currency) count orders that were not cancelled or returned.
    """
    qs = order_qs(user)
    if contact is not None:
        qs = qs.filter(contact_id=contact.pk)
    elif company is not None:
        qs = qs.filter(company_id=company.pk)
    else:
        raise ValueError("orders_for_customer needs a contact or a company")
    summary = qs.order_by().aggregate(
        count=Count("id"),
        revenue=Sum("revenue_company", filter=COUNTED),
        margin=Sum("margin_company", filter=COUNTED),
        last_at=Max("ordered_at"),
    )
    orders = list(qs.select_related("owner").order_by("-ordered_at", "-id")[:limit])
    return {
        "orders": orders,
        "count": summary["count"],
        "revenue": money(summary["revenue"] or 0),
        "margin": money(summary["margin"] or 0),
        "last_order": orders[0] if orders else None,
        "last_at": summary["last_at"],
        "more": max(summary["count"] - len(orders), 0),
        "contact": contact,
        "company": company,
    }
