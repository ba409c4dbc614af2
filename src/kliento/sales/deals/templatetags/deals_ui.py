"""Small formatting helpers of the deal pages: money, days, stage progress."""

from __future__ import annotations

import html
from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils import numberformat, timezone
from django.utils.formats import date_format, get_format, number_format
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from kliento.core.templatetags.kliento_ui import icon, initials
from kliento.sales.deals.models import DealStatus

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

    A board shows up to 30 cards in each of its columns. They are put together here with
    plain string formatting: one template include (or format_html) per card cost more than
    the database did. What every card shares (translations, the URL pattern, the number
    format, owners and dates already seen) is worked out once per call.
    """
    cards = _Cards(may_write, today)
    return mark_safe("".join(cards.card(deal) for deal in deals))  # noqa: S308 - escaped


def _e(value) -> str:
    """django.utils.html.escape without its lazy-string wrapper (this runs per field)."""
    return html.escape(str(value))


class _Cards:
    _URL_MARK = "2147483647"

    def __init__(self, may_write: bool, today):
        self.today = today
        self.now = timezone.now()
        self.draggable = ' draggable="true"' if may_write else ""
        url = reverse("deal_detail", args=[int(self._URL_MARK)])
        self.url_prefix, self.url_suffix = (_e(part) for part in url.split(self._URL_MARK, 1))
        self.close_title = _e(_("Expected close"))
        self.next_title = _e(_("Next step"))
        self.clock = icon("clock", 13)
        lang = get_language()
        self.number = (
            get_format("DECIMAL_SEPARATOR", lang, use_l10n=True),
            get_format("NUMBER_GROUPING", lang, use_l10n=True),
            get_format("THOUSAND_SEPARATOR", lang, use_l10n=True),
        )
        self.owners: dict[int, tuple[str, str]] = {}
        self.dates: dict = {}

    def money(self, value) -> str:
        """money(value), with the number format looked up once."""
        value = Decimal(value)
        places = 0 if value == value.to_integral_value() else 2
        decimal_sep, grouping, thousand_sep = self.number
        return numberformat.format(
            value, decimal_sep, places, grouping, thousand_sep, force_grouping=True, use_l10n=True
        )

    def owner(self, deal) -> tuple[str, str]:
        found = self.owners.get(deal.owner_id)
        if found is None:
            name = deal.owner.display_name
            found = self.owners[deal.owner_id] = (_e(name), _e(initials(name)))
        return found

    def close_date(self, day) -> str:
        text = self.dates.get(day)
        if text is None:
            text = self.dates[day] = _e(date_format(day, "MONTH_DAY_FORMAT"))
        return text

    def card(self, deal) -> str:
        owner, owner_initials = self.owner(deal)
        who = " · ".join(
            name
            for name in (
                deal.company.name if deal.company_id else "",
                deal.contact.full_name if deal.contact_id else "",
            )
            if name
        )
        meta = ""
        if deal.expected_close:
            overdue = "overdue" if deal.expected_close < self.today else ""
            meta = (
                f'<span class="{overdue}" title="{self.close_title}">{self.clock} '
                f"{self.close_date(deal.expected_close)}</span>"
            )
        # Deal.is_stale and days_in_stage, against one `now` for the whole board.
        expected = deal.stage.expected_days
        days_in = (self.now - deal.stage_entered_at).days
        stale = bool(deal.status == DealStatus.OPEN and expected and days_in > expected)
        if stale:
            title = _("Longer than the %(n)s days expected in this stage") % {"n": expected}
            label = ngettext("stale · %(d)s day", "stale · %(d)s days", days_in) % {"d": days_in}
            meta += f'<span class="badge badge-stale" title="{_e(title)}">{_e(label)}</span>'
        next_step = ""
        if deal.next_step:
            next_step = (
                f'<div class="deal-card-next" title="{self.next_title}">'
                f"→ {_e(deal.next_step)}</div>"
            )
        name = _e(deal.name)
        return (
            f'<article class="deal-card{" is-stale" if stale else ""}" id="deal-{deal.pk}" '
            f'data-id="{deal.pk}" data-version="{deal.version}" '
            f'data-amount="{_e(deal.amount_company)}"{self.draggable} aria-label="{name}">'
            f'<div class="deal-card-top"><a class="deal-card-name" '
            f'href="{self.url_prefix}{deal.pk}{self.url_suffix}" draggable="false">{name}</a>'
            f'<span class="avatar avatar-xs" title="{owner}">{owner_initials}</span></div>'
            + (f'<div class="deal-card-who">{_e(who)}</div>' if who else "")
            + f'<div class="deal-card-amount">{_e(self.money(deal.amount))} '
            f'<span class="cur">{_e(deal.currency)}</span></div>'
            f'<div class="deal-card-meta">{meta}</div>' + next_step + "</article>"
        )
