"""Changes to the catalogue: products, price lists and their prices, rates, discount limits.

Only administrators and heads of sales change the catalogue (`catalog_can_edit`); currency
rates and discount limits are company settings, changed by administrators only.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from kliento.core.errors import (
    ConflictError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, Role, User
from kliento.core.permissions import is_admin
from kliento.core.services import audit_diff, audit_record
from kliento.sales.catalog.models import (
    MAX_MONEY,
    CurrencyRate,
    DiscountLimit,
    PriceList,
    PriceListItem,
    Product,
)
from kliento.sales.catalog.selectors import catalog_can_edit

CURRENCY = re.compile(r"^[A-Z]{3}$")
PRODUCT_FIELDS = {"sku", "name", "category", "unit", "description", "cost", "tax_rate", "active"}
PRICE_LIST_FIELDS = {
    "name",
    "currency",
    "segment",
    "region",
    "channel",
    "valid_from",
    "valid_to",
    "is_default",
    "active",
}


def _require_editor(user: User) -> None:
    if not catalog_can_edit(user):
        raise PermissionDeniedError(
            _("Only administrators and heads of sales can change the catalogue.")
        )


def _require_admin(user: User) -> None:
    if not is_admin(user):
        raise PermissionDeniedError(_("Only an administrator can do this."))


def _check_version(obj, expected_version: int | None) -> None:
    if expected_version is not None and obj.version != expected_version:
        raise StaleVersionError()


# --- value cleaning (shared with quotes) -------------------------------------------------------


def clean_text(model, field: str, value: Any, errors: dict, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = _("Expected text.")
        return ""
    value = value.strip()
    if "\x00" in value:
        errors[field] = _("NUL characters are not allowed.")
        return ""
    max_length = model._meta.get_field(field).max_length
    if required and not value:
        errors[field] = _("This field is required.")
    elif max_length and len(value) > max_length:
        errors[field] = _("At most %(n)s characters.") % {"n": max_length}
    return value


def clean_decimal(
    value: Any,
    field: str,
    errors: dict,
    *,
    minimum: Decimal = Decimal("0"),
    maximum: Decimal = MAX_MONEY,
    places: int = 2,
    required: bool = True,
) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[field] = _("This field is required.")
        return None
    if isinstance(value, bool | float):
        value = str(value) if isinstance(value, float) else None
    try:
        number = Decimal(
            str(value).strip().replace(",", ".").replace("\u00a0", "").replace(" ", "")
        )
    except (InvalidOperation, ValueError):
        errors[field] = _("Enter a number.")
        return None
    if not number.is_finite():
        errors[field] = _("Enter a number.")
        return None
    if number < minimum:
        errors[field] = _("Must be at least %(min)s.") % {"min": minimum}
        return None
    if number > maximum:
        errors[field] = _("Must be at most %(max)s.") % {"max": maximum}
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors[field] = _("At most %(n)s digits after the decimal point.") % {"n": places}
        return None
    return number


def clean_date(value: Any, field: str, errors: dict) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        parsed = parse_date(str(value).strip())
    except ValueError:
        parsed = None
    if parsed is None or not 1900 <= parsed.year <= 2200:
        errors[field] = _("Enter a date as YYYY-MM-DD.")
        return None
    return parsed


def clean_currency(value: Any, field: str, errors: dict) -> str:
    text = str(value or "").strip().upper()
    if not CURRENCY.match(text):
        errors[field] = _("Use a three-letter currency code such as RUB, USD or EUR.")
    return text


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


# --- products ------------------------------------------------------------------------------


def _product_values(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for key in data:
        if key not in PRODUCT_FIELDS:
            errors[key] = _("Unknown field.")
    values: dict[str, Any] = {}
    for field in ("sku", "name", "category", "unit", "description"):
        if field in data or (not partial and field in {"sku", "name"}):
            values[field] = (
                clean_text(
                    Product,
                    field,
                    data.get(field),
                    errors,
                    required=field in {"sku", "name", "unit"},
                )
                if field != "description"
                else str(data.get(field) or "").strip()
            )
    if "unit" in values and not values["unit"]:
        errors["unit"] = _("This field is required.")
    if "cost" in data:
        values["cost"] = clean_decimal(data["cost"], "cost", errors)
    if "tax_rate" in data:
        values["tax_rate"] = clean_decimal(
            data["tax_rate"], "tax_rate", errors, maximum=Decimal("100")
        )
    if "active" in data:
        values["active"] = _bool(data["active"])
    if "sku" in values and values["sku"] and "sku" not in errors:
        clash = Product.objects.filter(sku__iexact=values["sku"])
        if data.get("_pk"):
            clash = clash.exclude(pk=data["_pk"])
        if clash.exists():
            errors["sku"] = _("Another product already has this SKU.")
    if errors:
        raise ValidationFailedError(fields=errors)
    return values


@transaction.atomic
def product_create(*, user: User, data: dict[str, Any]) -> Product:
    _require_editor(user)
    values = _product_values(data, partial=False)
    values.setdefault("unit", "pcs")
    try:
        with transaction.atomic():
            product = Product.objects.create(**values)
    except IntegrityError as exc:
        raise ValidationFailedError(
            fields={"sku": _("Another product already has this SKU.")}
        ) from exc
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="product",
        obj=product,
        changes=audit_diff({}, values),
    )
    return product


@transaction.atomic
def product_update(
    *, user: User, product: Product, data: dict[str, Any], expected_version: int | None = None
) -> Product:
    _require_editor(user)
    product = Product.objects.select_for_update().get(pk=product.pk)
    _check_version(product, expected_version)
    values = _product_values({**data, "_pk": product.pk} if "sku" in data else data, partial=True)
    values.pop("_pk", None)
    before = {k: getattr(product, k) for k in values}
    for key, value in values.items():
        setattr(product, key, value)
    changes = audit_diff(before, values)
    if changes:
        product.version += 1
        product.updated_at = timezone.now()
        product.save(update_fields=[*values, "version", "updated_at"])
        audit_record(
            user=user, action=AuditLog.Action.UPDATE, entity="product", obj=product, changes=changes
        )
    return product


def product_deactivate(*, user: User, product: Product, expected_version: int | None = None):
    """Products are never deleted (old quotes and orders point at them); they retire."""
    return product_update(
        user=user, product=product, data={"active": False}, expected_version=expected_version
    )


# --- price lists -------------------------------------------------------------------------------


def _price_list_values(data: dict[str, Any], current: PriceList | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for key in data:
        if key not in PRICE_LIST_FIELDS:
            errors[key] = _("Unknown field.")
    values: dict[str, Any] = {}
    if "name" in data or current is None:
        values["name"] = clean_text(PriceList, "name", data.get("name"), errors, required=True)
    if "currency" in data or current is None:
        values["currency"] = clean_currency(data.get("currency"), "currency", errors)
    for field in ("segment", "region", "channel"):
        if field in data:
            values[field] = clean_text(PriceList, field, data[field], errors)
    for field in ("valid_from", "valid_to"):
        if field in data:
            values[field] = clean_date(data[field], field, errors)
    for field in ("is_default", "active"):
        if field in data:
            values[field] = _bool(data[field])
    start = values.get("valid_from", current.valid_from if current else None)
    end = values.get("valid_to", current.valid_to if current else None)
    if start and end and end < start and "valid_to" not in errors:
        errors["valid_to"] = _("The end date is before the start date.")
    if errors:
        raise ValidationFailedError(fields=errors)
    return values


def _single_default(plist: PriceList) -> None:
    """One default price list per currency: marking one clears the others."""
    if plist.is_default:
        PriceList.objects.filter(is_default=True, currency=plist.currency).exclude(
            pk=plist.pk
        ).update(is_default=False)


@transaction.atomic
def price_list_create(*, user: User, data: dict[str, Any]) -> PriceList:
    _require_editor(user)
    values = _price_list_values(data, None)
    plist = PriceList.objects.create(**values)
    _single_default(plist)
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="pricelist",
        obj=plist,
        changes=audit_diff({}, values),
    )
    return plist


@transaction.atomic
def price_list_update(
    *, user: User, price_list: PriceList, data: dict[str, Any], expected_version: int | None = None
) -> PriceList:
    _require_editor(user)
    plist = PriceList.objects.select_for_update().get(pk=price_list.pk)
    _check_version(plist, expected_version)
    values = _price_list_values(data, plist)
    before = {k: getattr(plist, k) for k in values}
    for key, value in values.items():
        setattr(plist, key, value)
    changes = audit_diff(before, values)
    if changes:
        plist.version += 1
        plist.updated_at = timezone.now()
        plist.save(update_fields=[*values, "version", "updated_at"])
        _single_default(plist)
        audit_record(
            user=user, action=AuditLog.Action.UPDATE, entity="pricelist", obj=plist, changes=changes
        )
    return plist


@transaction.atomic
def price_list_item_set(
    *, user: User, price_list: PriceList, product: Product, price: Any
) -> PriceListItem:
    """Set the price of a product in a price list (adds the product when it is not there)."""
    _require_editor(user)
    errors: dict[str, str] = {}
    value = clean_decimal(price, "price", errors)
    if errors:
        raise ValidationFailedError(fields=errors)
    plist = PriceList.objects.select_for_update().get(pk=price_list.pk)
    item = PriceListItem.objects.filter(price_list=plist, product=product).first()
    before = item.price if item else None
    if item is None:
        item = PriceListItem.objects.create(price_list=plist, product=product, price=value)
    elif item.price != value:
        item.price = value
        item.save(update_fields=["price"])
    if before != value:
        plist.version += 1
        plist.updated_at = timezone.now()
        plist.save(update_fields=["version", "updated_at"])
        audit_record(
            user=user,
            action=AuditLog.Action.UPDATE,
            entity="pricelist",
            obj=plist,
            changes={
                f"price.{product.sku}": [str(before) if before is not None else None, str(value)]
            },
        )
    return item


@transaction.atomic
def price_list_item_remove(*, user: User, price_list: PriceList, product: Product) -> None:
    _require_editor(user)
    plist = PriceList.objects.select_for_update().get(pk=price_list.pk)
    item = PriceListItem.objects.filter(price_list=plist, product=product).first()
    if item is None:
        raise ConflictError(_("This product is not in the price list."))
    before = item.price
    item.delete()
    plist.version += 1
    plist.updated_at = timezone.now()
    plist.save(update_fields=["version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="pricelist",
        obj=plist,
        changes={f"price.{product.sku}": [str(before), None]},
    )


# --- currency rates and discount limits (company settings) ------------------------------------


@transaction.atomic
def currency_rate_create(*, user: User, data: dict[str, Any]) -> CurrencyRate:
    """Add the rate of a currency from a day on; the history stays (reports use old rates)."""
    from kliento.sales.catalog.money import company_currency

    _require_admin(user)
    errors: dict[str, str] = {}
    for key in data:
        if key not in {"currency", "rate", "valid_from"}:
            errors[key] = _("Unknown field.")
    currency = clean_currency(data.get("currency"), "currency", errors)
    if "currency" not in errors and currency == company_currency():
        errors["currency"] = _("The company currency always converts at 1.")
    rate = clean_decimal(
        data.get("rate"),
        "rate",
        errors,
        minimum=Decimal("0.000001"),
        maximum=Decimal("999999999999"),
        places=6,
    )
    day = clean_date(data.get("valid_from"), "valid_from", errors) or timezone.localdate()
    if not errors and CurrencyRate.objects.filter(currency=currency, valid_from=day).exists():
        errors["valid_from"] = _("This currency already has a rate from this day.")
    if errors:
        raise ValidationFailedError(fields=errors)
    row = CurrencyRate.objects.create(currency=currency, rate=rate, valid_from=day)
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="currencyrate",
        obj=row,
        changes=audit_diff({}, {"currency": currency, "rate": rate, "valid_from": day}),
    )
    return row


@transaction.atomic
def discount_limit_set(*, user: User, role: str, max_percent: Any) -> DiscountLimit | None:
    """Set (or with an empty value clear) the largest discount a role gives without approval."""
    _require_admin(user)
    errors: dict[str, str] = {}
    if role not in Role.values:
        raise ValidationFailedError(fields={"role": _("Unknown role.")})
    value = clean_decimal(
        max_percent, "max_percent", errors, maximum=Decimal("100"), required=False
    )
    if errors:
        raise ValidationFailedError(fields=errors)
    row = DiscountLimit.objects.select_for_update().filter(role=role).first()
    before = row.max_percent if row else None
    if value is None:
        if row is not None:
            row.delete()
            row = None
    elif row is None:
        row = DiscountLimit.objects.create(role=role, max_percent=value)
    elif row.max_percent != value:
        row.max_percent = value
        row.save(update_fields=["max_percent"])
    if before != value:
        AuditLog.objects.create(
            user=user,
            action=AuditLog.Action.UPDATE,
            entity="discountlimit",
            object_id=row.pk if row else 0,
            object_repr=role,
            changes={
                "max_percent": [
                    str(before) if before is not None else None,
                    str(value) if value is not None else None,
                ]
            },
        )
    return row
