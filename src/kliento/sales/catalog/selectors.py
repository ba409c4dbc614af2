"""Reads of the catalogue: every signed-in user may read products, price lists and rates.

Who may change the catalogue is decided in `catalog_can_edit` (admins and heads of sales);
reps, marketers, support and analysts read it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError, ValidationFailedError
from kliento.core.models import Role, User
from kliento.customers.selectors import Page, keyset_page, parse_id, sort_fields
from kliento.sales.catalog.models import (
    CurrencyRate,
    DiscountLimit,
    PriceList,
    PriceListItem,
    Product,
)

PRODUCT_SORTS = {
    "name": [("name", False, "str"), ("id", False, "int")],
    "sku": [("sku", False, "str"), ("id", False, "int")],
    "category": [("category", False, "str"), ("name", False, "str"), ("id", False, "int")],
    "created": [("created_at", False, "dt"), ("id", False, "int")],
}
PRODUCT_FILTERS = {"q", "category", "active"}
PRICE_LIST_FILTERS = {"q", "currency", "active", "valid_on"}


def catalog_can_edit(user: User) -> bool:
    """Admins and heads of sales maintain the catalogue and price lists; everyone else reads."""
    return bool(user and user.is_active and user.role in {Role.ADMIN, Role.HEAD})


def _bool(value: Any, field: str) -> bool:
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValidationFailedError(fields={field: _("Expected true or false.")})


# --- products ----------------------------------------------------------------------------


def product_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    sort: str = "name",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = set(filters) - PRODUCT_FILTERS
    if unknown:
        raise ValidationFailedError(fields={k: _("Unknown filter.") for k in sorted(unknown)})
    qs = Product.objects.all()
    if "q" in filters:
        q = str(filters["q"]).strip()
        qs = qs.filter(Q(sku__istartswith=q) | Q(name__icontains=q))
    if "category" in filters:
        qs = qs.filter(category=str(filters["category"]).strip())
    if "active" in filters:
        qs = qs.filter(active=_bool(filters["active"], "active"))
    return keyset_page(qs, sort_fields(PRODUCT_SORTS, sort or "name"), cursor, limit)


def product_categories() -> list[str]:
    return list(
        Product.objects.exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def product_get(*, pk: Any) -> Product:
    pk_int = parse_id(pk)
    obj = Product.objects.filter(pk=pk_int).first() if pk_int else None
    if obj is None:
        raise NotFoundError(_("No product with id %(id)s.") % {"id": pk})
    return obj


# --- price lists -------------------------------------------------------------------------


def price_list_list(
    *, filters: dict[str, Any] | None = None, cursor: str | None = None, limit: int = 50
) -> Page:
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = set(filters) - PRICE_LIST_FILTERS
    if unknown:
        raise ValidationFailedError(fields={k: _("Unknown filter.") for k in sorted(unknown)})
    qs = PriceList.objects.all()
    if "q" in filters:
        qs = qs.filter(name__icontains=str(filters["q"]).strip())
    if "currency" in filters:
        qs = qs.filter(currency=str(filters["currency"]).strip().upper())
    if "active" in filters:
        qs = qs.filter(active=_bool(filters["active"], "active"))
    if "valid_on" in filters:
        day = filters["valid_on"]
        if isinstance(day, str):
            day = dt.date.fromisoformat(day)
        qs = qs.filter(active=True).filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day),
            Q(valid_to__isnull=True) | Q(valid_to__gte=day),
        )
    return keyset_page(qs, [("name", False, "str"), ("id", False, "int")], cursor, limit)


def price_list_get(*, pk: Any) -> PriceList:
    pk_int = parse_id(pk)
    obj = PriceList.objects.filter(pk=pk_int).first() if pk_int else None
    if obj is None:
        raise NotFoundError(_("No price list with id %(id)s.") % {"id": pk})
    return obj


def price_list_items(*, price_list: PriceList, q: str = "") -> QuerySet[PriceListItem]:
    qs = price_list.items.select_related("product").order_by("product__name", "product_id")
    if q:
        qs = qs.filter(Q(product__sku__istartswith=q) | Q(product__name__icontains=q))
    return qs


def price_list_default(day: dt.date | None = None) -> PriceList | None:
    """The default price list valid on `day` (today), or None."""
    day = day or timezone.localdate()
    for plist in PriceList.objects.filter(is_default=True, active=True).order_by("-id"):
        if plist.is_valid_on(day):
            return plist
    return None


def price_for(*, price_list: PriceList, product: Product) -> Decimal | None:
    return (
        PriceListItem.objects.filter(price_list=price_list, product=product)
        .values_list("price", flat=True)
        .first()
    )


# --- rates and discount limits ------------------------------------------------------------


def currency_rate_list(*, currency: str = "") -> QuerySet[CurrencyRate]:
    qs = CurrencyRate.objects.order_by("currency", "-valid_from", "-id")
    if currency:
        qs = qs.filter(currency=currency.strip().upper())
    return qs


def current_rates(day: dt.date | None = None) -> list[CurrencyRate]:
    """The rate in force on `day` for each currency in the table."""
    day = day or timezone.localdate()
    seen: dict[str, CurrencyRate] = {}
    for rate in CurrencyRate.objects.filter(valid_from__lte=day).order_by(
        "currency", "-valid_from"
    ):
        seen.setdefault(rate.currency, rate)
    return list(seen.values())


def discount_limits() -> list[dict[str, Any]]:
    """Every role with its limit (None: not set)."""
    rows = {d.role: d.max_percent for d in DiscountLimit.objects.all()}
    return [
        {"role": value, "label": label, "max_percent": rows.get(value)}
        for value, label in Role.choices
    ]


def discount_limit_for(role: str) -> Decimal | None:
    """The role's maximum discount without approval; None means no limit (administrators).

    A role without a row may give no discount without approval: nothing is allowed by omission.
    """
    if role == Role.ADMIN:
        return None
    row = DiscountLimit.objects.filter(role=role).values_list("max_percent", flat=True).first()
    return row if row is not None else Decimal("0")
