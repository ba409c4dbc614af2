"""The report filters' labels (for error messages that name the field the user sees), and the
reports' big tables rendered in Python."""

from __future__ import annotations

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.base import render_value_in_context
from django.template.defaultfilters import floatformat, stringformat
from django.utils.safestring import mark_safe
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


# --- the big tables, rendered here -----------------------------------------------------------
#
# A forecast over three years or a sales cycle broken down by fifty owners has hundreds of
# numbers, each a link: rendering them through a template include per cell cost more than
# the report's SQL. These tags write exactly what the loops over reports/partials/_num.html
# wrote (test_table_render.py compares them with those loops); what is the same for a whole
# table is worked out once.


def _value(context, value) -> str:
    """`{{ value }}` in this context: localised, then escaped."""
    return render_value_in_context(value, context)


def _num(context, url, value, text) -> str:
    """reports/partials/_num.html (its trailing newline included)."""
    text = _value(context, text)
    if url and value:
        return f'<a class="num-link" href="{_value(context, url)}">{text}</a>\n'
    if value:
        return f"{text}\n"
    return f'<span class="zero">{text}</span>\n'


def _whole(value) -> str:
    return floatformat(value, "0g")


def _bar(context, pct) -> str:
    """A percentage with its bar (`pct` is not None)."""
    return (
        f'<span class="bar-cell" style="--pct: {_value(context, stringformat(pct, "s"))}%">'
        f"<span>{_value(context, pct)}%</span></span>"
    )


@register.simple_tag(takes_context=True)
def forecast_rows(context, rows) -> str:
    """The month rows of the forecast table."""
    out = []
    td = '\n        <td class="right num">'
    for r in rows:
        links = r["links"]
        out.append(
            f'\n      <tr>\n        <th scope="row">{_value(context, r["label"])}</th>'
            f"{td}{_num(context, links['open'], r['open_count'], intcomma(r['open_count']))}</td>"
            f"{td}{_num(context, links['open'], r['amount'], _whole(r['amount']))}</td>"
            f"{td}{_num(context, None, r['weighted'], _whole(r['weighted']))}</td>"
            f"{td}{_num(context, links['won'], r['won'], _whole(r['won']))}</td>"
            f"{td}{_num(context, links['commit'], r['commit'], _whole(r['commit']))}</td>"
            f"{td}{_num(context, links['best_case'], r['best_case'], _whole(r['best_case']))}</td>"
            f"{td}{_num(context, links['pipeline'], r['pipeline'], _whole(r['pipeline']))}</td>"
            f'\n        <td class="right num strong">{_whole(r["committed"])}</td>'
            f'\n        <td class="right num strong">{_whole(r["best"])}</td>'
            "\n      </tr>\n    "
        )
    return mark_safe("".join(out))  # noqa: S308 - every value went through _value


@register.simple_tag(takes_context=True)
def cycle_funnel_rows(context, rows) -> str:
    """The stage rows of the sales-cycle funnel table (not its empty row)."""
    out = []
    td = '\n        <td class="right num">'
    for r in rows:
        links = r["links"]
        conversion = "—" if r["conversion"] is None else _bar(context, r["conversion"])
        avg, expected = r["avg_days"], r["expected_days"]
        over = " over" if expected and avg and avg > expected else ""
        out.append(
            f'\n      <tr>\n        <th scope="row">{_value(context, r["name"])}</th>'
            f"{td}{_value(context, r['probability'])}%</td>"
            f"{td}{_num(context, links['reached'], r['reached'], intcomma(r['reached']))}</td>"
            f"{td}{_value(context, intcomma(r['next_reached']))}</td>"
            f"{td}{conversion}</td>"
            f'\n        <td class="right num{over}">'
            f"{'—' if avg is None else _value(context, avg)}</td>"
            f'\n        <td class="right num muted">{_value(context, expected or "—")}</td>'
            f"{td}{_num(context, links['open'], r['open'], intcomma(r['open']))}</td>"
            f"{td}{_num(context, links['lost'], r['lost'], intcomma(r['lost']))}</td>"
            "\n      </tr>\n    "
        )
    return mark_safe("".join(out))  # noqa: S308 - every value went through _value


@register.simple_tag(takes_context=True)
def cycle_breakdown_rows(context, rows, basis: str) -> str:
    """The rows of the sales-cycle breakdown (by owner, pipeline or month)."""
    out = []
    td = '\n        <td class="right num">'
    for r in rows:
        links = r["links"]
        open_cell = ""
        if basis == "created":
            cell = _num(context, links["open"], r["open"], intcomma(r["open"]))
            open_cell = f'<td class="right num">{cell}</td>'
        rate = "—" if r["win_rate"] is None else _bar(context, r["win_rate"])
        cycle = "—" if r["cycle_days"] is None else r["cycle_days"]
        out.append(
            f'\n      <tr>\n        <th scope="row">{_value(context, r["label"])}</th>'
            f"{td}{_num(context, links['deals'], r['deals'], intcomma(r['deals']))}</td>"
            f"{td}{_num(context, links['won'], r['won'], intcomma(r['won']))}</td>"
            f"{td}{_num(context, links['lost'], r['lost'], intcomma(r['lost']))}</td>"
            f"\n        {open_cell}"
            f"{td}{rate}</td>"
            f"{td}{_whole(r['won_amount'])}</td>"
            f"{td}{_value(context, cycle)}</td>"
            "\n      </tr>\n    "
        )
    return mark_safe("".join(out))  # noqa: S308 - every value went through _value
