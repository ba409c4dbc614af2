"""Small presentation helpers shared by every Kliento template."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from html import escape as _escape

from django import template
from django.urls import NoReverseMatch, get_urlconf, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import get_language, get_language_info, gettext_lazy
from django.utils.translation import gettext as _

from kliento.customers.normalize import format_phone

register = template.Library()

# Simple 24×24 stroke icons drawn for Kliento.
_ICONS = {
    "call": '<path d="M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6'
    'a2 2 0 0 1 2-2z"/>',
    "email": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="m3 7 9 6 9-6"/>',
    "meeting": '<circle cx="9" cy="8" r="3"/><circle cx="17" cy="9" r="2.5"/>'
    '<path d="M3 19c0-3.3 2.7-5 6-5s6 1.7 6 5M15 14.5c3 0 6 1.2 6 4.5"/>',
    "note": '<path d="M6 3h9l4 4v14H6z"/><path d="M14 3v5h5M9 13h7M9 17h5"/>',
    "task": '<rect x="4" y="4" width="16" height="16" rx="3"/><path d="m8 12 3 3 5-6"/>',
    "event": '<rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4M16 3v4"/>',
    "chat": '<path d="M4 5h16v11H9l-5 4z"/>',
    "sms": '<path d="M4 5h16v11H9l-5 4z"/><path d="M8 10h8"/>',
    "social": '<circle cx="6" cy="12" r="2.5"/><circle cx="18" cy="6" r="2.5"/>'
    '<circle cx="18" cy="18" r="2.5"/><path d="m8.2 10.8 7.6-3.6M8.2 13.2l7.6 3.6"/>',
    "webform": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 9h10M7 13h6"/>',
    "ad_click": '<path d="m5 5 6 14 2-6 6-2z"/>',
    "visit": '<path d="M12 21s-7-6.2-7-11a7 7 0 0 1 14 0c0 4.8-7 11-7 11z"/>'
    '<circle cx="12" cy="10" r="2.5"/>',
    "purchase": '<path d="M4 5h2l2 11h10l2-8H7"/><circle cx="9" cy="20" r="1.3"/>'
    '<circle cx="17" cy="20" r="1.3"/>',
    "ticket": '<path d="M3 8V6h18v2a2 2 0 0 0 0 4v2a2 2 0 0 0 0 4v0H3v-4a2 2 0 0 0 0-4z"/>',
    "contact": '<circle cx="12" cy="8" r="4"/><path d="M4 21c0-4 3.6-6 8-6s8 2 8 6"/>',
    "company": '<path d="M4 21V5l8-2v18M12 9h8v12M4 21h17M7 8h2M7 12h2M7 16h2M15 13h2M15 17h2"/>',
    "search": '<circle cx="11" cy="11" r="6.5"/><path d="m16 16 4.5 4.5"/>',
    "lock": '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "edit": '<path d="M4 20h4L19 9l-4-4L4 16z"/>',
    "home": '<path d="M4 11 12 4l8 7v9h-5v-6H9v6H4z"/>',
    "inbox": '<path d="M3 13h5l1 3h6l1-3h5M5 5h14l2 8v6H3v-6z"/>',
    "trash": '<path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/>',
}


@register.simple_tag
def icon(name: str, size: int = 18) -> str:
    body = _ICONS.get("event" if name == "calendar" else name, _ICONS["note"])
    return mark_safe(
        f'<svg width="{int(size)}" height="{int(size)}" viewBox="0 0 24 24" fill="none" '
        f'stroke="currentColor" stroke-width="1.8" stroke-linecap="round" '
        f'stroke-linejoin="round" aria-hidden="true">{body}</svg>'
    )


@register.filter
def initials(value) -> str:
    text = str(value or "").strip()
    parts = [p for p in text.replace("@", " ").split() if p[:1].isalnum()]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:2].upper()
    return (parts[0][0] + parts[-1][0]).upper()


@register.filter
def phone(value: str) -> str:
    return format_phone(value or "")


@register.filter
def language_label(code) -> str:
    """A language code as its name in the reader's language ("ru" → Russian / Русский); a code
    Django doesn't know is shown as it is."""
    try:
        return get_language_info(str(code or "").strip().lower())["name_translated"]
    except KeyError:
        return str(code or "")


@register.filter
def get(mapping, key):
    if not mapping:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def duration(seconds) -> str:
    if not seconds:
        return ""
    seconds = int(seconds)
    minutes, sec = divmod(seconds, 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{sec:02d}"
    return f"{minutes}:{sec:02d}"


@register.simple_tag
def field_error(errors, name):
    """The error text for one field, rendered beside it (errors is a {field: message} dict)."""
    message = (errors or {}).get(name)
    if not message:
        return ""
    return format_html('<div class="field-error" role="alert">{}</div>', message)


@register.simple_tag
def err_class(errors, name):
    return " has-error" if (errors or {}).get(name) else ""


# Audit rows name fields by their attribute; show the model's verbose name instead.
_AUDIT_EXTRA = {
    "companies": gettext_lazy("companies"),
    "shared_with": gettext_lazy("shared with"),
    "on": gettext_lazy("on"),
    "done": gettext_lazy("done"),
    "name": gettext_lazy("name"),
    "owner_id": gettext_lazy("owner"),
}


@register.simple_tag
def field_label(entity: str, key: str) -> str:
    from django.apps import apps

    if key.startswith("consent."):
        from kliento.customers.models import ConsentChannel

        channel = key.split(".", 1)[1]
        label = dict(ConsentChannel.choices).get(channel, channel)
        return f"{_('consent')} · {label}"
    if key.startswith("custom."):
        return key.split(".", 1)[1]
    model_name = {"contact": "Contact", "company": "Company", "interaction": "Interaction"}.get(
        entity
    )
    if model_name:
        model = apps.get_model("customers", model_name)
        name = key[:-3] if key.endswith("_id") else key
        try:
            return str(model._meta.get_field(name).verbose_name)
        except Exception:  # noqa: BLE001 - unknown keys fall through to the table below
            pass
    return str(_AUDIT_EXTRA.get(key, key.replace("_", " ")))


@register.filter
def audit_value(value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if value is True:
        return str(_("yes"))
    if value is False:
        return str(_("no"))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


# --- list rows ----------------------------------------------------------------------------
# The contact and company lists render their 50 rows here rather than in a template loop:
# Django's template engine resolves ~20 variables per row, which made rendering most of the
# page's time (see docs/BENCHMARKS.md). The markup is the same as the templates had. Plain
# f-strings with `html.escape` replace format_html, whose lazy-string checks on each of ~500
# values were a third of the rows' cost; every value still goes through `_e`.


def _e(value) -> str:
    """Escaped text, exactly as format_html/conditional_escape give it for a plain value."""
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return _escape(str(value))


_PK_MARKER = 987654321987


def pk_url(name: str):
    """`reverse(name, args=[pk])` for many pks: one reverse, then each pk put in its place."""
    head, _sep, tail = reverse(name, args=[_PK_MARKER]).partition(str(_PK_MARKER))
    head, tail = _e(head), _e(tail)
    return lambda pk: f"{head}{int(pk)}{tail}"


def _short_date(value) -> str:
    if not value:
        return ""
    return _day(timezone.localtime(value).date(), get_language())


def _day_formatter():
    """`_short_date` with the time zone and language looked up once for a whole list."""
    tz = timezone.get_current_timezone()
    language = get_language()
    return lambda value: _day(value.astimezone(tz).date(), language) if value else ""


@lru_cache(maxsize=4096)
def _day(day, language: str) -> str:
    # A list page shows 100 dates; formatting each through DateFormat was a tenth of its time.
    return date_format(day, "DATE_FORMAT")


def _labels():
    """Escaped choice labels, each looked up once per list (they follow the active language)."""
    cache: dict = {}

    def label(obj, field: str):
        key = (field, getattr(obj, field))
        if key not in cache:
            cache[key] = _e(getattr(obj, f"get_{field}_display")())
        return cache[key]

    return label


@register.simple_tag
def contact_rows(items) -> str:
    url = pk_url("contact_detail")
    short_date = _day_formatter()
    label = _labels()
    rows = []
    for c in items:
        email = f'<span class="sub">{_e(c.email)}</span>' if c.email else ""
        rows.append(
            f'<tr><td class="name"><a href="{url(c.pk)}">{_e(c.full_name)}</a>{email}</td>'
            f'<td><span class="badge stage-{_e(c.lifecycle_stage)}">'
            f"{label(c, 'lifecycle_stage')}</span></td>"
            f'<td class="nowrap">{_e(format_phone(c.phone))}</td><td>{_e(c.city)}</td>'
            f"<td>{_e(c.owner.display_name)}</td>"
            f'<td class="nowrap muted">{_e(short_date(c.updated_at))}</td>'
            f'<td class="nowrap muted">{_e(short_date(c.created_at))}</td></tr>'
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value went through _e


@register.simple_tag
def company_rows(items) -> str:
    url = pk_url("company_detail")
    short_date = _day_formatter()
    label = _labels()
    tax_label = _e(_("Tax id"))
    rows = []
    for c in items:
        tax = f'<span class="sub">{tax_label} {_e(c.tax_id)}</span>' if c.tax_id else ""
        rows.append(
            f'<tr><td class="name"><a href="{url(c.pk)}">{_e(c.name)}</a>{tax}</td>'
            f"<td>{_e(c.industry)}</td>"
            f'<td class="nowrap">{label(c, "size")}</td><td>{_e(c.city)}</td>'
            f"<td>{_e(c.owner.display_name)}</td>"
            f'<td class="nowrap muted">{_e(short_date(c.updated_at))}</td>'
            f'<td class="nowrap muted">{_e(short_date(c.created_at))}</td></tr>'
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value went through _e


@register.simple_tag
def user_options(users, selected, me_id=None, me_label="") -> str:
    """The <option>s of a user picker, as the templates' loop wrote them: the user whose id is
    `selected` (a query-string value) is selected, the viewer (`me_id`) gets "(me_label)"."""
    selected = "" if selected is None else str(selected)
    me = f" ({_e(me_label)})"
    return mark_safe(  # noqa: S308 - every value went through _e
        "".join(
            f'<option value="{u.pk}" {"selected" if str(u.pk) == selected else ""}>'
            f"{_e(u.display_name)}{me if u.pk == me_id else ''}</option>"
            for u in users
        )
    )


@register.simple_tag
def worked_with_items(worked) -> str:
    """The "who worked with this client" rows (selectors.who_worked_with), as the template's
    loop wrote them; a busy client has a dozen or more, each with two dates and a plural."""
    from django.contrib.humanize.templatetags.humanize import naturaltime
    from django.utils.translation import ngettext

    when = _datetime_formatter()
    rows = []
    for w in worked:
        name = w["user"].display_name
        count = w["count"]
        interactions = ngettext("%(n)s interaction", "%(n)s interactions", count) % {"n": count}
        rows.append(
            "\n      <li>\n"
            f'        <span class="avatar sm">{_e(initials(name))}</span>\n'
            f'        <div class="who"><strong>{_e(name)}</strong>'
            f"<small>{interactions}</small></div>\n"
            f'        <small class="nowrap" title="{when(w["last_at"])[1]}">'
            f"{_e(naturaltime(w['last_at']))}</small>\n"
            "      </li>\n      "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value went through _e


# Timeline entries of later modules point at their object ("deal", 17); these are the pages.
_RELATED = {
    "lead": ("lead_detail", gettext_lazy("Lead")),
    "deal": ("deal_detail", gettext_lazy("Deal")),
    "quote": ("quote_detail", gettext_lazy("Quote")),
    "order": ("order_detail", gettext_lazy("Order")),
}


@register.simple_tag
def related_link(interaction) -> str:
    """A link to the object a timeline entry belongs to, or "" when there is no page for it."""
    target = _RELATED.get(interaction.related_type or "")
    if not target or not interaction.related_id:
        return ""
    try:
        url = reverse(target[0], args=[interaction.related_id])
    except NoReverseMatch:
        return ""
    return format_html('<a href="{}">{} #{}</a>', url, target[1], interaction.related_id)


def _datetime_formatter():
    """value -> (`date_format(value, "c")`, escaped `date_format(value, "DATETIME_FORMAT")`)
    in the local zone, with the zone and language looked up once for a whole page. The date
    part is `_day`'s (cached): DATETIME_FORMAT is DATE_FORMAT, a comma and H:i in every
    language (kliento/formats)."""
    tz = timezone.get_current_timezone()
    language = get_language()

    def when(value) -> tuple[str, str]:
        local = value.astimezone(tz)
        shown = f"{_e(_day(local.date(), language))}, {local.hour:02d}:{local.minute:02d}"
        return _e(local.isoformat()), shown

    return when


class _TimelineRenderer:
    """Timeline entries exactly as customers/partials/_timeline_item.html renders them at rest.

    A contact with thousands of entries shows pages of 30: formatting them here instead of
    through 30 template includes is most of the detail page's time (tested for equal output).
    What is the same for every entry of a page — URLs up to the id, translated labels, the
    time zone, month names, icons — is worked out once per page, not once per entry.
    """

    def __init__(self, entity: str, writable):
        self.entity = entity
        self.writable = writable or ()
        self.when = _datetime_formatter()
        self.label = _labels()
        self.edit_url = pk_url("interaction_edit")
        self.delete_url = pk_url("interaction_delete")
        # A company's timeline links each entry to its contact.
        self.contact_url = pk_url("contact_detail") if entity == "company" else None
        self.words = {
            key: _e(text)
            for key, text in (
                ("done", _("done")),
                ("overdue", _("overdue")),
                ("planned", _("planned")),
                ("assigned", _("assigned to")),
                ("outcome", _("Outcome")),
                ("edit", _("Edit")),
                ("delete", _("Delete")),
            )
        }
        self.actions = (icon("edit", 14), icon("trash", 14))

    def item(self, i) -> str:
        words = self.words
        badge = ""
        if i.planned:
            if i.done:
                badge = f'<span class="badge badge-done">{words["done"]}</span>'
            elif i.is_overdue:
                badge = f'<span class="badge badge-overdue">{words["overdue"]}</span>'
            else:
                badge = f'<span class="badge badge-today">{words["planned"]}</span>'
        iso, shown = self.when(i.occurred_at)
        kind = self.label(i, "kind")
        meta = [f'<time datetime="{iso}">{shown}</time> · {kind}']
        if i.channel and i.channel != "other" and i.kind != i.channel:
            meta.append(f" · {self.label(i, 'channel')}")
        if i.direction != "internal":
            meta.append(f" · {self.label(i, 'direction')}")
        if i.duration_seconds:
            meta.append(f" · {_e(duration(i.duration_seconds))}")
        if i.user_id and i.user:
            meta.append(f" · {_e(i.user.display_name)}")
        if i.planned and i.assignee_id and not i.done and i.assignee:
            meta.append(f" · {words['assigned']} {_e(i.assignee.display_name)}")
        if i.related_type:
            rel = related_link(i)
            if rel:
                meta.append(f" · {_e(rel)}")
        if self.contact_url and i.contact_id and i.contact:
            meta.append(
                f' · <a href="{self.contact_url(i.contact_id)}">{_e(i.contact.full_name)}</a>'
            )
        subject = _e(i.subject) if i.subject else kind
        parts = [
            f'<li class="tl-item tl-{_e(i.kind)}" id="interaction-{_e(i.pk)}">'
            f'<span class="tl-icon">{_icon(i.kind, 16)}</span><div>'
            f'<div class="tl-head"><strong>{subject}</strong>{badge}</div>'
            f'<div class="tl-meta">{"".join(meta)}</div>'
        ]
        if i.body:
            parts.append(f'<div class="tl-body">{_e(_truncate(i.body, 1200))}</div>')
        if i.outcome:
            parts.append(
                f'<div class="tl-meta"><strong>{words["outcome"]}:</strong> {_e(i.outcome)}</div>'
            )
        if i.pk in self.writable:
            pk = _e(i.pk)
            query = _e(f"?entity={self.entity}")
            edit_icon, delete_icon = self.actions
            parts.append(
                '<div class="tl-actions">'
                f'<button class="btn btn-sm btn-ghost" type="button" '
                f'hx-get="{self.edit_url(i.pk)}{query}" '
                f'hx-target="#interaction-{pk}" hx-swap="outerHTML">{edit_icon} {words["edit"]}'
                "</button>"
                f'<button class="btn btn-sm btn-ghost tl-delete" type="button" '
                f'hx-get="{self.delete_url(i.pk)}{query}" '
                f'hx-target="#interaction-{pk}" hx-swap="outerHTML">{delete_icon} '
                f"{words['delete']}</button></div>"
            )
        parts.append("</div></li>")
        return "".join(parts)


def _truncate(text: str, length: int) -> str:
    """`Truncator(text).chars(length)`; text that fits is only NFC-normalised, as it does."""
    if len(text) <= length:
        return unicodedata.normalize("NFC", text)
    return Truncator(text).chars(length)


@lru_cache(maxsize=64)
def _icon(name: str, size: int) -> str:
    return icon(name, size)


@register.simple_tag
def timeline_items(items, entity: str, writable) -> str:
    renderer = _TimelineRenderer(entity, writable)
    return mark_safe(  # noqa: S308 - every value went through _e
        "".join(renderer.item(i) for i in items)
    )


@register.simple_tag(takes_context=True)
def render_panel(context, panel):
    """Render a panel from kliento.core.panels: its template with the page's context plus
    the panel's own values (a plain `{% include panel.template %}` would not see them)."""
    values = {k: v for k, v in panel.items() if k != "template"}
    with context.push(**values):
        return context.template.engine.get_template(panel["template"]).render(context)


# --- main navigation ----------------------------------------------------------------------
# (section, URL name, label). Every page renders this bar; its URLs are reversed once per
# process instead of twelve `{% url %}` tags a request.
_NAV = [
    ("home", "home", gettext_lazy("Home")),
    ("contacts", "contact_list", gettext_lazy("Contacts")),
    ("companies", "company_list", gettext_lazy("Companies")),
    ("leads", "lead_list", gettext_lazy("Leads")),
    ("deals", "deal_board", gettext_lazy("Deals")),
    ("quotes", "quote_list", gettext_lazy("Quotes")),
    ("orders", "order_list", gettext_lazy("Orders")),
    ("products", "product_list", gettext_lazy("Products")),
    ("plans", "plan_overview", gettext_lazy("Plans")),
    ("reports", "report_index", gettext_lazy("Reports")),
    ("tasks", "task_list", gettext_lazy("Tasks")),
    ("data", "data_home", gettext_lazy("Data")),
]


@lru_cache(maxsize=8)
def _nav_urls(urlconf) -> tuple[tuple[str, str, object], ...]:
    items = []
    for section, name, label in _NAV:
        try:
            items.append((section, _e(reverse(name, urlconf=urlconf)), label))
        except NoReverseMatch:  # an app left out of INSTALLED_APPS/urls
            continue
    return tuple(items)


@register.simple_tag
def main_nav(section: str = "") -> str:
    """The links of the top bar, the current `section` marked for the eye and for screen
    readers."""
    return mark_safe(  # noqa: S308 - URLs and labels went through _e
        "".join(
            f'<a href="{url}" class="active" aria-current="page">{_e(label)}</a>'
            if key == section
            else f'<a href="{url}">{_e(label)}</a>'
            for key, url, label in _nav_urls(get_urlconf())
        )
    )
