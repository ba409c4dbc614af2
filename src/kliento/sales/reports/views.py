"""Web UI of the sales reports: filters, a chart, a table, drill-down lists and exports.

Every number links to the records behind it (a drill-down page in this app listing exactly
the deals, orders or interactions the number counts). `?format=csv|xlsx` exports the table.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from kliento.core.errors import ValidationFailedError
from kliento.core.models import Team, User
from kliento.core.permissions import scope_for
from kliento.customers.models import InteractionKind
from kliento.sales.deals.models import ForecastCategory, Pipeline
from kliento.sales.reports import charts, filters, selectors
from kliento.sales.reports.exports import export
from kliento.sales.reports.filters import month_key

DRILL_LIMIT = 500


# --- shared -----------------------------------------------------------------------------------


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _link(name: str, params: dict) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{reverse(name)}?{urlencode(clean)}" if clean else reverse(name)


class _Links:
    """Drill-down links of one report page: `links(month=..., measure=...)` is
    `_link(name, {**base, month: ..., measure: ...})`, character for character.

    A page links hundreds of numbers; reversing the URL and encoding the whole filter query
    again for each cost more than its SQL. The URL and each filter's `key=value` are worked
    out once; a link joins them with the few parameters of its number.
    """

    def __init__(self, name: str, base: dict):
        self.prefix = reverse(name)
        self.base = {k: urlencode({k: v}) for k, v in base.items() if v not in (None, "")}

    def __call__(self, **params) -> str:
        parts = self.base
        if params:
            parts = dict(parts)
            for k, v in params.items():
                if v in (None, ""):
                    parts.pop(k, None)
                else:
                    parts[k] = urlencode({k: v})
        return f"{self.prefix}?{'&'.join(parts.values())}" if parts else self.prefix


def _month_label(day: dt.date) -> str:
    return date_format(day, "M Y")


def _options(user: User) -> dict:
    """Choices for the filter bar, limited to what the user may see."""
    scope = scope_for(user)
    users = User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    teams = Team.objects.order_by("path")
    if not scope.read_all:
        users = users.filter(pk__in=sorted(scope.owner_ids))
        if user.team_id and user.role == "head":
            teams = teams.filter(path__startswith=user.team.path)
        else:
            teams = teams.filter(pk=user.team_id) if user.team_id else teams.none()
    teams = list(teams)
    for team in teams:
        team.indent = "\u2003" * team.depth
    return {
        "pipelines": list(Pipeline.objects.filter(active=True).order_by("position", "id")),
        "owners": list(users),
        "teams": teams,
    }


def _parse(request: HttpRequest, parser, params=None):
    """(filters, errors): on bad input the errors by parameter and the default filters."""
    params = request.GET if params is None else params
    try:
        return parser(params), {}
    except ValidationFailedError as exc:
        return parser({}), exc.fields


def _export_format(request: HttpRequest) -> str | None:
    fmt = request.GET.get("format", "")
    return fmt if fmt in ("csv", "xlsx") else None


def _render(request, template: str, context: dict, *, errors: dict) -> HttpResponse:
    context.update({"section": "reports", "errors": errors, **_options(request.user)})
    return render(request, template, context)


def _drill_split(request: HttpRequest, keys: tuple[str, ...]) -> tuple[dict, dict]:
    drill = {k: request.GET.get(k, "") for k in keys}
    rest = {k: v for k, v in request.GET.items() if k not in keys}
    return drill, rest


def _drill_page(request, *, title, back, back_label, summary, columns, rows, total_count):
    return render(
        request,
        "reports/drilldown.html",
        {
            "section": "reports",
            "title": title,
            "back": back,
            "back_label": back_label,
            "summary": summary,
            "columns": columns,
            "rows": rows,
            "total_count": total_count,
            "limited": total_count > len(rows),
        },
    )


def _cell(text, url=None, num=False, sub=""):
    return {"text": text, "url": url, "num": num, "sub": sub}


def _money(value) -> str:
    return charts.full(value, 2)


def _deal_cells(deal, *, show: str = "expected") -> list[dict]:
    customer = deal.company or deal.contact
    when = deal.expected_close if show == "expected" else deal.closed_at
    if isinstance(when, dt.datetime):
        when = when.date()
    return [
        _cell(deal.name, _url("deal_detail", deal.pk), sub=str(customer or "")),
        _cell(deal.pipeline.name, sub=deal.stage.name),
        _cell(deal.get_status_display()),
        _cell(str(deal.owner)),
        _cell(date_format(when, "SHORT_DATE_FORMAT") if when else "—"),
        _cell(_money(deal.amount_company), num=True),
    ]


def _deal_columns(date_label: str) -> list[dict]:
    return [
        {"label": _("Deal")},
        {"label": _("Pipeline / stage")},
        {"label": _("Status")},
        {"label": _("Owner")},
        {"label": date_label},
        {"label": _("Amount"), "num": True},
    ]


# --- index ------------------------------------------------------------------------------------


@login_required
def report_index(request: HttpRequest) -> HttpResponse:
    cards = [
        {
            "url": reverse("report_forecast"),
            "icon": "forecast",
            "title": _("Forecast"),
            "text": _(
                "Weighted pipeline by expected close month, committed and best-case numbers."
            ),
        },
        {
            "url": reverse("report_cycle"),
            "icon": "cycle",
            "title": _("Sales cycle"),
            "text": _("Days per stage, stage-to-stage conversion, win rate and cycle length."),
        },
        {
            "url": reverse("report_activity"),
            "icon": "activity",
            "title": _("Employee activity"),
            "text": _("Calls, meetings, emails, tasks done and deals moved, per person and team."),
        },
        {
            "url": reverse("report_pnl"),
            "icon": "pnl",
            "title": _("Profit and loss"),
            "text": _("Revenue, cost, discounts and margin per customer and per product."),
        },
    ]
    return render(request, "reports/index.html", {"section": "reports", "cards": cards})


# --- forecast ---------------------------------------------------------------------------------

FORECAST_MEASURES = ("open", "won", "commit", "best_case", "pipeline", "omitted")


def forecast_table(data: dict) -> tuple[list[str], list[list]]:
    header = [
        _("Month"),
        _("Open deals"),
        _("Pipeline total"),
        _("Weighted"),
        _("Won"),
        _("Commit"),
        _("Best case"),
        _("Pipeline"),
        _("Committed forecast"),
        _("Best-case forecast"),
    ]
    keys = ["open_count", "amount", "weighted", "won", "commit", "best_case", "pipeline"]
    rows = [[r["key"], *(r[k] for k in keys), r["committed"], r["best"]] for r in data["rows"]]
    t = data["totals"]
    rows.append([_("Total"), *(t[k] for k in keys), t["committed"], t["best"]])
    return header, rows


@login_required
def report_forecast(request: HttpRequest) -> HttpResponse:
    f, errors = _parse(request, filters.forecast_filters)
    data = selectors.forecast(user=request.user, f=f)
    fmt = _export_format(request)
    if fmt and not errors:
        header, rows = forecast_table(data)
        name = f"forecast-{month_key(f.month_from)}-{month_key(f.month_to)}"
        return export(fmt, name, header, rows, _("Forecast"))
    base = f.query()
    drill = _Links("report_forecast_drill", base)
    for row in data["rows"]:
        row["label"] = _month_label(row["month"])
        row["links"] = {m: drill(month=row["key"], measure=m) for m in FORECAST_MEASURES}
    categories = [r["label"] for r in data["rows"]]
    chart = charts.column_chart(
        title=_("Forecast by expected close month"),
        desc=_(
            "Stacked columns: won so far, commit, best case and pipeline amounts per month; "
            "the line is the probability-weighted pipeline."
        ),
        categories=categories,
        series=[
            charts.Series(
                _("Won"),
                [r["won"] for r in data["rows"]],
                "s-won",
                [r["links"]["won"] for r in data["rows"]],
            ),
            charts.Series(
                _("Commit"),
                [r["commit"] for r in data["rows"]],
                "s-commit",
                [r["links"]["commit"] for r in data["rows"]],
            ),
            charts.Series(
                _("Best case"),
                [r["best_case"] for r in data["rows"]],
                "s-best",
                [r["links"]["best_case"] for r in data["rows"]],
            ),
            charts.Series(
                _("Pipeline"),
                [r["pipeline"] for r in data["rows"]],
                "s-pipe",
                [r["links"]["pipeline"] for r in data["rows"]],
            ),
        ],
        line=charts.Series(_("Weighted"), [r["weighted"] for r in data["rows"]], "s-line"),
    )
    context = {
        "f": f,
        "data": data,
        "chart": chart,
        "export_query": urlencode(base),
        "has_data": any(r["open_count"] or r["won_count"] for r in data["rows"]),
        "total_links": {m: drill(measure=m) for m in FORECAST_MEASURES},
    }
    return _render(request, "reports/forecast.html", context, errors=errors)


@login_required
def report_forecast_drill(request: HttpRequest) -> HttpResponse:
    drill, rest = _drill_split(request, ("month", "measure"))
    f, errors = _parse(request, filters.forecast_filters, rest)
    measure = drill["measure"] or "open"
    if errors or measure not in FORECAST_MEASURES:
        raise Http404
    month = None
    if drill["month"]:
        errs: dict = {}
        month = filters._parse_month(drill["month"], "month", errs)
        if errs:
            raise Http404
    qs = selectors.forecast_deals(user=request.user, f=f, month=month, measure=measure)
    agg = qs.aggregate(n=Count("id"), total=Sum("amount_company"))
    deals = list(qs[:DRILL_LIMIT])
    labels = dict(ForecastCategory.choices)
    measure_label = {
        "open": _("Open deals"),
        "won": _("Won"),
    }.get(measure, labels.get(measure, measure))
    period = (
        _month_label(month)
        if month
        else f"{_month_label(f.month_from)} – {_month_label(f.month_to)}"
    )
    return _drill_page(
        request,
        title=f"{measure_label} · {period}",
        back=_link("report_forecast", f.query()),
        back_label=_("Forecast"),
        summary=[
            (_("Deals"), agg["n"]),
            (_("Amount"), _money(agg["total"] or 0)),
        ],
        columns=_deal_columns(_("Closed") if measure == "won" else _("Expected close")),
        rows=[_deal_cells(d, show="closed" if measure == "won" else "expected") for d in deals],
        total_count=agg["n"],
    )


# --- sales cycle ------------------------------------------------------------------------------


def cycle_table(data: dict, f) -> tuple[list[str], list[list]]:
    group_label = {"owner": _("Owner"), "pipeline": _("Pipeline"), "month": _("Month")}[f.group]
    header = [
        group_label,
        _("Deals"),
        _("Won"),
        _("Lost"),
        _("Open"),
        _("Win rate, %"),
        _("Won amount"),
        _("Average cycle, days"),
        _("Average cycle of won deals, days"),
    ]
    keys = ["deals", "won", "lost", "open", "win_rate", "won_amount", "cycle_days"]
    rows = [[r["label"], *(r[k] for k in keys), r["won_cycle_days"]] for r in data["breakdown"]]
    s = data["summary"]
    rows.append([_("Total"), *(s[k] for k in keys), s["won_cycle_days"]])
    rows.append([])
    rows.append(
        [
            _("Stage"),
            _("Reached"),
            _("Moved on"),
            _("Conversion, %"),
            _("Average days in stage"),
            _("Open now"),
            _("Lost here"),
        ]
    )
    for st in data["funnel"]:
        rows.append(
            [
                st["name"],
                st["reached"],
                st["next_reached"],
                st["conversion"],
                st["avg_days"],
                st["open"],
                st["lost"],
            ]
        )
    return header, rows


@login_required
def report_cycle(request: HttpRequest) -> HttpResponse:
    f, errors = _parse(request, filters.cycle_filters)
    data = selectors.sales_cycle(user=request.user, f=f)
    fmt = _export_format(request)
    if fmt and not errors:
        header, rows = cycle_table(data, f)
        name = f"sales-cycle-{f.date_from.isoformat()}-{f.date_to.isoformat()}"
        return export(fmt, name, header, rows, _("Sales cycle"))
    base = f.query()
    drill = _Links("report_cycle_drill", base)
    for row in data["funnel"]:
        stage = row["stage_id"]
        row["links"] = {
            "reached": drill(measure="reached", stage=stage),
            "open": drill(measure="stage_open", stage=stage),
            "lost": drill(measure="stage_lost", stage=stage),
        }
    for row in data["breakdown"]:
        scoped = {}
        if f.group == "month":
            scoped["month"] = row["key"]
            row["label"] = _month_label(dt.date.fromisoformat(row["key"] + "-01"))
        elif row["key"] is not None:
            scoped[f.group] = row["key"]
        row["links"] = {m: drill(**scoped, measure=m) for m in ("deals", "won", "lost", "open")}
    summary_links = {m: drill(measure=m) for m in ("deals", "won", "lost")}
    funnel = data["funnel"]
    funnel_chart = charts.bar_chart(
        title=_("Deals that reached each stage"),
        desc=_("One bar per stage: how many deals of the period reached it."),
        labels=[r["name"] for r in funnel] + ([_("Won")] if funnel else []),
        series=[
            charts.Series(
                _("Deals"),
                [r["reached"] for r in funnel] + ([data["won_in_pipeline"]] if funnel else []),
                "s-commit",
                [r["links"]["reached"] for r in funnel]
                + ([summary_links["won"]] if funnel else []),
            )
        ],
        width=560,
        label_width=190,
    )
    days_chart = charts.bar_chart(
        title=_("Average days per stage"),
        desc=_("One bar per stage: the average number of days deals spent in it."),
        labels=[r["name"] for r in funnel],
        series=[charts.Series(_("Days"), [r["avg_days"] for r in funnel], "s-best")],
        digits=1,
        suffix=" " + _("d"),
        width=560,
        label_width=190,
    )
    context = {
        "f": f,
        "data": data,
        "funnel_chart": funnel_chart,
        "days_chart": days_chart,
        "summary_links": summary_links,
        "export_query": urlencode(base),
        "has_data": data["summary"]["deals"] > 0,
    }
    return _render(request, "reports/cycle.html", context, errors=errors)


@login_required
def report_cycle_drill(request: HttpRequest) -> HttpResponse:
    drill, rest = _drill_split(request, ("measure", "stage", "month"))
    f, errors = _parse(request, filters.cycle_filters, rest)
    measure = drill["measure"] or "deals"
    valid = ("deals", "won", "lost", "open", "reached", "stage_open", "stage_lost")
    errs: dict = {}
    stage = filters._parse_id(drill["stage"], "stage", errs)
    month = filters._parse_month(drill["month"], "month", errs)
    if errors or errs or measure not in valid:
        raise Http404
    qs = selectors.cycle_deals(user=request.user, f=f, measure=measure, stage=stage, month=month)
    agg = qs.aggregate(n=Count("id"), total=Sum("amount_company"))
    deals = list(qs[:DRILL_LIMIT])
    titles = {
        "deals": _("Deals"),
        "won": _("Won deals"),
        "lost": _("Lost deals"),
        "open": _("Open deals"),
        "reached": _("Deals that reached the stage"),
        "stage_open": _("Deals open in the stage"),
        "stage_lost": _("Deals lost in the stage"),
    }
    title = titles[measure]
    if stage:
        from kliento.sales.deals.models import Stage

        st = Stage.objects.filter(pk=stage).first()
        if st:
            title = f"{title}: {st.name}"
    basis = _("closed") if f.basis == "closed" else _("created")
    period = f"{date_format(f.date_from, 'SHORT_DATE_FORMAT')} – " + date_format(
        f.date_to, "SHORT_DATE_FORMAT"
    )
    if month:
        period = _month_label(month)
    return _drill_page(
        request,
        title=f"{title} · {basis} {period}",
        back=_link("report_cycle", f.query()),
        back_label=_("Sales cycle"),
        summary=[(_("Deals"), agg["n"]), (_("Amount"), _money(agg["total"] or 0))],
        columns=_deal_columns(_("Closed")),
        rows=[_deal_cells(d, show="closed") for d in deals],
        total_count=agg["n"],
    )


# --- employee activity ------------------------------------------------------------------------


def _activity_labels() -> dict[str, str]:
    return {
        "calls": _("Calls"),
        "meetings": _("Meetings"),
        "emails": _("Emails"),
        "notes": _("Notes"),
        "tasks": _("Tasks done"),
        "created": _("Deals created"),
        "moved": _("Deals moved"),
        "won": _("Deals won"),
        "lost": _("Deals lost"),
    }


def activity_table(data: dict, f) -> tuple[list[str], list[list]]:
    labels = _activity_labels()
    first = _("Team") if f.group == "team" else _("Employee")
    header = [first, *labels.values(), _("Won amount")]
    if f.group == "user":
        header.insert(1, _("Team"))
    rows = []
    for r in data["rows"]:
        row = [r["label"], *(r[m] for m in labels), r["won_amount"]]
        if f.group == "user":
            row.insert(1, r["team"])
        rows.append(row)
    t = data["totals"]
    total = [_("Total"), *(t[m] for m in labels), t["won_amount"]]
    if f.group == "user":
        total.insert(1, "")
    rows.append(total)
    return header, rows


@login_required
def report_activity(request: HttpRequest) -> HttpResponse:
    f, errors = _parse(request, filters.activity_filters)
    data = selectors.activity(user=request.user, f=f)
    fmt = _export_format(request)
    if fmt and not errors:
        header, rows = activity_table(data, f)
        name = f"activity-{f.date_from.isoformat()}-{f.date_to.isoformat()}"
        return export(fmt, name, header, rows, _("Activity"))
    base = f.query()
    base.pop("group", None)
    labels = _activity_labels()
    drill = _Links("report_activity_drill", base)
    for row in data["rows"]:
        if f.group == "team" and not row["key"]:
            row["links"] = {}
            continue
        scoped = {("team" if f.group == "team" else "owner"): row["key"] or ""}
        row["links"] = {m: drill(**scoped, metric=m) for m in labels}
    total_links = {m: drill(metric=m) for m in labels}
    shown = data["rows"][:25]
    kinds = [
        ("calls", "s-won"),
        ("meetings", "s-commit"),
        ("emails", "s-best"),
        ("notes", "s-pipe"),
        ("tasks", "s-extra"),
    ]
    chart = charts.bar_chart(
        title=_("Activity per team") if f.group == "team" else _("Activity per employee"),
        desc=_("Stacked bars: calls, meetings, emails, notes and tasks done in the period."),
        labels=[r["label"] for r in shown],
        series=[
            charts.Series(labels[m], [r[m] for r in shown], css, [r["links"].get(m) for r in shown])
            for m, css in kinds
        ],
    )
    context = {
        "f": f,
        "data": data,
        "chart": chart,
        "metrics": list(labels.items()),
        "total_links": total_links,
        "export_query": urlencode(f.query()),
        "has_data": any(r["total"] or r["created"] or r["moved"] for r in data["rows"]),
    }
    return _render(request, "reports/activity.html", context, errors=errors)


@login_required
def report_activity_drill(request: HttpRequest) -> HttpResponse:
    drill, rest = _drill_split(request, ("metric",))
    f, errors = _parse(request, filters.activity_filters, rest)
    metric = drill["metric"]
    if errors or metric not in selectors.ACTIVITY_METRICS:
        raise Http404
    qs = selectors.activity_records(user=request.user, f=f, metric=metric)
    total = qs.count()
    items = list(qs[:DRILL_LIMIT])
    label = _activity_labels()[metric]
    summary = [(label, total)]
    if metric in ("calls", "meetings", "emails", "notes", "tasks"):
        kinds = dict(InteractionKind.choices)
        columns = [
            {"label": _("When")},
            {"label": _("Subject")},
            {"label": _("Customer")},
            {"label": _("Employee")},
        ]
        rows = []
        for it in items:
            customer = it.contact or it.company
            url = None
            if it.contact_id:
                url = _url("contact_detail", it.contact_id)
            elif it.company_id:
                url = _url("company_detail", it.company_id)
            when = it.done_at if metric == "tasks" else it.occurred_at
            who = (it.assignee or it.user) if metric == "tasks" else it.user
            rows.append(
                [
                    _cell(date_format(dt_local(when), "SHORT_DATETIME_FORMAT")),
                    _cell(it.subject or kinds.get(it.kind, it.kind)),
                    _cell(str(customer) if customer else "—", url),
                    _cell(str(who or "—")),
                ]
            )
    elif metric == "created":
        columns = _deal_columns(_("Expected close"))
        rows = [_deal_cells(d) for d in items]
    else:
        columns = [
            {"label": _("When")},
            {"label": _("Deal")},
            {"label": _("Move")},
            {"label": _("Employee")},
            {"label": _("Amount"), "num": True},
        ]
        rows = [
            [
                _cell(date_format(dt_local(sc.at), "SHORT_DATETIME_FORMAT")),
                _cell(sc.deal.name, _url("deal_detail", sc.deal_id)),
                _cell(
                    f"{sc.from_stage.name if sc.from_stage else '—'} → "
                    + (sc.to_stage.name if sc.status == "open" else sc.get_status_display())
                ),
                _cell(str(sc.user or "—")),
                _cell(_money(sc.deal.amount_company), num=True),
            ]
            for sc in items
        ]
        if metric == "won":
            amount = qs.aggregate(s=Sum("deal__amount_company"))["s"] or Decimal("0")
            summary.append((_("Won amount"), _money(amount)))
    period = (
        f"{date_format(f.date_from, 'SHORT_DATE_FORMAT')} – "
        f"{date_format(f.date_to, 'SHORT_DATE_FORMAT')}"
    )
    who = ""
    if f.owner:
        who = str(User.objects.filter(pk=f.owner).first() or "")
    elif f.team:
        who = str(Team.objects.filter(pk=f.team).first() or "")
    title = " · ".join(x for x in (label, who, period) if x)
    return _drill_page(
        request,
        title=title,
        back=_link("report_activity", f.query()),
        back_label=_("Employee activity"),
        summary=summary,
        columns=columns,
        rows=rows,
        total_count=total,
    )


def dt_local(value):
    from django.utils import timezone

    return timezone.localtime(value) if value else value


# --- profit and loss --------------------------------------------------------------------------


def pnl_table(data: dict, f) -> tuple[list[str], list[list]]:
    first = {"company": _("Company"), "contact": _("Contact"), "product": _("Product")}[f.by]
    header = [
        first,
        _("Orders"),
        _("Revenue"),
        _("Cost"),
        _("Discounts"),
        _("Margin"),
        _("Margin, %"),
    ]
    keys = ["orders", "revenue", "cost", "discounts", "margin", "margin_pct"]
    rows = [[r["label"], *(r[k] for k in keys)] for r in data["rows"]]
    if data["others"]:
        o = data["others"]
        rows.append(
            [
                _("Others"),
                None,
                o["revenue"],
                o["cost"],
                o["discounts"],
                o["margin"],
                o["margin_pct"],
            ]
        )
    t = data["totals"]
    rows.append([_("Total"), *(t[k] for k in keys)])
    return header, rows


@login_required
def report_pnl(request: HttpRequest) -> HttpResponse:
    f, errors = _parse(request, filters.pnl_filters)
    data = selectors.pnl(user=request.user, f=f)
    fmt = _export_format(request)
    if fmt and not errors:
        header, rows = pnl_table(data, f)
        name = f"pnl-{f.by}-{f.date_from.isoformat()}-{f.date_to.isoformat()}"
        return export(fmt, name, header, rows, _("Profit and loss"))
    base = f.query()
    drill = _Links("report_pnl_drill", base)
    for row in data["rows"]:
        row["link"] = drill(key=row["key"])
    shown = data["rows"][:20]
    chart = charts.bar_chart(
        title=_("Margin and cost per row"),
        desc=_("Stacked bars: cost and margin, adding up to the revenue of each row."),
        labels=[r["label"] for r in shown],
        series=[
            charts.Series(_("Cost"), [max(r["cost"], 0) for r in shown], "s-pipe"),
            charts.Series(
                _("Margin"),
                [max(r["margin"], 0) for r in shown],
                "s-won",
                [r["link"] for r in shown],
            ),
        ],
        # Whole units: the bar is the picture, the table below has the kopecks.
        digits=0,
        label_width=230,
    )
    sorts = []
    for key, label in (
        ("revenue", _("Revenue")),
        ("cost", _("Cost")),
        ("discounts", _("Discounts")),
        ("margin", _("Margin")),
        ("margin_pct", _("Margin, %")),
        ("orders", _("Orders")),
    ):
        sorts.append(
            {
                "key": key,
                "label": label,
                "url": _link("report_pnl", {**base, "sort": key}),
                "active": f.sort == key,
            }
        )
    context = {
        "f": f,
        "data": data,
        "chart": chart,
        "sorts": {s["key"]: s for s in sorts},
        "sort_list": sorts,
        "total_link": drill(),
        "export_query": urlencode(base),
        "has_data": data["totals"]["orders"] > 0,
        "group_choices": [
            ("company", _("Company")),
            ("contact", _("Contact")),
            ("product", _("Product")),
        ],
    }
    return _render(request, "reports/pnl.html", context, errors=errors)


@login_required
def report_pnl_drill(request: HttpRequest) -> HttpResponse:
    drill, rest = _drill_split(request, ("key",))
    rest.pop("sort", None)
    rest.pop("top", None)
    f, errors = _parse(request, filters.pnl_filters, rest)
    key = drill["key"] or None
    if errors or (key not in (None, "none") and not key.isdigit()):
        raise Http404
    qs = selectors.pnl_records(user=request.user, f=f, key=key)
    total = qs.count()
    items = list(qs[:DRILL_LIMIT])
    label = ""
    if key and key != "none":
        label = selectors._pnl_labels(f.by, [int(key)]).get(int(key), "")
    if f.by == "product":
        sums = qs.aggregate(rev_sum=Sum("revenue"), cost_sum=Sum("line_cost"))
        columns = [
            {"label": _("Order")},
            {"label": _("Date")},
            {"label": _("Customer")},
            {"label": _("Quantity"), "num": True},
            {"label": _("Revenue"), "num": True},
            {"label": _("Cost"), "num": True},
            {"label": _("Margin"), "num": True},
        ]
        rows = []
        for line in items:
            order = line.order
            revenue = selectors.money(line.revenue or 0)
            cost = selectors.money(line.line_cost or 0)
            rows.append(
                [
                    _cell(
                        order.number,
                        _url("order_detail", order.pk),
                        sub=line.product.name if line.product else line.description,
                    ),
                    _cell(date_format(dt_local(order.ordered_at), "SHORT_DATE_FORMAT")),
                    _cell(str(order.company or order.contact or "—")),
                    _cell(charts.full(line.quantity, 3), num=True),
                    _cell(_money(revenue), num=True),
                    _cell(_money(cost), num=True),
                    _cell(_money(revenue - cost), num=True),
                ]
            )
        summary_title = _("Order lines")
    else:
        sums = qs.aggregate(rev_sum=Sum("revenue_company"), cost_sum=Sum("cost_company"))
        columns = [
            {"label": _("Order")},
            {"label": _("Date")},
            {"label": _("Customer")},
            {"label": _("Owner")},
            {"label": _("Revenue"), "num": True},
            {"label": _("Cost"), "num": True},
            {"label": _("Margin"), "num": True},
        ]
        rows = [
            [
                _cell(o.number, _url("order_detail", o.pk), sub=o.get_status_display()),
                _cell(date_format(dt_local(o.ordered_at), "SHORT_DATE_FORMAT")),
                _cell(str(o.company or o.contact or "—")),
                _cell(str(o.owner)),
                _cell(_money(o.revenue_company), num=True),
                _cell(_money(o.cost_company), num=True),
                _cell(_money(o.revenue_company - o.cost_company), num=True),
            ]
            for o in items
        ]
        summary_title = _("Orders")
    revenue = selectors.money(sums["rev_sum"] or 0)
    cost = selectors.money(sums["cost_sum"] or 0)
    period = (
        f"{date_format(f.date_from, 'SHORT_DATE_FORMAT')} – "
        f"{date_format(f.date_to, 'SHORT_DATE_FORMAT')}"
    )
    none_label = {
        "company": _("No company"),
        "contact": _("No contact"),
        "product": _("No product"),
    }[f.by]
    if key == "none":
        label = none_label
    return _drill_page(
        request,
        title=" · ".join(x for x in (label or _("All orders"), period) if x),
        back=_link("report_pnl", {**f.query()}),
        back_label=_("Profit and loss"),
        summary=[
            (summary_title, total),
            (_("Revenue"), _money(revenue)),
            (_("Cost"), _money(cost)),
            (_("Margin"), _money(revenue - cost)),
        ],
        columns=columns,
        rows=rows,
        total_count=total,
    )
