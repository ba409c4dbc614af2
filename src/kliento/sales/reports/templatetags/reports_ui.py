"""The report filters' labels, for error messages that name the field the user sees."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

register = template.Library()


def _labels() -> dict[str, str]:
    return {
        "date_from": pgettext("start of a period", "From"),
        "date_to": pgettext("end of a period", "To"),
        "month_from": _("From month"),
        "month_to": _("To month"),
        "pipeline": _("Pipeline"),
        "team": _("Team"),
        "owner": _("Owner"),
        "by": _("Per"),
        "top": _("Top"),
        "group": _("Break down by"),
        "basis": _("Deals"),
        "sort": _("Sort"),
    }


@register.filter
def filter_label(name: str) -> str:
    """The label of a filter field; an unknown query parameter keeps its own name."""
    return _labels().get(name, name)
