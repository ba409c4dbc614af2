"""Labels for the lead settings pages: field names, sources and scoring conditions as words."""

from __future__ import annotations

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kliento.customers.models import Channel, InteractionKind
from kliento.sales.leads.models import Lead, LeadSource, ScoringRule

register = template.Library()


def _choice_label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


@register.filter
def lead_field_label(name: str) -> str:
    """The field's name as the lead form shows it ("Job title"), the UTM tags as they are."""
    if name.startswith("utm_"):
        return name
    try:
        return str(Lead._meta.get_field(name).verbose_name).capitalize()
    except FieldDoesNotExist:
        return name


@register.filter
def lead_source_label(value: str) -> str:
    return _choice_label(LeadSource, value)


def _field_value_label(field: str, value: str) -> str:
    if field == "source":
        return _choice_label(LeadSource, value)
    if field == "channel":
        return _choice_label(Channel, value)
    return value


@register.simple_tag
def scoring_condition(rule: ScoringRule) -> str:
    """One line a head of sales reads: "Job title is filled in", "Had a meeting"."""
    kind = ScoringRule.Kind
    if rule.kind == kind.FIELD_FILLED:
        return _("“%(field)s” is filled in") % {"field": lead_field_label(rule.field)}
    if rule.kind == kind.FIELD_EQUALS:
        return _("“%(field)s” is %(value)s") % {
            "field": lead_field_label(rule.field),
            "value": _field_value_label(rule.field, rule.value),
        }
    if rule.kind == kind.SOURCE:
        return _("Came from: %(source)s") % {"source": lead_source_label(rule.value)}
    if rule.kind == kind.INTERACTIONS:
        try:
            count = int(rule.value)
        except (TypeError, ValueError):
            return f"{rule.get_kind_display()}: {rule.value}"
        return ngettext(
            "At least %(count)s interaction", "At least %(count)s interactions", count
        ) % {"count": count}
    if rule.kind == kind.INTERACTION_KIND:
        return _("Had an interaction: %(kind)s") % {
            "kind": _choice_label(InteractionKind, rule.value).lower()
        }
    return str(rule.get_kind_display())
