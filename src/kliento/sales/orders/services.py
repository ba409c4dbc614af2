"""Every change to orders: created directly or from an accepted quote, status changes, edits.

Amounts are exact Decimals: each line is rounded to cents once (gross, discount, tax), the
order's totals are sums of its lines, and revenue/cost/margin are kept in the company
currency at the order date's rate so analytics never convert again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from kliento.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, User
from kliento.core.permissions import can_read, can_write, record_q, scope_for
from kliento.core.services import audit_diff, audit_record
from kliento.customers.models import Channel, Company, Contact, Direction, Interaction
from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.catalog.money import (
    beyond_max,
    beyond_max_message,
    company_currency,
    max_money_shown,
    money,
    rate_on,
)
from kliento.sales.orders import rollup
from kliento.sales.orders.models import Order, OrderLine, OrderStatus

HUNDRED = Decimal("100")
MAX_LINES = 500
MAX_QUANTITY = Decimal("999999999")
MAX_PRICE = Decimal("9999999999999")

# Which status may follow which; anything else is a 409.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    OrderStatus.NEW: (OrderStatus.PAID, OrderStatus.CANCELLED),
    OrderStatus.PAID: (OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.RETURNED),
    OrderStatus.SHIPPED: (OrderStatus.RETURNED,),
    OrderStatus.CANCELLED: (),
    OrderStatus.RETURNED: (),
}
UPDATE_FIELDS = {"note", "channel", "ordered_at"}


@dataclass
class LineCalc:
    """One priced line: what the order stores and what its totals add up."""

    product: Product | None
    description: str
    quantity: Decimal
    price: Decimal
    discount: Decimal
    tax_rate: Decimal
    cost: Decimal
    gross: Decimal = Decimal("0")
    net: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    revenue_company: Decimal = Decimal("0")


@dataclass
class Totals:
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    revenue_company: Decimal
    cost_company: Decimal
    margin_company: Decimal


# --- exact arithmetic -------------------------------------------------------------------------


def line_discount(gross: Decimal, kind: str, value: Decimal) -> Decimal:
    if kind == "percent":
        return money(gross * value / HUNDRED)
    if kind == "amount":
        return money(value)
    return Decimal("0.00")


def compute_totals(lines: list[LineCalc], rate: Decimal) -> Totals:
    """Fill each line's gross/net/tax/revenue and return the order totals (all to the cent)."""
    for line in lines:
        line.gross = money(line.quantity * line.price)
        line.net = line.gross - line.discount
        line.tax = money(line.net * line.tax_rate / HUNDRED)
        line.revenue_company = money(line.net * rate)
    subtotal = sum((line.gross for line in lines), Decimal("0.00"))
    discount_total = sum((line.discount for line in lines), Decimal("0.00"))
    tax_total = sum((line.tax for line in lines), Decimal("0.00"))
    revenue = sum((line.revenue_company for line in lines), Decimal("0.00"))
    cost = sum((money(line.quantity * line.cost) for line in lines), Decimal("0.00"))
    return Totals(
        subtotal=subtotal,
        discount_total=discount_total,
        tax_total=tax_total,
        total=subtotal - discount_total + tax_total,
        revenue_company=revenue,
        cost_company=cost,
        margin_company=revenue - cost,
    )


def amount_errors(lines: list[LineCalc], totals: Totals) -> dict[str, str]:
    """Lines, then the order, whose amounts come to more than a money column keeps."""
    errors = {
        f"lines.{i}": beyond_max_message()
        for i, line in enumerate(lines)
        if beyond_max(line.gross, line.tax, line.revenue_company, line.quantity * line.cost)
    }
    if not errors and beyond_max(*vars(totals).values()):
        errors["lines"] = _(
            "The order comes to more than %(max)s, the largest Kliento keeps; split it."
        ) % {"max": max_money_shown()}
    return errors


# --- input cleaning ---------------------------------------------------------------------------


def _decimal(raw: Any, field: str, errors: dict[str, str]) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, float | bool):
        raw = str(raw) if isinstance(raw, float) else None
    try:
        value = Decimal(str(raw).strip().replace(" ", "").replace(",", "."))
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = _("Expected a number.")
        return None
    if not value.is_finite():
        errors[field] = _("Expected a number.")
        return None
    return value


def _id(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    if hasattr(raw, "pk"):
        return raw.pk
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 18:
        return -1
    return int(text)


def _ordered_at(raw: Any, errors: dict[str, str]) -> dt.datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        value = raw
    elif isinstance(raw, dt.date):
        value = dt.datetime.combine(raw, dt.time(12, 0))
    else:
        text = str(raw).strip()
        try:
            value = parse_datetime(text)
            if value is None:
                day = parse_date(text)
                value = dt.datetime.combine(day, dt.time(12, 0)) if day else None
        except ValueError:
            value = None
    if value is None or not 1900 <= value.year <= 2200:
        errors["ordered_at"] = _("Expected a date (YYYY-MM-DD).")
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _visible(model, user: User, entity: str, pk: int):
    qs = model.objects.all()
    q = record_q(user, entity)
    if q is not None:
        qs = qs.filter(q)
    return qs.filter(pk=pk).first()


def _clean_lines(
    raw_lines: Any, price_list: PriceList | None, errors: dict[str, str]
) -> list[LineCalc]:
    if not isinstance(raw_lines, list | tuple) or not raw_lines:
        errors["lines"] = _("An order needs at least one line.")
        return []
    if len(raw_lines) > MAX_LINES:
        errors["lines"] = _("At most %(n)s lines.") % {"n": MAX_LINES}
        return []
    product_ids = {
        pid
        for raw in raw_lines
        if isinstance(raw, dict) and (pid := _id(raw.get("product"))) and pid > 0
    }
    found = Product.objects.in_bulk(list(product_ids))
    prices = {}
    if price_list is not None:
        prices = dict(
            PriceListItem.objects.filter(
                price_list=price_list, product_id__in=product_ids
            ).values_list("product_id", "price")
        )
    lines: list[LineCalc] = []
    for i, raw in enumerate(raw_lines):
        name = f"lines.{i}"
        if not isinstance(raw, dict):
            errors[name] = _("Expected a line object.")
            continue
        pid = _id(raw.get("product"))
        product = found.get(pid) if pid else None
        if pid is None:
            errors[f"{name}.product"] = _("Choose a product.")
        elif product is None:
            errors[f"{name}.product"] = _("No product with id %(id)s.") % {"id": pid}
        elif not product.active:
            errors[f"{name}.product"] = _(
                "%(product)s is no longer sold (inactive); choose another product."
            ) % {"product": product.name}
        quantity = _decimal(raw.get("quantity"), f"{name}.quantity", errors)
        if quantity is None and f"{name}.quantity" not in errors:
            errors[f"{name}.quantity"] = _("Enter a quantity.")
        elif quantity is not None and quantity <= 0:
            errors[f"{name}.quantity"] = _("The quantity must be greater than zero.")
        elif quantity is not None and (quantity > MAX_QUANTITY or -quantity.as_tuple()[2] > 3):
            errors[f"{name}.quantity"] = _("At most 999999999 with 3 decimals.")
        price = _decimal(raw.get("price"), f"{name}.price", errors)
        if price is None and f"{name}.price" not in errors and product is not None:
            price = prices.get(product.pk)
            if price is None:
                errors[f"{name}.price"] = (
                    _("%(product)s is not in the price list: enter a price.")
                    % {"product": product.name}
                    if price_list
                    else _("Enter a price (the order has no price list).")
                )
        if price is not None and price < 0:
            errors[f"{name}.price"] = _("The price can't be negative.")
        elif price is not None and (price > MAX_PRICE or -price.as_tuple()[2] > 2):
            errors[f"{name}.price"] = _("Too large or more than 2 decimals.")
        kind = raw.get("discount_kind") or ""
        if kind not in {"", "percent", "amount"}:
            errors[f"{name}.discount_kind"] = _("Use percent or amount.")
            kind = ""
        value = _decimal(raw.get("discount_value"), f"{name}.discount_value", errors)
        value = value or Decimal("0")
        discount = Decimal("0.00")
        if value < 0:
            errors[f"{name}.discount_value"] = _("A discount can't be negative.")
        elif kind == "percent" and value > HUNDRED:
            errors[f"{name}.discount_value"] = _("At most 100%.")
        elif value and not kind:
            errors[f"{name}.discount_kind"] = _(
                "Say whether the discount is a percent or an amount."
            )
        elif price is not None and quantity is not None and quantity > 0 and value > MAX_PRICE:
            errors[f"{name}.discount_value"] = _("Too large.")
        elif price is not None and price >= 0 and quantity is not None and quantity > 0:
            gross = money(quantity * price)
            discount = line_discount(gross, kind, value)
            if discount > gross:
                errors[f"{name}.discount_value"] = _("The discount is larger than the line.")
        description = str(raw.get("description") or "").strip()[:500]
        if product is None or f"{name}.product" in errors or f"{name}.quantity" in errors:
            continue
        if price is None or any(key.startswith(f"{name}.") for key in errors):
            continue
        lines.append(
            LineCalc(
                product=product,
                description=description or product.name,
                quantity=quantity,
                price=price,
                discount=discount,
                tax_rate=product.tax_rate,
                cost=product.cost,
            )
        )
    return lines


def _next_number(day: dt.date) -> str:
    prefix = f"O-{day.year}-"
    last = (
        Order.objects.filter(number__startswith=prefix)
        .order_by(Length("number").desc(), "-number")
        .values_list("number", flat=True)
        .first()
    )
    seq = int(last[len(prefix) :]) + 1 if last and last[len(prefix) :].isdigit() else 1
    return f"{prefix}{seq:06d}"


def _save_with_number(order: Order) -> None:
    """Insert with the next free number; a concurrent insert that took it makes us retry."""
    for attempt in range(10):
        order.number = _next_number(timezone.localdate(order.ordered_at))
        if attempt:
            # Another transaction took our number; skip past it.
            prefix, seq = order.number.rsplit("-", 1)
            order.number = f"{prefix}-{int(seq) + attempt:06d}"
        try:
            with transaction.atomic():
                order.save()
            return
        except IntegrityError:
            if Order.objects.filter(number=order.number).exists():
                continue
            raise
    raise ConflictError(_("Could not number the order; try again."))


def _timeline(
    *, user: User | None, order: Order, kind: str, subject: str, body: str = ""
) -> Interaction | None:
    if order.contact_id is None and order.company_id is None:
        return None
    return Interaction.objects.create(
        kind=kind,
        channel=order.channel if kind == "purchase" else Channel.OTHER,
        direction=Direction.IN if kind == "purchase" else Direction.INTERNAL,
        occurred_at=order.ordered_at if kind == "purchase" else timezone.now(),
        subject=subject[:255],
        body=body,
        user=user,
        contact_id=order.contact_id,
        company_id=order.company_id,
        related_type="order",
        related_id=order.pk,
    )


def _amount(value: Decimal, currency: str) -> str:
    return f"{value:,.2f}".replace(",", "\u00a0") + f" {currency}"


def _purchase_subject(order: Order) -> str:
    return (
        _("Order %(number)s · %(total)s")
        % {"number": order.number, "total": _amount(order.total, order.currency)}
    )[:255]


def order_timeline_sync(*, user: User | None, order: Order) -> None:
    """Bring the order's purchase entry on the customer's timeline in line with the order:
    its subject (number and total), date, channel and customer. An order without one gets it
    (when it has a customer), attributed to `user`.

    For writers that replace an order's values wholesale, like the sales import; they audit the
    change themselves.
    """
    purchase = Interaction.objects.filter(
        related_type="order", related_id=order.pk, kind="purchase"
    )
    subject = _purchase_subject(order)
    updated = purchase.update(
        subject=subject,
        occurred_at=order.ordered_at,
        channel=order.channel,
        contact_id=order.contact_id,
        company_id=order.company_id,
    )
    if not updated:
        _timeline(user=user, order=order, kind="purchase", subject=subject)


def _require_writer(user: User) -> None:
    if not scope_for(user).may_write:
        raise PermissionDeniedError(_("Your role can view orders but not change them."))


def _check_version(order: Order, expected_version: int | None) -> None:
    if expected_version is not None and order.version != expected_version:
        raise StaleVersionError(
            _(
                "This order was changed by someone else (now version %(current)s, "
                "you had %(expected)s). Reload it and apply your change again."
            )
            % {"current": order.version, "expected": expected_version}
        )


# --- create -----------------------------------------------------------------------------------


@transaction.atomic
def order_create(*, user: User, data: dict[str, Any]) -> Order:
    """An order placed directly: data keys contact, company, owner, deal (ids), ordered_at,
    channel, currency, price_list (id), note, lines [{product, quantity, price?,
    discount_kind?, discount_value?, description?}]."""
    _require_writer(user)
    errors: dict[str, str] = {}
    unknown = set(data) - {
        "contact",
        "company",
        "owner",
        "deal",
        "ordered_at",
        "channel",
        "currency",
        "price_list",
        "note",
        "lines",
    }
    for key in sorted(unknown):
        errors[key] = _("Unknown field.")
    contact = company = deal = price_list = None
    contact_id, company_id = _id(data.get("contact")), _id(data.get("company"))
    if contact_id:
        contact = _visible(Contact, user, "contact", contact_id)
        if contact is None:
            errors["contact"] = _("No contact with id %(id)s.") % {"id": contact_id}
    if company_id:
        company = _visible(Company, user, "company", company_id)
        if company is None:
            errors["company"] = _("No company with id %(id)s.") % {"id": company_id}
    if not contact_id and not company_id:
        errors["contact"] = _("Choose the customer: a contact, a company or both.")
    deal_id = _id(data.get("deal"))
    if deal_id:
        from kliento.sales.deals.models import Deal

        deal = _visible(Deal, user, "deal", deal_id)
        if deal is None:
            errors["deal"] = _("No deal with id %(id)s.") % {"id": deal_id}
    owner_id = _id(data.get("owner")) or user.pk
    scope = scope_for(user)
    owner = User.objects.filter(pk=owner_id, is_active=True).first() if owner_id > 0 else None
    if owner is None:
        errors["owner"] = _("No active user with id %(id)s.") % {"id": data.get("owner")}
    elif not scope.write_all and owner.pk not in scope.owner_ids:
        errors["owner"] = _("You can only give orders to yourself or people in your team.")
    channel = data.get("channel") or Channel.OTHER
    if channel not in Channel.values:
        errors["channel"] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(channel),
            "allowed": ", ".join(Channel.values),
        }
    ordered_at = _ordered_at(data.get("ordered_at"), errors) or timezone.now()
    day = timezone.localdate(ordered_at)
    price_list_id = _id(data.get("price_list"))
    if price_list_id:
        price_list = PriceList.objects.filter(pk=price_list_id).first()
        if price_list is None:
            errors["price_list"] = _("No price list with id %(id)s.") % {"id": price_list_id}
        elif not price_list.is_valid_on(day):
            errors["price_list"] = _(
                "The price list %(name)s is not valid on %(day)s; choose a current one."
            ) % {"name": price_list.name, "day": day.isoformat()}
    currency = str(data.get("currency") or "").strip().upper()
    if not currency:
        currency = price_list.currency if price_list else company_currency()
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = _("Use a three-letter currency code such as RUB.")
    elif price_list is not None and price_list.currency != currency:
        errors["currency"] = _("The price list is in %(currency)s; the order must be too.") % {
            "currency": price_list.currency
        }
    note = str(data.get("note") or "").strip()
    if len(note) > 5000:
        errors["note"] = _("At most %(n)s characters.") % {"n": 5000}
    lines = _clean_lines(data.get("lines"), price_list, errors)
    rate = None
    if "currency" not in errors:
        try:
            rate = rate_on(currency, day)
        except ValidationFailedError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailedError(fields=errors)
    totals = compute_totals(lines, rate)
    if errors := amount_errors(lines, totals):
        raise ValidationFailedError(fields=errors)
    order = Order(
        status=OrderStatus.NEW,
        ordered_at=ordered_at,
        channel=channel,
        contact=contact,
        company=company,
        owner=owner,
        deal=deal,
        price_list=price_list,
        currency=currency,
        note=note,
        **totals.__dict__,
    )
    order_insert(user=user, order=order, lines=lines)
    rollup.refresh_orders(order)
    return order


def order_insert(*, user: User | None, order: Order, lines: list[LineCalc], quote=None) -> None:
    """Insert a new, priced order with its lines: the next free number, the lines in the
    given order, the audit row and the purchase entry on the customer's timeline.

    The last step shared by `order_create`, `order_create_from_quote` and the sales import:
    the caller validates, fills the totals (`compute_totals`) and holds the transaction. The
    P&L rollup is the caller's to refresh (`rollup.refresh_orders`, or once per import batch).
    """
    _save_with_number(order)
    _save_lines(order, lines)
    _record_created(user=user, order=order, quote=quote)


def order_lines_replace(*, order: Order, lines: list[LineCalc]) -> None:
    """Replace the stored lines of `order` with `lines` (priced by `compute_totals`).

    Only the lines: the caller saves the order's totals, audits and holds the transaction.
    """
    OrderLine.objects.filter(order=order).delete()
    _save_lines(order, lines)


def _save_lines(order: Order, lines: list[LineCalc]) -> None:
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                position=i,
                product=line.product,
                description=line.description,
                quantity=line.quantity,
                price=line.price,
                discount=line.discount,
                tax_rate=line.tax_rate,
                tax=line.tax,
                net=line.net,
                cost=line.cost,
                revenue_company=line.revenue_company,
            )
            for i, line in enumerate(lines)
        ]
    )


def _record_created(*, user: User | None, order: Order, quote=None) -> None:
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="order",
        obj=order,
        changes={
            "number": [None, order.number],
            "total": [None, str(order.total)],
            "currency": [None, order.currency],
            **({"quote": [None, quote.pk]} if quote is not None else {}),
        },
    )
    subject = _purchase_subject(order)
    body = (
        _("From quote %(quote)s.") % {"quote": f"{quote.number} v{quote.revision}"}
        if quote is not None
        else ""
    )
    _timeline(user=user, order=order, kind="purchase", subject=subject, body=body)


@transaction.atomic
def order_create_from_quote(*, user: User | None, quote) -> Order:
    """The order of an accepted quote; calling it again returns the same order."""
    from kliento.sales.quotes.models import Quote, QuoteStatus

    existing = Order.objects.filter(quote_id=quote.pk).first()
    if existing is not None:
        return existing
    if user is not None:
        _require_writer(user)
    # Lock the quote so two acceptances at once make one order.
    quote = Quote.objects.select_for_update(of=("self",)).select_related("deal").get(pk=quote.pk)
    existing = Order.objects.filter(quote_id=quote.pk).first()
    if existing is not None:
        return existing
    if quote.status != QuoteStatus.ACCEPTED:
        raise ConflictError(
            _("Only an accepted quote becomes an order; quote %(number)s is %(status)s.")
            % {"number": quote.number, "status": quote.get_status_display().lower()}
        )
    ordered_at = timezone.now()
    rate = rate_on(quote.currency, timezone.localdate(ordered_at))
    lines = []
    for line in quote.lines.select_related("product").order_by("position", "id"):
        gross = money(line.quantity * line.price)
        lines.append(
            LineCalc(
                product=line.product,
                description=line.description,
                quantity=line.quantity,
                price=line.price,
                discount=gross - line.net,
                tax_rate=line.tax_rate,
                cost=line.cost,
                gross=gross,
                net=line.net,
                tax=line.tax,
                revenue_company=money(line.net * rate),
            )
        )
    subtotal = sum((x.gross for x in lines), Decimal("0.00"))
    discount_total = sum((x.discount for x in lines), Decimal("0.00"))
    tax_total = sum((x.tax for x in lines), Decimal("0.00"))
    revenue = sum((x.revenue_company for x in lines), Decimal("0.00"))
    cost = sum((money(x.quantity * x.cost) for x in lines), Decimal("0.00"))
    deal = quote.deal
    channel = Channel.EMAIL if quote.sent_at else Channel.OTHER
    order = Order(
        status=OrderStatus.NEW,
        ordered_at=ordered_at,
        channel=channel,
        contact_id=quote.contact_id or (deal.contact_id if deal else None),
        company_id=quote.company_id or (deal.company_id if deal else None),
        owner_id=deal.owner_id if deal is not None else quote.owner_id,
        deal=deal,
        quote=quote,
        price_list_id=quote.price_list_id,
        currency=quote.currency,
        subtotal=subtotal,
        discount_total=discount_total,
        tax_total=tax_total,
        total=subtotal - discount_total + tax_total,
        revenue_company=revenue,
        cost_company=cost,
        margin_company=revenue - cost,
    )
    order_insert(user=user, order=order, lines=lines, quote=quote)
    rollup.refresh_orders(order)
    return order


# --- change -----------------------------------------------------------------------------------


def _lock_for_write(user: User, order: Order) -> Order:
    if not can_read(user, "order", order):
        raise NotFoundError(_("No order with id %(id)s.") % {"id": order.pk})
    if not can_write(user, "order", order):
        raise PermissionDeniedError(_("You can view this order but not change it."))
    return Order.objects.select_for_update().get(pk=order.pk)


@transaction.atomic
def order_set_status(
    *, user: User, order: Order, status: str, expected_version: int | None = None
) -> Order:
    if status not in OrderStatus.values:
        raise ValidationFailedError(
            fields={
                "status": _("%(value)s is not one of: %(allowed)s.")
                % {"value": repr(status), "allowed": ", ".join(OrderStatus.values)}
            }
        )
    order = _lock_for_write(user, order)
    _check_version(order, expected_version)
    allowed = TRANSITIONS[order.status]
    if status not in allowed:
        current = OrderStatus(order.status).label.lower()
        wanted = OrderStatus(status).label.lower()
        if allowed:
            message = _(
                "An order that is %(current)s can't become %(wanted)s; it can become: %(allowed)s."
            ) % {
                "current": current,
                "wanted": wanted,
                "allowed": ", ".join(str(OrderStatus(s).label).lower() for s in allowed),
            }
        else:
            message = _("The order is %(current)s; its status can't change any more.") % {
                "current": current
            }
        raise ConflictError(message, fields={"status": message})
    before = order.status
    order.status = status
    order.version += 1
    order.updated_at = timezone.now()
    order.save(update_fields=["status", "version", "updated_at"])
    rollup.refresh_orders(order)
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="order",
        obj=order,
        changes={"status": [before, status]},
    )
    _timeline(
        user=user,
        order=order,
        kind="note",
        subject=_("Order %(number)s: %(before)s → %(after)s")
        % {
            "number": order.number,
            "before": OrderStatus(before).label,
            "after": OrderStatus(status).label,
        },
    )
    return order


@transaction.atomic
def order_update(
    *, user: User, order: Order, data: dict[str, Any], expected_version: int | None = None
) -> Order:
    """Change the note, channel or date of an order that is still new."""
    errors: dict[str, str] = {}
    for key in sorted(set(data) - UPDATE_FIELDS):
        errors[key] = _("Unknown field, or not editable: only note, channel and ordered_at.")
    if errors:
        raise ValidationFailedError(fields=errors)
    order = _lock_for_write(user, order)
    _check_version(order, expected_version)
    if order.status != OrderStatus.NEW:
        raise ConflictError(
            _("Only a new order can be edited; this one is %(status)s.")
            % {"status": OrderStatus(order.status).label.lower()}
        )
    before = {"note": order.note, "channel": order.channel, "ordered_at": order.ordered_at}
    after = dict(before)
    if "note" in data:
        note = str(data["note"] or "").strip()
        if len(note) > 5000:
            errors["note"] = _("At most %(n)s characters.") % {"n": 5000}
        after["note"] = note
    if "channel" in data:
        if data["channel"] not in Channel.values:
            errors["channel"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(data["channel"]),
                "allowed": ", ".join(Channel.values),
            }
        after["channel"] = data["channel"]
    if "ordered_at" in data:
        value = _ordered_at(data["ordered_at"], errors)
        if value is None and "ordered_at" not in errors:
            errors["ordered_at"] = _("Expected a date (YYYY-MM-DD).")
        after["ordered_at"] = value
    if errors:
        raise ValidationFailedError(fields=errors)
    changes = audit_diff(before, after)
    if not changes:
        return order
    key_before = rollup.key_of(order)
    update_fields = ["note", "channel", "ordered_at", "version", "updated_at"]
    order.note, order.channel, order.ordered_at = (
        after["note"],
        after["channel"],
        after["ordered_at"],
    )
    if "ordered_at" in changes:
        # Revenue is converted at the order date's rate: a new date may mean a new rate.
        rate = rate_on(order.currency, timezone.localdate(order.ordered_at))
        lines = list(order.lines.all())
        for line in lines:
            line.revenue_company = money(line.net * rate)
        OrderLine.objects.bulk_update(lines, ["revenue_company"])
        order.revenue_company = sum((x.revenue_company for x in lines), Decimal("0.00"))
        order.margin_company = order.revenue_company - order.cost_company
        update_fields += ["revenue_company", "margin_company"]
        Interaction.objects.filter(
            related_type="order", related_id=order.pk, kind="purchase"
        ).update(occurred_at=order.ordered_at)
    order.version += 1
    order.updated_at = timezone.now()
    order.save(update_fields=update_fields)
    rollup.refresh_orders(order, before=[key_before])
    audit_record(
        user=user, action=AuditLog.Action.UPDATE, entity="order", obj=order, changes=changes
    )
    return order


def order_preview(*, data: dict[str, Any]) -> tuple[list[LineCalc | None], Totals, dict]:
    """Price the lines of an order being entered, saving nothing (the form's live totals).

    Returns one LineCalc per input line (None where the line is not complete or invalid),
    the totals of the valid lines, and the errors by field.
    """
    errors: dict[str, str] = {}
    price_list = None
    price_list_id = _id(data.get("price_list"))
    if price_list_id and price_list_id > 0:
        price_list = PriceList.objects.filter(pk=price_list_id).first()
    raw_lines = data.get("lines") or []
    priced: list[LineCalc | None] = []
    for i, raw in enumerate(raw_lines):
        line_errors: dict[str, str] = {}
        calc = _clean_lines([raw], price_list, line_errors)
        for key, message in line_errors.items():
            errors[key.replace("lines.0", f"lines.{i}", 1)] = message
        priced.append(calc[0] if calc else None)
    currency = str(data.get("currency") or "").upper() or (
        price_list.currency if price_list else company_currency()
    )
    try:
        rate = rate_on(currency, timezone.localdate())
    except ValidationFailedError:
        rate = Decimal("0")
    totals = compute_totals([x for x in priced if x is not None], rate)
    if not errors:
        errors = amount_errors(priced, totals)
    return priced, totals, errors
