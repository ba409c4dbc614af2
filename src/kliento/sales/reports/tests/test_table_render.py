# ruff: noqa: E501 - the template loops below are kept verbatim, one template line a line
"""The report tables rendered in Python (reports_ui.forecast_rows, cycle_*_rows) and the
drill-down links built once per page (views._Links) give exactly what the template loops
over reports/partials/_num.html and views._link gave."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils import translation

from kliento.sales.deals.models import Pipeline, Stage
from kliento.sales.reports.tests.conftest import FORECAST, MARCH
from kliento.sales.reports.views import _link, _Links

pytestmark = pytest.mark.django_db

NUM = '{% include "reports/partials/_num.html" with '

# The loops as the templates had them, whitespace included (counts grouped by |intcomma).
FORECAST_LOOP = (
    "{% for r in data.rows %}\n"
    "      <tr>\n"
    '        <th scope="row">{{ r.label }}</th>\n'
    f'        <td class="right num">{NUM}url=r.links.open value=r.open_count text=r.open_count|intcomma %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.open value=r.amount text=r.amount|floatformat:"0g" %}}</td>\n'
    f'        <td class="right num">{NUM}value=r.weighted text=r.weighted|floatformat:"0g" %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.won value=r.won text=r.won|floatformat:"0g" %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.commit value=r.commit text=r.commit|floatformat:"0g" %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.best_case value=r.best_case text=r.best_case|floatformat:"0g" %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.pipeline value=r.pipeline text=r.pipeline|floatformat:"0g" %}}</td>\n'
    '        <td class="right num strong">{{ r.committed|floatformat:"0g" }}</td>\n'
    '        <td class="right num strong">{{ r.best|floatformat:"0g" }}</td>\n'
    "      </tr>\n"
    "    {% endfor %}"
)  # fmt: skip

FUNNEL_LOOP = (
    "{% for r in data.funnel %}\n"
    "      <tr>\n"
    '        <th scope="row">{{ r.name }}</th>\n'
    '        <td class="right num">{{ r.probability }}%</td>\n'
    f'        <td class="right num">{NUM}url=r.links.reached value=r.reached text=r.reached|intcomma %}}</td>\n'
    '        <td class="right num">{{ r.next_reached|intcomma }}</td>\n'
    '        <td class="right num">{% if r.conversion is not None %}<span class="bar-cell" style="--pct: {{ r.conversion|stringformat:\'s\' }}%"><span>{{ r.conversion }}%</span></span>{% else %}—{% endif %}</td>\n'
    '        <td class="right num{% if r.expected_days and r.avg_days and r.avg_days > r.expected_days %} over{% endif %}">{% if r.avg_days is not None %}{{ r.avg_days }}{% else %}—{% endif %}</td>\n'
    '        <td class="right num muted">{{ r.expected_days|default:"—" }}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.open value=r.open text=r.open|intcomma %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.lost value=r.lost text=r.lost|intcomma %}}</td>\n'
    "      </tr>\n"
    "    {% endfor %}"
)  # fmt: skip

BREAKDOWN_LOOP = (
    "{% for r in data.breakdown %}\n"
    "      <tr>\n"
    '        <th scope="row">{{ r.label }}</th>\n'
    f'        <td class="right num">{NUM}url=r.links.deals value=r.deals text=r.deals|intcomma %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.won value=r.won text=r.won|intcomma %}}</td>\n'
    f'        <td class="right num">{NUM}url=r.links.lost value=r.lost text=r.lost|intcomma %}}</td>\n'
    f'        {{% if f.basis == "created" %}}<td class="right num">{NUM}url=r.links.open value=r.open text=r.open|intcomma %}}</td>{{% endif %}}\n'
    '        <td class="right num">{% if r.win_rate is not None %}<span class="bar-cell" style="--pct: {{ r.win_rate|stringformat:\'s\' }}%"><span>{{ r.win_rate }}%</span></span>{% else %}—{% endif %}</td>\n'
    '        <td class="right num">{{ r.won_amount|floatformat:"0g" }}</td>\n'
    '        <td class="right num">{{ r.cycle_days|default_if_none:"—" }}</td>\n'
    "      </tr>\n"
    "    {% endfor %}"
)  # fmt: skip


def _both(context: dict, loop: str, tag: str) -> tuple[str, str]:
    slow = Template("{% load i18n humanize %}" + loop).render(Context(context))
    fast = Template("{% load reports_ui %}" + tag).render(Context(context))
    return fast, slow


@pytest.fixture
def odd_names(sales):
    """Names that need escaping, in the rows' labels."""
    Pipeline.objects.filter(pk=sales.pipeline.pk).update(name="Sales & <b>Co</b>")
    Stage.objects.filter(pk=sales.stages[2].pk).update(name='Proposal "<i>sent</i>"')


@pytest.mark.parametrize("language", ["en", "ru"])
def test_forecast_rows_match_the_template_loop(sales, odd_names, login, language):
    response = login(sales.org.admin).get("/reports/forecast/", FORECAST)
    data = response.context["data"]

    with translation.override(language):
        fast, slow = _both({"data": data}, FORECAST_LOOP, "{% forecast_rows data.rows %}")

    assert fast == slow
    assert fast.count("<tr>") == 3
    assert fast.count('class="num-link"') > 0 and fast.count('class="zero"') > 0


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("basis", ["closed", "created"])
@pytest.mark.parametrize("group", ["owner", "pipeline", "month"])
def test_cycle_rows_match_the_template_loops(sales, odd_names, login, language, basis, group):
    params = {**MARCH, "basis": basis, "group": group, "date_from": "2026-01-01"}
    response = login(sales.org.admin).get("/reports/sales-cycle/", params)
    context = {"data": response.context["data"], "f": response.context["f"]}

    with translation.override(language):
        fast_funnel, slow_funnel = _both(
            context, FUNNEL_LOOP, "{% cycle_funnel_rows data.funnel %}"
        )
        fast_rows, slow_rows = _both(
            context, BREAKDOWN_LOOP, "{% cycle_breakdown_rows data.breakdown f.basis %}"
        )

    assert fast_funnel == slow_funnel
    assert fast_funnel.count("<tr>") == 5
    assert "&lt;i&gt;sent&lt;/i&gt;" in fast_funnel
    assert fast_rows == slow_rows
    assert fast_rows.count("<tr>") == len(context["data"]["breakdown"]) > 0


@pytest.mark.parametrize(
    ("base", "params"),
    [
        ({}, {}),
        ({"month_from": "2026-03", "month_to": "2026-05"}, {}),
        ({"month_from": "2026-03", "owner": ""}, {"month": "2026-04", "measure": "won"}),
        ({"date_from": "2026-03-01", "owner": "7", "basis": "closed"}, {"owner": "12"}),
        ({"team": "3", "owner": "7"}, {"owner": "", "metric": "calls"}),
        ({"team": "3"}, {"team": None, "key": "none"}),
        ({"q": "Ёлки & палки/=?"}, {"key": 0, "stage": 5}),
    ],
)
def test_links_built_once_equal_links_built_each_time(base, params):
    for name in ("report_forecast_drill", "report_cycle_drill", "report_pnl_drill"):
        assert _Links(name, base)(**params) == _link(name, {**base, **params})
