"""Template filters for money: amounts and quantities formatted for the active language."""

from __future__ import annotations

from django import template
from django.utils import translation

from kliento.sales.catalog.money import format_amount, format_quantity

register = template.Library()


def _lang() -> str:
    return "ru" if (translation.get_language() or "en").startswith("ru") else "en"


@register.filter
def amount(value) -> str:
    if value in (None, ""):
        return ""
    return format_amount(value, _lang())


@register.filter
def qty(value) -> str:
    if value in (None, ""):
        return ""
    return format_quantity(value, _lang())
