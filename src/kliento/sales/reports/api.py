"""/api/v1 endpoints for sales reports: the same filters, visibility and numbers as the UI.

Money is returned as decimal strings in the company currency ("12345.67"); a bad or unknown
filter is a 422 naming the parameter.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from kliento.core.schemas import ErrorOut
from kliento.sales.reports import filters, selectors

router = Router(tags=["sales reports"])

ERRORS = {401: ErrorOut, 422: ErrorOut}


def _param(name: str, description: str, fmt: str = "string", enum=None) -> dict:
    schema: dict[str, Any] = {"type": "integer" if fmt == "integer" else "string"}
    if fmt in ("date",):
        schema["format"] = "date"
    if enum:
        schema["enum"] = list(enum)
    return {
        "in": "query",
        "name": name,
        "required": False,
        "schema": schema,
        "description": description,
    }


PEOPLE = [
    _param("owner", "Only records owned by this user (id).", "integer"),
    _param("team", "Only records owned by members of this team and its sub-teams (id).", "integer"),
]
PIPELINE = _param("pipeline", "Only deals of this pipeline (id).", "integer")
PERIOD = [
    _param("date_from", "First day of the period (YYYY-MM-DD).", "date"),
    _param("date_to", "Last day of the period, inclusive (YYYY-MM-DD).", "date"),
]


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in ("stage", "user", "links")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@router.get(
    "/reports/forecast",
    response={200: dict, **ERRORS},
    summary="Forecast: weighted pipeline by expected close month, commit and best case",
    openapi_extra={
        "parameters": [
            PIPELINE,
            *PEOPLE,
            _param("month_from", "First month (YYYY-MM); default this month."),
            _param("month_to", "Last month (YYYY-MM); default five months on, at most 36."),
        ]
    },
)
def forecast(request: HttpRequest):
    f = filters.forecast_filters(request.GET)
    data = selectors.forecast(user=request.auth, f=f)
    return {"filters": f.query(), **_clean(data)}


@router.get(
    "/reports/sales-cycle",
    response={200: dict, **ERRORS},
    summary="Sales cycle: days per stage, conversion, win rate, cycle length",
    openapi_extra={
        "parameters": [
            PIPELINE,
            *PEOPLE,
            *PERIOD,
            _param("basis", "Deals closed or created in the period.", enum=filters.CYCLE_BASES),
            _param("group", "Breakdown rows.", enum=filters.CYCLE_GROUPS),
        ]
    },
)
def sales_cycle(request: HttpRequest):
    f = filters.cycle_filters(request.GET)
    data = selectors.sales_cycle(user=request.auth, f=f)
    pipeline = data.pop("pipeline")
    return {
        "filters": f.query(),
        "pipeline": {"id": pipeline.pk, "name": pipeline.name} if pipeline else None,
        **_clean(data),
    }


@router.get(
    "/reports/activity",
    response={200: dict, **ERRORS},
    summary="Employee activity per user or team",
    openapi_extra={
        "parameters": [
            *PEOPLE,
            *PERIOD,
            _param("group", "Rows per user or per team.", enum=filters.ACTIVITY_GROUPS),
        ]
    },
)
def activity(request: HttpRequest):
    f = filters.activity_filters(request.GET)
    data = selectors.activity(user=request.auth, f=f)
    return {"filters": f.query(), **_clean(data)}


@router.get(
    "/reports/pnl",
    response={200: dict, **ERRORS},
    summary="Profit and loss per company, contact or product",
    openapi_extra={
        "parameters": [
            *PEOPLE,
            *PERIOD,
            _param("by", "Rows per company, contact or product.", enum=filters.PNL_GROUPS),
            _param("sort", "Order of the rows (descending).", enum=filters.PNL_SORTS),
            _param("top", "How many rows (1–500, default 20).", "integer"),
        ]
    },
)
def pnl(request: HttpRequest):
    f = filters.pnl_filters(request.GET)
    data = selectors.pnl(user=request.auth, f=f)
    return {"filters": f.query(), **_clean(data)}
