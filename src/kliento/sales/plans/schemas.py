"""API schemas of sales plans: targets, cascades and the plan-vs-actual tree."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from kliento.core.schemas import BaseIn, DateIn, Id, Text
from kliento.customers.schemas import BaseFilter
from kliento.sales.plans.models import Metric, PeriodKind

Amount = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]


class TargetIn(BaseIn):
    period_kind: PeriodKind
    period_start: DateIn = Field(description="any day of the period; stored as its first day")
    metric: Metric = Metric.DEALS_WON
    team: Id | None = Field(None, description="a team id, or")
    user: Id | None = Field(None, description="a user id (exactly one of team and user)")
    amount: Amount
    note: Text(500) = ""


class TargetPatch(BaseIn):
    amount: Amount | None = None
    forecast: Amount | None = Field(None, description="a person's own forecast")
    note: Text(500) | None = None


class CascadeIn(BaseIn):
    method: Literal["even", "weights", "last_year"]
    weights: (
        Annotated[dict[Text(30), Annotated[Decimal, Field(ge=0, le=99999)]], Field(max_length=500)]
        | None
    ) = Field(None, description='for "weights": {"team:ID" or "user:ID": weight} per direct child')
    depth: Literal["one", "all"] = "one"
    preview: bool = Field(False, description="answer what would be set, without saving")


class TargetOut(Schema):
    id: int
    period_kind: str
    period_start: date
    metric: str
    team_id: int | None
    user_id: int | None
    amount: Decimal
    forecast: Decimal | None
    parent_id: int | None
    method: str
    weight: Decimal | None
    adjusted: bool
    set_by_id: int | None
    note: str
    version: int
    updated_at: datetime


class TargetFilter(BaseFilter):
    period_kind: PeriodKind | None = None
    period_start: DateIn | None = None
    metric: Metric | None = None
    team: Id | None = None
    user: Id | None = None


class CascadeRow(Schema):
    kind: str
    id: int
    name: str
    amount: Decimal
    weight: Decimal | None
    method: str
    last_year: Decimal | None
    children: list[CascadeRow]


class CascadeOut(Schema):
    applied: bool
    rows: list[CascadeRow]


class PlanQuery(BaseFilter):
    period_kind: PeriodKind = PeriodKind.MONTH
    period_start: DateIn | None = Field(None, description="any day of the period (today if absent)")
    metric: Metric = Metric.DEALS_WON
    team: Id | None = Field(None, description="start the tree at this team")


class PlanNodeOut(Schema):
    kind: str
    id: int
    name: str
    target_id: int | None
    target: Decimal | None
    adjusted: bool
    forecast: Decimal | None
    actual: Decimal
    percent: Decimal | None = Field(description="actual as a percent of the target")
    gap: Decimal | None = Field(description="target − actual")
    children: list[PlanNodeOut]


class PlanOut(Schema):
    period_kind: str
    period_start: date
    period_end: date = Field(description="the last day of the period")
    metric: str
    currency: str
    nodes: list[PlanNodeOut]
