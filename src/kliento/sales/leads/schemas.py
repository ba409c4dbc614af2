"""API schemas of leads, web forms and the assignment and scoring rules."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from kliento.core.schemas import MAX_INT32, BaseIn, CustomValues, DateIn, Id, Text, patch_schema
from kliento.customers.models import Channel, InteractionKind
from kliento.customers.schemas import BaseFilter
from kliento.sales.leads.models import AssignmentRule, DisqualifyReason, LeadSource, ScoringRule

Tags = Annotated[list[Text(50)], Field(max_length=50)]
Names = Annotated[list[Text(100)], Field(max_length=200)]
OpenStatus = Literal["new", "working", "qualified"]
FormField = Literal[
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "job_title",
    "website",
    "country",
    "region",
    "city",
    "message",
]


# --- leads -----------------------------------------------------------------------------------


class LeadIn(BaseIn):
    first_name: Text(100) = ""
    last_name: Text(100) = ""
    company_name: Text(255) = ""
    job_title: Text(100) = ""
    email: Text(254) = Field("", description="normalised to lowercase")
    phone: Text(40) = Field("", description="any common format; stored as E.164")
    country: Text(2) = Field("", description="ISO 3166 two-letter code")
    region: Text(100) = ""
    city: Text(100) = ""
    website: Text(255) = ""
    message: Text(20_000) = ""
    status: OpenStatus = "new"
    source: LeadSource = Field(LeadSource.API, description="api unless you say otherwise")
    channel: Channel = Channel.OTHER
    campaign: Text(200) = ""
    utm_source: Text(200) = ""
    utm_medium: Text(200) = ""
    utm_campaign: Text(200) = ""
    utm_term: Text(200) = ""
    utm_content: Text(200) = ""
    referrer: Text(500) = ""
    owner_id: Id | None = Field(
        None, description="without it, the assignment rules choose (manual leads: you)"
    )
    web_form_id: Id | None = None
    tags: Tags = []
    custom: CustomValues = {}


LeadPatch = patch_schema(LeadIn, "LeadPatch")


class LeadOut(Schema):
    id: int
    full_name: str
    first_name: str
    last_name: str
    company_name: str
    job_title: str
    email: str
    phone: str
    country: str
    region: str
    city: str
    website: str
    message: str
    status: str
    score: int
    source: str
    channel: str
    campaign: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    referrer: str
    web_form_id: int | None
    owner_id: int
    owner_name: str
    contact_id: int | None
    company_id: int | None
    deal_id: int | None
    converted_at: datetime | None
    disqualify_reason: str
    disqualify_note: str
    assigned_by_rule_id: int | None
    tags: list[str]
    custom: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_owner_name(obj) -> str:
        return obj.owner.display_name

    @staticmethod
    def resolve_tags(obj) -> list[str]:
        return [t for t in obj.tags.split(",") if t]


class LeadPage(Schema):
    items: list[LeadOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")
    prev_cursor: str | None = None


class LeadFilter(BaseFilter):
    q: Text(100) | None = Field(None, description="name, company, email or phone")
    status: Literal["open", "new", "working", "qualified", "converted", "disqualified"] | None = (
        None
    )
    owner_id: Id | None = None
    source: LeadSource | None = None
    campaign: Text(200) | None = Field(None, description="campaign or utm_campaign")
    channel: Channel | None = None
    web_form_id: Id | None = None
    sort: Literal["score", "-score", "created", "-created", "name", "-name"] = Field(
        "-created", description="score: highest first; created: newest first; name: A→Z"
    )


class DuplicateOut(Schema):
    duplicate_of: Literal["contact", "lead"]
    id: int = Field(description="the contact or lead the inquiry was attached to")
    interaction_id: int
    message: str


class ConvertIn(BaseIn):
    create_deal: bool = True
    deal_name: Text(255) = Field("", description="defaults to the company or person name")
    pipeline: Id | None = Field(None, description="default pipeline if absent")
    stage: Id | None = Field(None, description="the pipeline's first stage if absent")
    amount: Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)] | None = None
    currency: Text(3) | None = None
    expected_close: DateIn | None = None
    company_id: Id | None = Field(None, description="link this company instead")


class ConvertOut(Schema):
    lead: LeadOut
    contact_id: int
    company_id: int | None
    deal_id: int | None


class DisqualifyIn(BaseIn):
    reason: DisqualifyReason
    note: Text(5000) = ""


class DistributeIn(BaseIn):
    lead_ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    user_ids: Annotated[list[Id], Field(min_length=1, max_length=200)]


class DistributedOut(Schema):
    user_id: int
    count: int


class DistributeOut(Schema):
    assigned: list[DistributedOut]


class LeadLogIn(BaseIn):
    kind: Literal["call", "email", "meeting", "note"] = "note"
    subject: Text(255) = ""
    body: Text(100_000) = ""
    outcome: Text(255) = ""
    direction: Literal["in", "out", "internal"] | None = None


class LeadInteractionOut(Schema):
    id: int
    kind: InteractionKind
    channel: str
    direction: str
    occurred_at: datetime
    subject: str
    body: str
    outcome: str
    user_id: int | None
    contact_id: int | None
    company_id: int | None
    planned: bool
    assignee_id: int | None


class ScoreRowOut(Schema):
    rule_id: int
    name: str
    holds: bool
    points: int


class ScoreOut(Schema):
    score: int
    rules: list[ScoreRowOut]


# --- web forms --------------------------------------------------------------------------------


class WebFormIn(BaseIn):
    name: Text(200, min_length=1)
    fields: Annotated[list[FormField], Field(min_length=1, max_length=11)] = [
        "first_name",
        "email",
        "phone",
        "message",
    ]
    campaign: Text(200) = ""
    channel: Channel = Channel.WEB
    success_message: Text(500) = ""
    redirect_url: Text(200) = ""
    default_owner_id: Id | None = None
    active: bool = True


WebFormPatch = patch_schema(WebFormIn, "WebFormPatch")


class WebFormOut(Schema):
    id: int
    name: str
    key: str
    fields: list[str]
    campaign: str
    channel: str
    success_message: str
    redirect_url: str
    default_owner_id: int | None
    active: bool
    submit_url: str = Field(description="POST the form's fields here (JSON)")
    html_url: str = Field(description="the <form action> of the HTML snippet")
    created_at: datetime

    @staticmethod
    def resolve_submit_url(obj) -> str:
        return f"/api/v1/forms/{obj.key}/submit"

    @staticmethod
    def resolve_html_url(obj) -> str:
        return f"/leads/f/{obj.key}/"


class SubmitOut(Schema):
    ok: bool
    message: str
    redirect_url: str


# --- rules -------------------------------------------------------------------------------------


class AssignmentRuleIn(BaseIn):
    name: Text(200, min_length=1)
    kind: AssignmentRule.Kind
    active: bool = True
    position: Annotated[int, Field(ge=0, le=MAX_INT32)] | None = Field(
        None, description="defaults to after the last rule"
    )
    regions: Names = []
    cities: Names = []
    sources: Annotated[list[LeadSource], Field(max_length=10)] = []
    web_form_id: Id | None = None
    team_id: Id | None = None
    user_id: Id | None = None


AssignmentRulePatch = patch_schema(AssignmentRuleIn, "AssignmentRulePatch")


class AssignmentRuleOut(Schema):
    id: int
    name: str
    kind: str
    active: bool
    position: int
    regions: list[str]
    cities: list[str]
    sources: list[str]
    web_form_id: int | None
    team_id: int | None
    user_id: int | None
    last_user_id: int | None


class ScoringRuleIn(BaseIn):
    name: Text(200, min_length=1)
    kind: ScoringRule.Kind
    field: Text(50) = Field("", description="for field_filled and field_equals")
    value: Text(200) = Field(
        "", description="the value, source, number of interactions or interaction kind"
    )
    points: Annotated[int, Field(ge=-1000, le=1000)]
    active: bool = True
    position: Annotated[int, Field(ge=0, le=MAX_INT32)] = 0


ScoringRulePatch = patch_schema(ScoringRuleIn, "ScoringRulePatch")


class ScoringRuleOut(Schema):
    id: int
    name: str
    kind: str
    field: str
    value: str
    points: int
    active: bool
    position: int
