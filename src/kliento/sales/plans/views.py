"""Web UI of sales plans: the plan-vs-actual tree for a period, the target + cascade editor for
heads and admins, reps' own forecast and adjustment, and a bar chart of the selected node.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from kliento.core.errors import (
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import Role, Team, User
from kliento.core.views import ui_errors
from kliento.sales.catalog.money import company_currency
from kliento.sales.plans import selectors, services
from kliento.sales.plans.models import CascadeMethod, Metric, PeriodKind, SalesTarget

CHART_WIDTH = 820
CHART_LABEL = 170
CHART_ROW = 38


def _state(params) -> dict[str, Any]:
    """Period kind, start and metric from the query (or form); bad values fall back."""
    kind = params.get("period_kind") or PeriodKind.MONTH
    if kind not in PeriodKind.values:
        kind = PeriodKind.MONTH
    metric = params.get("metric") or Metric.DEALS_WON
    if metric not in Metric.values:
        metric = Metric.DEALS_WON
    try:
        _k, start, _m = selectors.parse_period(kind, params.get("period") or None, metric)
    except ValidationFailedError:
        start = selectors.period_normalize(kind, timezone.localdate())
    return {"period_kind": kind, "period_start": start, "metric": metric}


def _url(state: dict[str, Any], **extra) -> str:
    query = {
        "period_kind": state["period_kind"],
        "period": state["period_start"].isoformat(),
        "metric": state["metric"],
        **{k: v for k, v in extra.items() if v},
    }
    return f"{reverse('plan_overview')}?{urlencode(query)}"


def _period_options(kind: str, start: dt.date) -> list[tuple[str, str]]:
    today = selectors.period_normalize(kind, timezone.localdate())
    span = {PeriodKind.MONTH: (12, 6), PeriodKind.QUARTER: (8, 4), PeriodKind.YEAR: (4, 2)}[kind]
    days = {selectors.period_shift(kind, today, step) for step in range(-span[0], span[1] + 1)}
    days.add(start)
    return [
        (day.isoformat(), selectors.period_label(kind, day)) for day in sorted(days, reverse=True)
    ]


def _chart(node: selectors.PlanNode | None) -> dict[str, Any] | None:
    """Bars of target and actual per child of `node`, scaled to the largest value."""
    if node is None or not node.children:
        return None
    peak = max(
        [c.actual for c in node.children] + [c.amount or Decimal("0") for c in node.children]
    )
    # Room right of the longest bar for "1 234 567 / 12 345 678".
    scale = (CHART_WIDTH - CHART_LABEL - 210) / float(peak) if peak else 0
    bars = []
    for i, child in enumerate(node.children):
        name = child.name if len(child.name) <= 22 else child.name[:21] + "…"
        bars.append(
            {
                "name": name,
                "full_name": child.name,
                "y": 8 + i * CHART_ROW,
                "target": child.amount,
                "actual": child.actual,
                "target_w": round(float(child.amount or 0) * scale, 1),
                "actual_w": round(float(child.actual) * scale, 1),
                "over": child.amount is not None and child.actual >= child.amount > 0,
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": 16 + len(bars) * CHART_ROW,
        "label_x": CHART_LABEL - 10,
        "bar_x": CHART_LABEL,
        "node": node,
    }


def _may_edit_any(user: User) -> bool:
    return user.is_active and user.role != Role.ANALYST


def _context(request: HttpRequest, state: dict[str, Any], **extra) -> dict[str, Any]:
    roots = selectors.plan_vs_actual(
        user=request.user,
        period_kind=state["period_kind"],
        period_start=state["period_start"],
        metric=state["metric"],
    )
    rows = [n for root in roots for n in root.walk()]
    selected = selectors.find_node(roots, request.GET.get("node", "")) or (
        roots[0] if roots else None
    )
    kind, start = state["period_kind"], state["period_start"]
    return {
        "section": "plans",
        "state": state,
        "roots": roots,
        "rows": rows,
        "selected": selected,
        "chart": _chart(selected),
        "currency": company_currency(),
        "period_label": selectors.period_label(kind, start),
        "period_options": _period_options(kind, start),
        "prev_url": _url({**state, "period_start": selectors.period_shift(kind, start, -1)}),
        "next_url": _url({**state, "period_start": selectors.period_shift(kind, start, 1)}),
        "kinds": PeriodKind.choices,
        "metrics": Metric.choices,
        "methods": [
            (CascadeMethod.EVEN, CascadeMethod.EVEN.label),
            (CascadeMethod.WEIGHTS, CascadeMethod.WEIGHTS.label),
            (CascadeMethod.LAST_YEAR, CascadeMethod.LAST_YEAR.label),
        ],
        "base_query": urlencode(
            {"period_kind": kind, "period": start.isoformat(), "metric": state["metric"]}
        ),
        "can_edit": _may_edit_any(request.user),
        **extra,
    }


def _editor(request: HttpRequest, roots, key: str, **extra) -> dict[str, Any] | None:
    """The editor for one row: a manager's target + cascade form, or one's own line."""
    node = selectors.find_node(roots, key)
    if node is None or request.user.role == Role.ANALYST:
        return None
    if not (node.can_manage or node.can_adjust):
        return None
    chart = selectors.OrgChart.load()
    children = []
    if node.kind == "team" and node.can_manage:
        team = chart.teams[node.id]
        children = [
            {
                "key": f"{k}:{o.pk}",
                "name": o.name if k == "team" else o.display_name,
                "kind": k,
            }
            for k, o in chart.child_nodes(team)
        ]
    return {"node": node, "children": children, **extra}


@login_required
def plan_overview(request: HttpRequest) -> HttpResponse:
    state = _state(request.GET)
    context = _context(request, state)
    edit = request.GET.get("edit", "")
    if edit:
        context["editor"] = _editor(request, context["roots"], edit)
        if request.htmx and not request.htmx.boosted:
            if context["editor"] is None:
                return HttpResponse(status=204)
            return render(request, "plans/partials/_editor.html", context)
    return render(request, "plans/plan_overview.html", context)


def _weights(post, children: list[dict[str, Any]]) -> dict[str, str]:
    return {c["key"]: post.get(f"weight_{c['key']}", "").strip() for c in children}


@login_required
@ui_errors
def plan_target_save(request: HttpRequest) -> HttpResponse:
    """Set a team's or person's target (and cascade it), or one's own forecast/adjustment."""
    if request.method != "POST":
        return redirect("plan_overview")
    state = _state(request.POST)
    key = request.POST.get("node", "")
    context = _context(request, state)
    editor = _editor(request, context["roots"], key)
    if editor is None:
        raise PermissionDeniedError(_("You can view this plan but not change it."))
    node = editor["node"]
    action = request.POST.get("action", "apply")
    errors: dict[str, str] = {}
    preview = None
    post = request.POST
    cascade = post.get("cascade") == "1" and node.kind == "team"
    method = post.get("method", CascadeMethod.EVEN)
    depth = post.get("depth", "one")
    weights = _weights(post, editor["children"]) if method == CascadeMethod.WEIGHTS else None
    values = {
        "amount": post.get("amount", ""),
        "forecast": post.get("forecast", ""),
        "note": post.get("note", ""),
        "cascade": cascade,
        "method": method,
        "depth": depth,
        "weights": weights or {},
    }
    try:
        if node.can_manage:
            target = node.target
            subject = (
                {"team": Team.objects.get(pk=node.id)}
                if node.kind == "team"
                else {"target_user": User.objects.get(pk=node.id)}
            )
            if action == "preview":
                draft = SalesTarget(
                    period_kind=state["period_kind"],
                    period_start=state["period_start"],
                    metric=state["metric"],
                    team=subject.get("team"),
                    amount=services._amount(values["amount"], "amount", errors) or Decimal("0"),
                )
                if errors:
                    raise ValidationFailedError(fields=errors)
                preview = services.cascade_plan(
                    user=request.user, target=draft, method=method, weights=weights, depth=depth
                )
            else:
                target = services.target_set(
                    user=request.user,
                    period_kind=state["period_kind"],
                    period_start=state["period_start"],
                    metric=state["metric"],
                    amount=values["amount"],
                    note=values["note"],
                    **subject,
                )
                if cascade:
                    services.target_cascade(
                        user=request.user,
                        target=target,
                        method=method,
                        weights=weights,
                        depth=depth,
                    )
                if node.can_adjust and node.kind == "user" and values["forecast"] != "":
                    services.target_update(
                        user=request.user, target=target, data={"forecast": values["forecast"]}
                    )
        else:
            # One's own line: adjust the target (when there is one) and enter a forecast.
            if node.target is not None:
                data = {"forecast": values["forecast"] or None}
                if values["amount"] != "":
                    data["amount"] = values["amount"]
                services.target_update(
                    user=request.user,
                    target=node.target,
                    data=data,
                    expected_version=_version(post),
                )
            else:
                services.forecast_set(
                    user=request.user,
                    period_kind=state["period_kind"],
                    period_start=state["period_start"],
                    metric=state["metric"],
                    forecast=values["forecast"],
                )
    except (ValidationFailedError, StaleVersionError, NotFoundError) as exc:
        errors = exc.fields or {"form": exc.message}
    if preview is None and not errors:
        messages.success(request, _("Plan saved."))
        url = _url(state, node=request.POST.get("selected", ""))
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    context["editor"] = {**editor, "errors": errors, "vals": values, "preview": preview}
    # htmx swaps only 2xx answers: the editor with its errors comes back as 200 there.
    status = 422 if errors and not request.htmx else 200
    if request.htmx:
        return render(request, "plans/partials/_editor.html", context, status=status)
    return render(request, "plans/plan_overview.html", context, status=status)


def _version(post) -> int | None:
    raw = post.get("version", "")
    return int(raw) if raw.isdigit() else None
