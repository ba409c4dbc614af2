"""/api/v1 endpoints for sales plans: targets (CRUD with ETag/If-Match), cascades and the
plan-vs-actual tree. Handlers call the gate, one service or selector, and serialise."""

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from kliento.api import expected_version, not_modified
from kliento.core.errors import ValidationFailedError
from kliento.core.models import Team, User
from kliento.core.schemas import ErrorOut, Id
from kliento.sales.catalog.money import company_currency
from kliento.sales.plans import selectors, services
from kliento.sales.plans.schemas import (
    CascadeIn,
    CascadeOut,
    PlanOut,
    PlanQuery,
    TargetFilter,
    TargetIn,
    TargetOut,
    TargetPatch,
)

router = Router(tags=["sales plans"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    412: ErrorOut,
    422: ErrorOut,
}


def _known_params(request: HttpRequest, allowed) -> None:
    unknown = {k: _("Unknown filter.") for k in request.GET if k not in allowed}
    if unknown:
        raise ValidationFailedError(_("Invalid filters."), fields=unknown)


@router.get("/targets", response={200: list[TargetOut], **ERRORS})
def target_list(request: HttpRequest, filters: Query[TargetFilter]):
    """Targets you can see (at most 1000), by period."""
    _known_params(request, TargetFilter.model_fields)
    return selectors.target_list(user=request.auth, filters=filters.model_dump(exclude_none=True))


@router.post("/targets", response={201: TargetOut, **ERRORS})
def target_create(request: HttpRequest, response: HttpResponse, payload: TargetIn):
    """Set (create or replace) the target of a team or a user for a period."""
    errors = {}
    team = target_user = None
    if payload.team is not None:
        team = Team.objects.filter(pk=payload.team).first()
        if team is None:
            errors["team"] = _("No team with id %(id)s.") % {"id": payload.team}
    if payload.user is not None:
        target_user = User.objects.filter(pk=payload.user, is_active=True).first()
        if target_user is None:
            errors["user"] = _("No active user with id %(id)s.") % {"id": payload.user}
    if errors:
        raise ValidationFailedError(fields=errors)
    target = services.target_set(
        user=request.auth,
        period_kind=payload.period_kind,
        period_start=payload.period_start,
        metric=payload.metric,
        amount=payload.amount,
        team=team,
        target_user=target_user,
        note=payload.note,
    )
    response["ETag"] = target.etag
    response["Location"] = f"{request.path.rstrip('/')}/{target.pk}"
    return Status(201, target)


@router.get("/targets/{id}", response={200: TargetOut, **ERRORS})
def target_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    target = selectors.target_get_for_user(user=request.auth, pk=id)
    cached = not_modified(request, target)
    if cached is not None:
        return cached
    response["ETag"] = target.etag
    return target


@router.patch("/targets/{id}", response={200: TargetOut, **ERRORS})
def target_update(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: TargetPatch):
    """Heads/admins set the amount; a rep adjusts their own amount and forecast."""
    target = selectors.target_get_for_user(user=request.auth, pk=id)
    data = payload.model_dump(exclude_unset=True)
    if "amount" in data and data["amount"] is None:
        raise ValidationFailedError(fields={"amount": _("Enter the target amount.")})
    target = services.target_update(
        user=request.auth,
        target=target,
        data=data,
        expected_version=expected_version(request, target),
    )
    response["ETag"] = target.etag
    return target


@router.delete("/targets/{id}", response={204: None, **ERRORS})
def target_delete(request: HttpRequest, id: Path[Id]):
    target = selectors.target_get_for_user(user=request.auth, pk=id)
    services.target_delete(
        user=request.auth, target=target, expected_version=expected_version(request, target)
    )
    return Status(204, None)


@router.post("/targets/{id}/cascade", response={200: CascadeOut, **ERRORS})
def target_cascade(request: HttpRequest, id: Path[Id], payload: CascadeIn):
    """Split a team's target among its sub-teams and reps: evenly, by weights (first level;
    deeper levels even) or by last year's share (even when last year had none)."""
    target = selectors.target_get_for_user(user=request.auth, pk=id)
    weights = {k: str(v) for k, v in (payload.weights or {}).items()}
    rows = services.cascade_plan(
        user=request.auth,
        target=target,
        method=payload.method,
        weights=weights,
        depth=payload.depth,
    )
    if not payload.preview:
        services.target_cascade(
            user=request.auth,
            target=target,
            method=payload.method,
            weights=weights,
            depth=payload.depth,
            expected_version=expected_version(request, target),
        )
    return {"applied": not payload.preview, "rows": rows}


@router.get("/plan-vs-actual", response={200: PlanOut, **ERRORS})
def plan_vs_actual(request: HttpRequest, query: Query[PlanQuery]):
    """Target, forecast, actual, % of plan and gap at every visible level of the team tree."""
    _known_params(request, PlanQuery.model_fields)
    kind, start, metric = selectors.parse_period(
        query.period_kind, query.period_start or dt.date.today(), query.metric
    )
    nodes = selectors.plan_vs_actual(
        user=request.auth,
        period_kind=kind,
        period_start=start,
        metric=metric,
        team=query.team,
    )
    return {
        "period_kind": kind,
        "period_start": start,
        "period_end": selectors.period_end(kind, start) - dt.timedelta(days=1),
        "metric": metric,
        "currency": company_currency(),
        "nodes": [n.as_dict() for n in nodes],
    }
