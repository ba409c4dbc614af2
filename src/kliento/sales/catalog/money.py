"""Money: rounding and conversion to the company currency through the rates table.

Amounts are Decimal everywhere; a rate says how many units of the company currency one
unit of a currency buys from its `valid_from` day on (the latest rate on or before the day
applies). The company currency itself always converts at 1.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from kliento.core.errors import ValidationFailedError
from kliento.core.models import OrgSettings
from kliento.sales.catalog.models import MAX_MONEY, CurrencyRate

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """Round to cents, half up (what an invoice prints)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def beyond_max(*amounts: Decimal) -> bool:
    """Whether any amount is past MAX_MONEY, the largest a money column keeps exactly."""
    return any(abs(amount) > MAX_MONEY for amount in amounts)


def max_money_shown() -> str:
    """MAX_MONEY as the active language writes numbers (9,999,… or 9 999 …,99)."""
    return number_format(MAX_MONEY, decimal_pos=2, force_grouping=True)


def beyond_max_message() -> str:
    return _("The amount comes to more than %(max)s, the largest Kliento keeps.") % {
        "max": max_money_shown()
    }


def company_currency() -> str:
    return OrgSettings.get().currency


def rate_on(currency: str, day: dt.date | None = None) -> Decimal:
    """Units of the company currency per unit of `currency` on `day`.

    Raises ValidationFailedError naming "currency" when the table has no rate for it yet.
    """
    currency = (currency or "").upper()
    if currency == company_currency():
        return Decimal("1")
    day = day or timezone.localdate()
    rate = (
        CurrencyRate.objects.filter(currency=currency, valid_from__lte=day)
        .order_by("-valid_from")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise ValidationFailedError(
            fields={
                "currency": _("No exchange rate for %(currency)s on %(day)s: add it in Settings.")
                % {"currency": currency, "day": day.isoformat()}
            }
        )
    return rate


def to_company(amount: Decimal, currency: str, day: dt.date | None = None) -> Decimal:
    return money(Decimal(amount) * rate_on(currency, day))


def rates_table() -> dict[str, list[tuple[dt.date, Decimal]]]:
    """Every rate by currency, newest first: reports convert many rows without a query each."""
    table: dict[str, list[tuple[dt.date, Decimal]]] = {}
    for currency, day, rate in CurrencyRate.objects.order_by("currency", "-valid_from").values_list(
        "currency", "valid_from", "rate"
    ):
        table.setdefault(currency, []).append((day, rate))
    return table


NBSP = "\u00a0"


def format_amount(value, language: str) -> str:
    """1,234,567.89 in English; 1 234 567,89 in Russian (no-break spaces)."""
    value = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    whole, cents = f"{abs(value):.2f}".split(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    if language == "ru":
        return sign + NBSP.join(groups) + "," + cents
    return f"{sign}{','.join(groups)}.{cents}"


def format_quantity(value, language: str) -> str:
    """A quantity or a percentage without trailing zeros (1.5, 2, 12.25), per language."""
    text = f"{Decimal(value).normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") if language == "ru" else text
