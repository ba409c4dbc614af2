"""Small formatting helpers of the deal pages: money, days, stage progress."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kliento.core.templatetags.kliento_ui import icon, initials

register = template.Library()


@register.filter
def money(value, places: int = 2) -> str:
    """1234567.5 → "1,234,567.50" (English) or "1 234 567,50" (Russian)."""
    if value in (None, ""):
        return "—"
    value = Decimal(value)
    places = int(places)
    if places == 2 and value == value.to_integral_value():
        places = 0
    return number_format(value, places, use_l10n=True, force_grouping=True)


@register.filter
def days(seconds) -> str:
    """Seconds as whole days (at least "<1")."""
    if seconds in (None, ""):
        return "—"
    whole = int(seconds) // 86400
    return str(whole) if whole else "<1"


@register.simple_tag
def deal_cards(deals, may_write: bool, today) -> str:
    """Board cards, exactly one <article> per deal.

    A board shows up to 30 cards in each of its columns; formatting them here rather than
    through one template include per card keeps the page inside its time budget.
    """
    return mark_safe("".join(_card(deal, may_write, today) for deal in deals))  # noqa: S308


def _card(deal, may_write: bool, today) -> str:
    owner = deal.owner.display_name
    who = " · ".join(
        name
        for name in (
            deal.company.name if deal.company_id else "",
            deal.contact.full_name if deal.contact_id else "",
        )
        if name
    )
    meta = []
    if deal.expected_close:
        meta.append(
            format_html(
                '<span class="{}" title="{}">{} {}</span>',
                "overdue" if deal.expected_close < today else "",
                _("Expected close"),
                icon("clock", 13),
                date_format(deal.expected_close, "j M"),
            )
        )
    stale = deal.is_stale
    if stale:
        days_in = deal.days_in_stage
        meta.append(
            format_html(
                '<span class="badge badge-stale" title="{}">{}</span>',
                _("Longer than the %(n)s days expected in this stage")
                % {"n": deal.stage.expected_days},
                ngettext("stale · %(d)s day", "stale · %(d)s days", days_in) % {"d": days_in},
            )
        )
    return format_html(
        '<article class="deal-card{}" id="deal-{}" data-id="{}" data-version="{}" '
        'data-amount="{}"{} aria-label="{}">'
        '<div class="deal-card-top"><a class="deal-card-name" href="{}" draggable="false">{}</a>'
        '<span class="avatar avatar-xs" title="{}">{}</span></div>{}'
        '<div class="deal-card-amount">{} <span class="cur">{}</span></div>'
        '<div class="deal-card-meta">{}</div>{}</article>',
        " is-stale" if stale else "",
        deal.pk,
        deal.pk,
        deal.version,
        deal.amount_company,
        mark_safe(' draggable="true"') if may_write else "",
        deal.name,
        reverse("deal_detail", args=[deal.pk]),
        deal.name,
        owner,
        initials(owner),
        format_html('<div class="deal-card-who">{}</div>', who) if who else "",
        money(deal.amount),
        deal.currency,
        mark_safe("".join(meta)),  # noqa: S308 - each piece went through format_html
        format_html(
            '<div class="deal-card-next" title="{}">→ {}</div>', _("Next step"), deal.next_step
        )
        if deal.next_step
        else "",
    )
