"""Every change to a quote: creation from a deal, lines, discounts and their approval, versions,
sending, and the customer's answer. Totals are recomputed exactly (Decimal) on every change.

Status flow: draft → (discount above the owner's role limit) pending_approval → approved/draft;
draft (within the limit) or approved → sent → accepted/declined. A new version supersedes the
previous one. Only draft and approved quotes are edited; a sent one needs a new version.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kliento.core.errors import (
    ConflictError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, OrgSettings, Role, User
from kliento.core.permissions import can_read, can_write, is_admin
from kliento.core.services import audit_diff, audit_record, org_settings_update
from kliento.customers.models import Channel, Direction, Interaction, InteractionKind
from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.catalog.money import beyond_max, beyond_max_message, money
from kliento.sales.catalog.selectors import discount_limit_for, price_list_default
from kliento.sales.catalog.services import (
    clean_currency,
    clean_date,
    clean_decimal,
    clean_text,
)
from kliento.sales.quotes.models import (
    DiscountKind,
    Quote,
    QuoteApproval,
    QuoteLine,
    QuoteStatus,
)

EDITABLE = {QuoteStatus.DRAFT, QuoteStatus.APPROVED}
HUNDRED = Decimal("100")
MAX_LINES = 500
LOGO_MAX_BYTES = 1024 * 1024
LOGO_TYPES = {"image/png", "image/jpeg"}


# --- totals --------------------------------------------------------------------------------


@dataclass
class LineAmounts:
    gross: Decimal
    discount: Decimal
    net: Decimal
    tax: Decimal


@dataclass
class Totals:
    subtotal: Decimal
    discount_total: Decimal
    net: Decimal
    tax_total: Decimal
    total: Decimal
    discount_percent: Decimal
    lines: list[LineAmounts]


def _discount(base: Decimal, kind: str, value: Decimal) -> Decimal:
    if not kind or not value:
        return Decimal("0.00")
    if kind == DiscountKind.PERCENT:
        return money(base * value / HUNDRED)
    return money(value)


def compute_totals(lines: list, discount_kind: str, discount_value: Decimal) -> Totals:
    """Exact totals of a quote.

    Each line: gross = qty × price, minus its own discount. The document discount is spread
    over the lines in proportion to what is left of each, rounded to cents; the rounding
    residue goes to the last line that can take it. Tax is charged per line on its net.
    A discount larger than what it applies to is an error, never clipped.
    """
    errors: dict[str, str] = {}
    grosses, after = [], []
    for i, line in enumerate(lines):
        gross = money(Decimal(line.quantity) * Decimal(line.price))
        if line.discount_kind == DiscountKind.PERCENT and line.discount_value > HUNDRED:
            errors[f"lines.{i}.discount_value"] = _("A percent discount is at most 100.")
        line_discount = _discount(gross, line.discount_kind, line.discount_value)
        if line_discount > gross:
            errors[f"lines.{i}.discount_value"] = _("The discount is larger than the line amount.")
        grosses.append(gross)
        after.append(gross - line_discount)
    base = sum(after, Decimal("0.00"))
    if discount_kind == DiscountKind.PERCENT and discount_value > HUNDRED:
        errors["discount_value"] = _("A percent discount is at most 100.")
    doc_discount = _discount(base, discount_kind, discount_value)
    if doc_discount > base and doc_discount:
        errors["discount_value"] = _("The discount is larger than the quote amount.")
    if errors:
        raise ValidationFailedError(_("The discount cannot be applied."), fields=errors)
    shares = [Decimal("0.00")] * len(lines)
    if doc_discount and base:
        last = max(i for i, amount in enumerate(after) if amount > 0)
        for i, amount in enumerate(after):
            if i != last:
                shares[i] = money(doc_discount * amount / base)
        shares[last] = doc_discount - sum(shares, Decimal("0.00"))
        if shares[last] > after[last]:
            # Possible only with pathological rounding over many tiny lines: say so.
            raise ValidationFailedError(
                fields={"discount_value": _("The discount cannot be spread over these lines.")}
            )
    amounts = []
    for line, gross, rest, share in zip(lines, grosses, after, shares, strict=True):
        net = rest - share
        tax = money(net * Decimal(line.tax_rate) / HUNDRED)
        amounts.append(LineAmounts(gross=gross, discount=gross - net, net=net, tax=tax))
    subtotal = sum(grosses, Decimal("0.00"))
    discount_total = sum((a.discount for a in amounts), Decimal("0.00"))
    net = subtotal - discount_total
    tax_total = sum((a.tax for a in amounts), Decimal("0.00"))
    percent = money(discount_total * HUNDRED / subtotal) if subtotal else Decimal("0.00")
    too_large = {
        f"lines.{i}.quantity": beyond_max_message()
        for i, (gross, a) in enumerate(zip(grosses, amounts, strict=True))
        if beyond_max(gross, a.tax)
    }
    if not too_large and beyond_max(subtotal, tax_total, net + tax_total):
        too_large["lines"] = beyond_max_message()
    if too_large:
        raise ValidationFailedError(fields=too_large)
    return Totals(
        subtotal=subtotal,
        discount_total=discount_total,
        net=net,
        tax_total=tax_total,
        total=net + tax_total,
        discount_percent=percent,
        lines=amounts,
    )


def _recompute(quote: Quote, *, user: User | None) -> None:
    """Totals onto the quote and its lines, then the approval rule. Call under the row lock."""
    lines = list(quote.lines.order_by("position", "id"))
    totals = compute_totals(lines, quote.discount_kind, quote.discount_value)
    for line, amounts in zip(lines, totals.lines, strict=True):
        if (line.net, line.discount_amount, line.tax) != (
            amounts.net,
            amounts.discount,
            amounts.tax,
        ):
            line.net, line.discount_amount, line.tax = amounts.net, amounts.discount, amounts.tax
            line.save(update_fields=["net", "discount_amount", "tax"])
    quote.subtotal = totals.subtotal
    quote.discount_total = totals.discount_total
    quote.tax_total = totals.tax_total
    quote.total = totals.total
    quote.discount_percent = totals.discount_percent
    _apply_approval_rule(quote, user=user)


def quote_limit(quote: Quote) -> Decimal | None:
    """The largest discount the quote's owner may give without approval (None: no limit)."""
    return discount_limit_for(quote.owner.role)


def needs_approval(quote: Quote) -> bool:
    limit = quote_limit(quote)
    return limit is not None and quote.discount_percent > limit


def _apply_approval_rule(quote: Quote, *, user: User | None) -> None:
    limit = quote_limit(quote)
    above = limit is not None and quote.discount_percent > limit
    if not above:
        if quote.status == QuoteStatus.PENDING_APPROVAL:
            quote.status = QuoteStatus.DRAFT
        return
    if quote.status == QuoteStatus.APPROVED and quote.approved_at:
        approved = (
            quote.approvals.filter(decision=QuoteApproval.Decision.APPROVED)
            .order_by("-at", "-id")
            .values_list("discount_percent", flat=True)
            .first()
        )
        if approved is not None and quote.discount_percent <= approved:
            return
    if quote.status in {QuoteStatus.DRAFT, QuoteStatus.APPROVED}:
        quote.status = QuoteStatus.PENDING_APPROVAL
        quote.approved_by = None
        quote.approved_at = None
        QuoteApproval.objects.create(
            quote=quote,
            decision=QuoteApproval.Decision.REQUESTED,
            discount_percent=quote.discount_percent,
            limit_percent=limit,
            user=user,
        )


def _save(quote: Quote, fields: list[str]) -> None:
    quote.version += 1
    quote.updated_at = timezone.now()
    quote.save(
        update_fields=[
            *set(fields),
            "subtotal",
            "discount_total",
            "tax_total",
            "total",
            "discount_percent",
            "status",
            "approved_by",
            "approved_at",
            "version",
            "updated_at",
        ]
    )


# --- helpers -------------------------------------------------------------------------------


def _lock(quote: Quote, expected_version: int | None = None) -> Quote:
    locked = (
        Quote.objects.select_for_update(of=("self",))
        .select_related("owner", "deal", "price_list", "contact", "company")
        .get(pk=quote.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersionError()
    return locked


def _require_editable(quote: Quote) -> None:
    if quote.status not in EDITABLE:
        if quote.status == QuoteStatus.PENDING_APPROVAL:
            raise ConflictError(
                _("The quote is waiting for a discount approval; it can be changed once decided.")
            )
        raise ConflictError(_status_refusal(quote, "change"))


def _status_refusal(quote: Quote, action: str) -> str:
    """Why a quote in its status refuses `action` ("change", "revise" or "send").

    A whole sentence per status, not a status word spliced into one: English needs "an accepted"
    but "a sent", and accepted or superseded quotes have no new version to point the user to.
    """
    messages = {
        "change": {
            QuoteStatus.SENT: _("A sent quote cannot be changed; create a new version."),
            QuoteStatus.ACCEPTED: _("An accepted quote cannot be changed."),
            QuoteStatus.DECLINED: _("A declined quote cannot be changed; create a new version."),
            QuoteStatus.SUPERSEDED: _(
                "A superseded version cannot be changed; use the latest version."
            ),
        },
        "revise": {
            QuoteStatus.ACCEPTED: _("An accepted quote cannot get a new version."),
            QuoteStatus.SUPERSEDED: _(
                "A superseded version cannot get a new version; use the latest one."
            ),
        },
        "send": {
            QuoteStatus.SENT: _("A sent quote cannot be sent again; create a new version."),
            QuoteStatus.ACCEPTED: _("An accepted quote cannot be sent again."),
            QuoteStatus.DECLINED: _("A declined quote cannot be sent again; create a new version."),
            QuoteStatus.SUPERSEDED: _(
                "A superseded version cannot be sent; send the latest version."
            ),
        },
    }
    message = messages[action].get(quote.status)
    if message is None:
        message = _("This cannot be done to a quote in the status “%(status)s”.") % {
            "status": quote.get_status_display()
        }
    return message


def _timeline(
    quote: Quote,
    *,
    user: User | None,
    kind: str,
    subject: str,
    body: str = "",
    direction: str = Direction.OUT,
    channel: str = Channel.OTHER,
) -> None:
    if not quote.contact_id and not quote.company_id:
        return
    Interaction.objects.create(
        kind=kind,
        channel=Channel.EMAIL if kind == InteractionKind.EMAIL else channel,
        direction=direction,
        contact_id=quote.contact_id,
        company_id=quote.company_id,
        related_type="quote",
        related_id=quote.pk,
        user=user,
        subject=subject[:255],
        body=body,
    )


def _next_number(day: dt.date) -> str:
    prefix = f"Q-{day.year}-"
    last = Quote.objects.filter(number__startswith=prefix).aggregate(m=Max("number"))["m"] or ""
    try:
        seq = int(last[len(prefix) :]) + 1
    except ValueError:
        seq = 1
    return f"{prefix}{seq:05d}"


def _language(deal, user: User) -> str:
    contact_lang = (deal.contact.language if deal.contact_id else "") or ""
    for code in (contact_lang.lower()[:2], (user.language or "").lower()[:2]):
        if code in {"en", "ru"}:
            return code
    return "en"


def _valid_price_list(plist: PriceList | None, day: dt.date) -> PriceList:
    if plist is None:
        raise ValidationFailedError(
            _("No price list is valid today."),
            fields={"price_list": _("No default price list is valid today: set one up first.")},
        )
    if not plist.active:
        message = _("The price list “%(name)s” is inactive.") % {"name": plist.name}
    elif plist.valid_from and day < plist.valid_from:
        message = _("The price list “%(name)s” is valid only from %(day)s.") % {
            "name": plist.name,
            "day": plist.valid_from.isoformat(),
        }
    elif plist.valid_to and day > plist.valid_to:
        message = _("The price list “%(name)s” expired on %(day)s.") % {
            "name": plist.name,
            "day": plist.valid_to.isoformat(),
        }
    else:
        return plist
    raise ValidationFailedError(message, fields={"price_list": message})


# --- create and edit -------------------------------------------------------------------------


@transaction.atomic
def quote_create(*, user: User, deal, price_list: PriceList | None = None) -> Quote:
    """A draft quote for `deal`, priced from the deal's price list (or the default valid one)."""
    if not can_write(user, "deal", deal):
        raise PermissionDeniedError(_("You can view this deal but not change it."))
    today = timezone.localdate()
    plist = price_list or deal.price_list or price_list_default(today)
    if plist is None:
        # No default is valid today: name the default that is not, so the user knows why.
        plist = PriceList.objects.filter(is_default=True).order_by("-id").first()
    plist = _valid_price_list(plist, today)
    org = OrgSettings.get()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                quote = Quote.objects.create(
                    deal=deal,
                    number=_next_number(today),
                    revision=1,
                    price_list=plist,
                    currency=plist.currency,
                    language=_language(deal, user),
                    contact_id=deal.contact_id,
                    company_id=deal.company_id,
                    owner=deal.owner,
                    issued_on=today,
                    valid_until=today + dt.timedelta(days=org.quote_validity_days),
                    terms=org.quote_terms,
                    token=secrets.token_urlsafe(32),
                )
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - five concurrent creators in a row
        raise ConflictError(_("Could not number the quote; try again."))
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="quote",
        obj=quote,
        changes={"deal": [None, deal.pk], "price_list": [None, plist.pk]},
    )
    _timeline(
        quote,
        user=user,
        kind=InteractionKind.NOTE,
        subject=_("Quote %(number)s prepared") % {"number": quote.number},
    )
    return quote


QUOTE_FIELDS = {"valid_until", "terms", "language", "discount_kind", "discount_value", "issued_on"}


@transaction.atomic
def quote_update(
    *, user: User, quote: Quote, data: dict[str, Any], expected_version: int | None = None
) -> Quote:
    quote = _lock(quote, expected_version)
    _require_editable(quote)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key in data:
        if key not in QUOTE_FIELDS:
            errors[key] = _("Unknown field.")
    for key in ("valid_until", "issued_on"):
        if key in data:
            values[key] = clean_date(data[key], key, errors)
            if key == "issued_on" and values[key] is None and key not in errors:
                errors[key] = _("This field is required.")
    if "terms" in data:
        values["terms"] = str(data["terms"] or "").strip()[:10000]
    if "language" in data:
        if data["language"] not in {"en", "ru"}:
            errors["language"] = _("Use en or ru.")
        values["language"] = data["language"]
    if "discount_kind" in data:
        kind = data["discount_kind"] or ""
        if kind not in DiscountKind.values and kind != "":
            errors["discount_kind"] = _("Use percent or amount.")
        values["discount_kind"] = kind
    if "discount_value" in data:
        values["discount_value"] = clean_decimal(
            data["discount_value"] if data["discount_value"] not in (None, "") else "0",
            "discount_value",
            errors,
        )
    issued = values.get("issued_on", quote.issued_on)
    until = values.get("valid_until", quote.valid_until)
    if until and issued and until < issued and "valid_until" not in errors:
        errors["valid_until"] = _("The quote cannot expire before its date.")
    if errors:
        raise ValidationFailedError(fields=errors)
    if values.get("discount_kind") == "" or (
        "discount_value" in values and not values["discount_value"]
    ):
        values["discount_kind"] = ""
        values["discount_value"] = Decimal("0")
    before = {k: getattr(quote, k) for k in values}
    for key, value in values.items():
        setattr(quote, key, value)
    _recompute(quote, user=user)
    changes = audit_diff(before, values)
    _save(quote, list(values))
    if changes:
        audit_record(
            user=user, action=AuditLog.Action.UPDATE, entity="quote", obj=quote, changes=changes
        )
    return quote


def _line_values(quote: Quote, data: dict[str, Any], line: QuoteLine | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    allowed = {
        "product_id",
        "description",
        "unit",
        "quantity",
        "price",
        "discount_kind",
        "discount_value",
        "tax_rate",
        "position",
    }
    for key in data:
        if key not in allowed:
            errors[key] = _("Unknown field.")
    values: dict[str, Any] = {}
    product_id = data.get("product_id") if line is None else None
    if line is not None and "product_id" in data and data["product_id"] != line.product_id:
        errors["product_id"] = _("Remove the line and add another product instead.")
    if product_id not in (None, ""):
        product = (
            Product.objects.filter(pk=product_id).first() if str(product_id).isdigit() else None
        )
        if product is None:
            errors["product_id"] = _("No such product.")
        elif not product.active:
            errors["product_id"] = _("“%(name)s” is no longer sold (inactive).") % {
                "name": product.name
            }
        else:
            price = (
                PriceListItem.objects.filter(price_list=quote.price_list, product=product)
                .values_list("price", flat=True)
                .first()
            )
            if price is None:
                errors["product_id"] = _(
                    "“%(name)s” has no price in the price list “%(list)s”."
                ) % {"name": product.name, "list": quote.price_list.name}
            else:
                values.update(
                    product=product,
                    description=product.name,
                    unit=product.unit,
                    price=price,
                    tax_rate=product.tax_rate,
                    cost=product.cost,
                )
        if (
            data.get("price") is not None
            and "price" in values
            and clean_decimal(data["price"], "price", {}) != values["price"]
        ):
            errors["price"] = _("The price comes from the price list; give a discount instead.")
    is_product = bool(values.get("product") or (line is not None and line.product_id))
    if "description" in data and (not is_product or data["description"]):
        values["description"] = clean_text(
            QuoteLine, "description", data["description"], errors, required=True
        )
    if "unit" in data:
        values["unit"] = clean_text(QuoteLine, "unit", data["unit"], errors)
    if "quantity" in data or line is None:
        values["quantity"] = clean_decimal(
            data.get("quantity", "1"),
            "quantity",
            errors,
            minimum=Decimal("0.001"),
            maximum=Decimal("999999999"),
            places=3,
        )
    if "price" in data and not is_product:
        values["price"] = clean_decimal(data["price"], "price", errors)
    elif (
        "price" in data
        and line is not None
        and line.product_id
        and clean_decimal(data["price"], "price", {}) != line.price
    ):
        errors["price"] = _("The price comes from the price list; give a discount instead.")
    if "tax_rate" in data and not is_product:
        values["tax_rate"] = clean_decimal(data["tax_rate"], "tax_rate", errors, maximum=HUNDRED)
    if "discount_kind" in data:
        kind = data["discount_kind"] or ""
        if kind and kind not in DiscountKind.values:
            errors["discount_kind"] = _("Use percent or amount.")
        values["discount_kind"] = kind
    if "discount_value" in data:
        raw = data["discount_value"]
        values["discount_value"] = clean_decimal(
            raw if raw not in (None, "") else "0", "discount_value", errors
        )
    if "position" in data:
        try:
            values["position"] = max(0, min(int(data["position"]), 100000))
        except (TypeError, ValueError):
            errors["position"] = _("Expected a number.")
    if line is None and not is_product:
        if not values.get("description") and "description" not in errors:
            errors["description"] = _("Pick a product or describe the line.")
        if "price" not in values and "price" not in errors:
            errors["price"] = _("This field is required.")
        values.setdefault("tax_rate", OrgSettings.get().default_tax_rate)
    if errors:
        raise ValidationFailedError(fields=errors)
    if values.get("discount_kind") == "" or (
        "discount_value" in values and not values["discount_value"]
    ):
        values["discount_kind"] = ""
        values["discount_value"] = Decimal("0")
    return values


@transaction.atomic
def quote_line_add(
    *, user: User, quote: Quote, data: dict[str, Any], expected_version: int | None = None
) -> QuoteLine:
    quote = _lock(quote, expected_version)
    _require_editable(quote)
    if quote.lines.count() >= MAX_LINES:
        raise ValidationFailedError(fields={"lines": _("At most %(n)s lines.") % {"n": MAX_LINES}})
    values = _line_values(quote, data, None)
    if "position" not in values:
        values["position"] = (quote.lines.aggregate(m=Max("position"))["m"] or 0) + 1
    line = QuoteLine.objects.create(quote=quote, **values)
    _recompute(quote, user=user)
    _save(quote, [])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="quote",
        obj=quote,
        changes={"lines": [None, f"+ {line.description} × {line.quantity}"]},
    )
    line.refresh_from_db()
    return line


@transaction.atomic
def quote_line_update(
    *,
    user: User,
    quote: Quote,
    line_id: Any,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> QuoteLine:
    quote = _lock(quote, expected_version)
    _require_editable(quote)
    line = _line(quote, line_id)
    values = _line_values(quote, data, line)
    before = {k: getattr(line, k) for k in values}
    for key, value in values.items():
        setattr(line, key, value)
    line.save(update_fields=list(values) or None)
    _recompute(quote, user=user)
    _save(quote, [])
    changes = {f"lines.{line.pk}.{k}": v for k, v in audit_diff(before, values).items()}
    if changes:
        audit_record(
            user=user, action=AuditLog.Action.UPDATE, entity="quote", obj=quote, changes=changes
        )
    line.refresh_from_db()
    return line


def _line(quote: Quote, line_id: Any) -> QuoteLine:
    from kliento.core.errors import NotFoundError

    line = (
        QuoteLine.objects.filter(quote=quote, pk=line_id).first()
        if str(line_id).isdigit()
        else None
    )
    if line is None:
        raise NotFoundError(_("No line %(id)s in this quote.") % {"id": line_id})
    return line


@transaction.atomic
def quote_line_remove(
    *, user: User, quote: Quote, line_id: Any, expected_version: int | None = None
) -> Quote:
    quote = _lock(quote, expected_version)
    _require_editable(quote)
    line = _line(quote, line_id)
    label = f"- {line.description} × {line.quantity}"
    line.delete()
    _recompute(quote, user=user)
    _save(quote, [])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="quote",
        obj=quote,
        changes={"lines": [label, None]},
    )
    return quote


# --- approval ---------------------------------------------------------------------------------


def can_approve(user: User, quote: Quote) -> bool:
    """Admins, and heads who see the deal (their team's), except for their own quotes."""
    if is_admin(user):
        return True
    return (
        user.is_active
        and user.role == Role.HEAD
        and quote.owner_id != user.pk
        and can_read(user, "deal", quote.deal)
    )


@transaction.atomic
def quote_request_approval(
    *, user: User, quote: Quote, note: str = "", expected_version: int | None = None
) -> Quote:
    quote = _lock(quote, expected_version)
    if quote.status != QuoteStatus.DRAFT:
        raise ConflictError(_("Only a draft quote can be sent for approval."))
    limit = quote_limit(quote)
    if limit is None or quote.discount_percent <= limit:
        raise ConflictError(_("The discount is within the limit; no approval is needed."))
    quote.status = QuoteStatus.PENDING_APPROVAL
    QuoteApproval.objects.create(
        quote=quote,
        decision=QuoteApproval.Decision.REQUESTED,
        discount_percent=quote.discount_percent,
        limit_percent=limit,
        user=user,
        note=note.strip()[:2000],
    )
    _save(quote, [])
    return quote


def _decide(user: User, quote: Quote, decision: str, note: str, expected_version) -> Quote:
    quote = _lock(quote, expected_version)
    if not can_approve(user, quote):
        raise PermissionDeniedError(
            _("Only a head of sales or an administrator decides on discounts.")
        )
    if quote.status != QuoteStatus.PENDING_APPROVAL:
        raise ConflictError(_("This quote is not waiting for an approval."))
    limit = quote_limit(quote)
    now = timezone.now()
    QuoteApproval.objects.create(
        quote=quote,
        decision=decision,
        discount_percent=quote.discount_percent,
        limit_percent=limit if limit is not None else Decimal("0"),
        user=user,
        note=note.strip()[:2000],
        at=now,
    )
    if decision == QuoteApproval.Decision.APPROVED:
        quote.status = QuoteStatus.APPROVED
        quote.approved_by = user
        quote.approved_at = now
        quote.approval_note = note.strip()[:2000]
    else:
        quote.status = QuoteStatus.DRAFT
        quote.approval_note = note.strip()[:2000]
    _save(quote, ["approval_note"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="quote",
        obj=quote,
        changes={"approval": [None, f"{decision} {quote.discount_percent}%"]},
    )
    return quote


@transaction.atomic
def quote_approve(*, user: User, quote: Quote, note: str = "", expected_version=None) -> Quote:
    return _decide(user, quote, QuoteApproval.Decision.APPROVED, note, expected_version)


@transaction.atomic
def quote_reject(*, user: User, quote: Quote, note: str = "", expected_version=None) -> Quote:
    if not note.strip():
        raise ValidationFailedError(fields={"note": _("Say why, so the rep knows what to change.")})
    return _decide(user, quote, QuoteApproval.Decision.REJECTED, note, expected_version)


# --- versions ---------------------------------------------------------------------------------


@transaction.atomic
def quote_revise(*, user: User, quote: Quote, expected_version: int | None = None) -> Quote:
    """A new version: a copy with revision + 1; the old one is kept, marked superseded."""
    quote = _lock(quote, expected_version)
    if quote.status in {QuoteStatus.SUPERSEDED, QuoteStatus.ACCEPTED}:
        raise ConflictError(_status_refusal(quote, "revise"))
    latest = Quote.objects.filter(number=quote.number).aggregate(m=Max("revision"))["m"]
    if latest != quote.revision:
        raise ConflictError(_("Only the latest version can be revised."))
    lines = list(quote.lines.order_by("position", "id"))
    old_pk = quote.pk
    today = timezone.localdate()
    validity = OrgSettings.get().quote_validity_days
    new = Quote.objects.get(pk=old_pk)
    new.pk = None
    new.id = None
    new._state.adding = True
    new.revision = quote.revision + 1
    new.status = QuoteStatus.DRAFT
    new.token = secrets.token_urlsafe(32)
    new.issued_on = today
    new.valid_until = today + dt.timedelta(days=validity)
    new.sent_at = None
    new.sent_to = ""
    new.responded_at = None
    new.decline_reason = ""
    new.approved_by = None
    new.approved_at = None
    new.approval_note = ""
    new.version = 1
    new.created_at = timezone.now()
    new.updated_at = new.created_at
    new.save()
    for line in lines:
        line.pk = None
        line.id = None
        line._state.adding = True
        line.quote = new
    QuoteLine.objects.bulk_create(lines)
    new.owner = quote.owner
    _recompute(new, user=user)
    _save(new, [])
    quote.status = QuoteStatus.SUPERSEDED
    quote.version += 1
    quote.updated_at = timezone.now()
    quote.save(update_fields=["status", "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="quote",
        obj=new,
        changes={"revision": [quote.revision, new.revision]},
    )
    return new


# --- sending ------------------------------------------------------------------------------


def quote_public_url(quote: Quote, base_url: str = "") -> str:
    from django.urls import reverse

    base = getattr(settings, "KLIENTO_BASE_URL", "") or base_url
    return base.rstrip("/") + reverse("quote_public", args=[quote.token])


def sendable(quote: Quote) -> bool:
    if quote.status == QuoteStatus.APPROVED:
        return True
    return quote.status == QuoteStatus.DRAFT and not needs_approval(quote)


@transaction.atomic
def quote_send(
    *,
    user: User,
    quote: Quote,
    to: str = "",
    message: str = "",
    base_url: str = "",
    expected_version: int | None = None,
) -> Quote:
    """Email the PDF and the link to accept or decline; log it on the customer's timeline."""
    from kliento.sales.quotes.pdf import quote_pdf_filename, render_quote_pdf

    quote = _lock(quote, expected_version)
    if quote.status == QuoteStatus.PENDING_APPROVAL:
        raise ConflictError(_("The discount needs a head's approval before the quote is sent."))
    if quote.status == QuoteStatus.DRAFT and needs_approval(quote):
        raise ConflictError(
            _("The discount is above your limit: request an approval before sending.")
        )
    if quote.status not in {QuoteStatus.DRAFT, QuoteStatus.APPROVED}:
        raise ConflictError(_status_refusal(quote, "send"))
    if not quote.lines.exists():
        raise ConflictError(_("Add at least one line before sending the quote."))
    to = (to or "").strip()
    if not to and quote.contact_id and quote.contact.emails:
        to = quote.contact.emails[0]
    errors: dict[str, str] = {}
    if not to:
        errors["to"] = _("The contact has no email address: type one.")
    else:
        try:
            validate_email(to)
        except Exception:  # noqa: BLE001 - Django's ValidationError
            errors["to"] = _("Enter a valid email address.")
    if errors:
        raise ValidationFailedError(fields=errors)
    now = timezone.now()
    quote.status = QuoteStatus.SENT
    quote.sent_at = now
    quote.sent_to = to
    _save(quote, ["sent_at", "sent_to"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="quote",
        obj=quote,
        changes={"status": ["draft", "sent"], "sent_to": [None, to]},
    )
    org = OrgSettings.get()
    link = quote_public_url(quote, base_url)
    with translation.override(quote.language):
        subject = _("Commercial proposal %(number)s from %(company)s") % {
            "number": quote.number,
            "company": org.company_name,
        }
        body = render_to_string(
            "quotes/email/quote_sent.txt",
            {"quote": quote, "org": org, "link": link, "message": message.strip(), "sender": user},
        )
    _timeline(
        quote,
        user=user,
        kind=InteractionKind.EMAIL,
        subject=subject,
        body=_("Sent to %(to)s.") % {"to": to},
    )
    quote_id = quote.pk
    reply_to = [user.email] if user.email else None

    def deliver() -> None:
        fresh = Quote.objects.select_related("contact", "company", "owner").get(pk=quote_id)
        email = EmailMessage(subject=subject, body=body, to=[to], reply_to=reply_to)
        email.attach(quote_pdf_filename(fresh), render_quote_pdf(fresh), "application/pdf")
        email.send()

    transaction.on_commit(deliver)
    return quote


# --- the customer's answer ------------------------------------------------------------------


def answer_problem(quote: Quote) -> str:
    """Why the customer cannot answer this quote now ("" when they can)."""
    if quote.status == QuoteStatus.SUPERSEDED:
        return _("This proposal was replaced by a newer version; please use the latest link.")
    if quote.status == QuoteStatus.ACCEPTED:
        return _("You have already accepted this proposal. Thank you!")
    if quote.status == QuoteStatus.DECLINED:
        return _("You have already declined this proposal.")
    if quote.status != QuoteStatus.SENT:
        return _("This proposal is not open for an answer.")
    if quote.valid_until and timezone.localdate() > quote.valid_until:
        return _("This proposal expired on %(day)s; ask us for a new one.") % {
            "day": quote.valid_until.isoformat()
        }
    return ""


@transaction.atomic
def quote_accept(*, quote: Quote) -> Quote:
    """The customer accepts through the link: the quote is accepted, the deal won, an order made."""
    quote = _lock(quote)
    problem = answer_problem(quote)
    if problem:
        raise ConflictError(problem)
    quote.status = QuoteStatus.ACCEPTED
    quote.responded_at = timezone.now()
    quote.version += 1
    quote.updated_at = quote.responded_at
    quote.save(update_fields=["status", "responded_at", "version", "updated_at"])
    audit_record(
        user=None,
        action=AuditLog.Action.UPDATE,
        entity="quote",
        obj=quote,
        changes={"status": ["sent", "accepted"]},
    )
    _timeline(
        quote,
        user=None,
        kind=InteractionKind.NOTE,
        direction=Direction.IN,
        channel=Channel.WEB,
        subject=_("Quote %(number)s v%(revision)s accepted by the customer")
        % {"number": quote.number, "revision": quote.revision},
    )
    _win_deal_and_order(quote)
    return quote


def _win_deal_and_order(quote: Quote) -> None:
    """The customer's acceptance acts as the system (`user=None`, "the customer via the link"):
    the quote's owner may since have lost the deal or left, and that must not refuse a customer.
    """
    from kliento.sales.deals.models import DealStatus
    from kliento.sales.deals.services import deal_amount_from_quote, deal_win
    from kliento.sales.orders.services import order_create_from_quote

    deal = deal_amount_from_quote(user=None, deal=quote.deal, quote=quote)
    if deal.status == DealStatus.OPEN:
        deal_win(user=None, deal=deal)
    order_create_from_quote(user=None, quote=quote)


@transaction.atomic
def quote_decline(*, quote: Quote, reason: str = "") -> Quote:
    quote = _lock(quote)
    problem = answer_problem(quote)
    if problem:
        raise ConflictError(problem)
    reason = (reason or "").strip()[:2000]
    quote.status = QuoteStatus.DECLINED
    quote.responded_at = timezone.now()
    quote.decline_reason = reason
    quote.version += 1
    quote.updated_at = quote.responded_at
    quote.save(update_fields=["status", "responded_at", "decline_reason", "version", "updated_at"])
    audit_record(
        user=None,
        action=AuditLog.Action.UPDATE,
        entity="quote",
        obj=quote,
        changes={"status": ["sent", "declined"]},
    )
    _timeline(
        quote,
        user=None,
        kind=InteractionKind.NOTE,
        direction=Direction.IN,
        channel=Channel.WEB,
        subject=_("Quote %(number)s v%(revision)s declined by the customer")
        % {"number": quote.number, "revision": quote.revision},
        body=reason,
    )
    return quote


# --- company details printed on quotes -------------------------------------------------------

COMPANY_TEXT = {
    "company_name": 200,
    "legal_name": 255,
    "tax_id": 32,
    "phone": 50,
    "email": 254,
    "website": 255,
}


@transaction.atomic
def company_details_update(
    *,
    user: User,
    data: dict[str, Any],
    logo: bytes | None = None,
    logo_type: str = "",
    remove_logo: bool = False,
) -> OrgSettings:
    """Validate the company details, then store them through `org_settings_update` (audited);
    the logo is stored here (bytes do not fit the audit log's JSON: its size is logged)."""
    if not is_admin(user):
        raise PermissionDeniedError(_("Only an administrator can do this."))
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    allowed = set(COMPANY_TEXT) | {
        "currency",
        "address",
        "bank_details",
        "default_tax_rate",
        "quote_validity_days",
        "quote_terms",
    }
    for key in data:
        if key not in allowed:
            errors[key] = _("Unknown field.")
    org = OrgSettings.get()
    for key, length in COMPANY_TEXT.items():
        if key in data:
            text = str(data[key] or "").strip()
            if len(text) > length:
                errors[key] = _("At most %(n)s characters.") % {"n": length}
            values[key] = text
    if values.get("email"):
        try:
            validate_email(values["email"])
        except Exception:  # noqa: BLE001
            errors["email"] = _("Enter a valid email address.")
    for key in ("address", "bank_details", "quote_terms"):
        if key in data:
            values[key] = str(data[key] or "").strip()[:5000]
    if "currency" in data:
        values["currency"] = clean_currency(data["currency"], "currency", errors)
    if "default_tax_rate" in data:
        values["default_tax_rate"] = clean_decimal(
            data["default_tax_rate"], "default_tax_rate", errors, maximum=HUNDRED
        )
    if "quote_validity_days" in data:
        try:
            days = int(str(data["quote_validity_days"]).strip())
            if not 1 <= days <= 3650:
                raise ValueError
            values["quote_validity_days"] = days
        except (TypeError, ValueError):
            errors["quote_validity_days"] = _("Enter a whole number of days from 1 to 3650.")
    if logo is not None:
        if logo_type not in LOGO_TYPES or not _looks_like_image(logo, logo_type):
            errors["logo"] = _("Upload a PNG or JPEG image.")
        elif len(logo) > LOGO_MAX_BYTES:
            errors["logo"] = _("The logo must be at most 1 MB.")
    if errors:
        raise ValidationFailedError(fields=errors)
    changed = {k: v for k, v in values.items() if getattr(org, k) != v}
    if changed:
        org = org_settings_update(actor=user, **changed)
    if logo is not None or (remove_logo and org.logo):
        before = len(org.logo) if org.logo else 0
        org.logo = None if remove_logo and logo is None else logo
        org.logo_type = "" if org.logo is None else logo_type
        org.save(update_fields=["logo", "logo_type"])
        audit_record(
            user=user,
            action=AuditLog.Action.UPDATE,
            entity="settings",
            obj=org,
            changes={
                "logo": [
                    f"{before} bytes" if before else None,
                    f"{len(org.logo)} bytes" if org.logo else None,
                ]
            },
        )
    return org


def _looks_like_image(data: bytes, content_type: str) -> bool:
    if content_type == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    return data.startswith(b"\xff\xd8\xff")
