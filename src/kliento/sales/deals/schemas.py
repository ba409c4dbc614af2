"""API schemas of pipelines, stages, loss reasons, deals, their products and history."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from kliento.core.schemas import BaseIn, DateIn, Id, Text, patch_schema
from kliento.customers.schemas import BaseFilter, Page
from kliento.sales.deals.models import DealStatus, ForecastCategory

Amount = Annotated[Decimal, Field(ge=0, le=Decimal("9999999999999.99"), decimal_places=2)]
Currency = Annotated[Text(3), Field(pattern=r"^([A-Za-z]{3})?$")]
Tags = Annotated[list[Text(50)], Field(max_length=50)]


# --- pipelines and stages ----------------------------------------------------------------


class StageOut(Schema):
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int
    expected_days: int | None


class PipelineOut(Schema):
    id: int
    name: str
    position: int
    is_default: bool
    active: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj) -> list:
        return sorted(obj.stages.all(), key=lambda s: (s.position, s.pk))


class StageIn(BaseIn):
    name: Text(200, min_length=1)
    probability: int = Field(10, ge=0, le=100)
    expected_days: int | None = Field(None, ge=1, le=3650)


StagePatch = patch_schema(StageIn, "StagePatch")


class PipelineIn(BaseIn):
    name: Text(200, min_length=1)
    is_default: bool = False
    active: bool = True
    stages: list[StageIn] = Field([], max_length=50)


class PipelinePatch(BaseIn):
    name: Text(200, min_length=1) = None
    is_default: bool = None
    active: bool = None


class StageOrderIn(BaseIn):
    stages: list[Id] = Field(max_length=50, description="every stage id of the pipeline, in order")


class LossReasonOut(Schema):
    id: int
    name: str
    position: int
    active: bool


class LossReasonIn(BaseIn):
    name: Text(200, min_length=1)
    active: bool = True


LossReasonPatch = patch_schema(LossReasonIn, "LossReasonPatch")


# --- deals -------------------------------------------------------------------------------


class DealListOut(Schema):
    id: int
    name: str
    pipeline_id: int
    stage_id: int
    stage_name: str
    status: str
    amount: Decimal
    currency: str
    amount_company: Decimal = Field(description="the amount in the company currency")
    expected_close: date | None
    forecast_category: str
    contact_id: int | None
    company_id: int | None
    owner_id: int
    owner_name: str
    next_step: str
    stage_entered_at: datetime
    days_in_stage: int
    stale: bool = Field(description="open and in its stage longer than the stage expects")
    closed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_stage_name(obj) -> str:
        return obj.stage.name

    @staticmethod
    def resolve_owner_name(obj) -> str:
        return obj.owner.display_name

    @staticmethod
    def resolve_stale(obj) -> bool:
        return obj.is_stale


class DealOut(DealListOut):
    price_list_id: int | None
    competitors: str
    next_step_at: date | None
    source: str
    tags: list[str]
    loss_reason_id: int | None
    loss_note: str

    @staticmethod
    def resolve_tags(obj) -> list[str]:
        return [t for t in obj.tags.split(",") if t]


class DealPage(Page):
    items: list[DealListOut]
    count: int | None = Field(None, description="deals matching the filters (first page only)")
    total: Decimal | None = Field(None, description="their amount in the company currency")


class DealIn(BaseIn):
    name: Text(255, min_length=1)
    pipeline_id: Id | None = Field(None, description="the default pipeline when absent")
    stage_id: Id | None = Field(None, description="the pipeline's first stage when absent")
    amount: Amount = Decimal("0")
    currency: Currency = Field("", description="the company currency when empty")
    expected_close: DateIn | None = None
    forecast_category: ForecastCategory = ForecastCategory.PIPELINE
    contact_id: Id | None = None
    company_id: Id | None = None
    owner_id: Id | None = Field(None, description="you when absent")
    price_list_id: Id | None = None
    competitors: Text(500) = ""
    next_step: Text(255) = ""
    next_step_at: DateIn | None = None
    source: Text(50) = ""
    tags: Tags = []


class DealPatch(BaseIn):
    name: Text(255, min_length=1) = None
    stage_id: Id = Field(None, description="a stage of the same pipeline (recorded as a move)")
    amount: Amount = None
    currency: Currency = None
    expected_close: DateIn | None = None
    forecast_category: ForecastCategory = None
    contact_id: Id | None = None
    company_id: Id | None = None
    owner_id: Id = None
    price_list_id: Id | None = None
    competitors: Text(500) = None
    next_step: Text(255) = None
    next_step_at: DateIn | None = None
    source: Text(50) = None
    tags: Tags = None


DealSort = Literal[
    "updated", "-updated", "created", "-created", "amount", "-amount", "name", "-name"
]


class DealFilter(BaseFilter):
    q: Text(100) | None = Field(None, description="in the deal, company or contact name")
    pipeline: Id | None = None
    stage: Id | None = None
    status: DealStatus | None = None
    owner: Id | None = None
    team: Id | None = Field(None, description="owners in this team and its sub-teams")
    contact: Id | None = None
    company: Id | None = None
    close_from: DateIn | None = Field(None, description="expected close on or after")
    close_to: DateIn | None = Field(None, description="expected close on or before")
    sort: DealSort = "-updated"
    totals: bool = Field(False, description="add count and total of all matching deals")


class MoveIn(BaseIn):
    stage: Id


class LoseIn(BaseIn):
    reason: Id
    note: Text(5000) = ""


class StageChangeOut(Schema):
    id: int
    pipeline_id: int
    from_stage_id: int | None
    from_stage_name: str | None
    to_stage_id: int
    to_stage_name: str
    status: str
    at: datetime
    seconds_in_from: int | None
    user_id: int | None
    user_name: str | None

    @staticmethod
    def resolve_from_stage_name(obj) -> str | None:
        return obj.from_stage.name if obj.from_stage else None

    @staticmethod
    def resolve_to_stage_name(obj) -> str:
        return obj.to_stage.name

    @staticmethod
    def resolve_user_name(obj) -> str | None:
        return obj.user.display_name if obj.user else None


class DealProductOut(Schema):
    id: int
    product_id: int
    sku: str
    name: str
    quantity: Decimal
    price: Decimal
    total: Decimal

    @staticmethod
    def resolve_sku(obj) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.product.name

    @staticmethod
    def resolve_total(obj) -> Decimal:
        return (obj.quantity * obj.price).quantize(Decimal("0.01"))


class DealProductIn(BaseIn):
    product_id: Id
    quantity: Decimal = Field(Decimal("1"), gt=0, le=Decimal("999999999"), decimal_places=3)
    price: Amount | None = Field(None, description="the deal's price list price when absent")
    recompute_amount: bool = Field(False, description="set the deal amount to the lines' sum")


# --- the board ---------------------------------------------------------------------------


class BoardColumnOut(Schema):
    stage: StageOut
    count: int
    total: Decimal = Field(description="in the company currency")
    has_more: bool
    deals: list[DealListOut]


class BoardOut(Schema):
    pipeline_id: int
    currency: str
    columns: list[BoardColumnOut]


class BoardFilter(BaseFilter):
    owner: Id | None = None
    team: Id | None = None
    close_from: DateIn | None = None
    close_to: DateIn | None = None
    q: Text(100) | None = None
    limit: int = Field(30, ge=1, le=100, description="cards per column")
