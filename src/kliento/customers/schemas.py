"""API schemas of the customer database: contacts, companies, interactions, consent, shares.

`<Entity>In` is a POST/PUT body, `<Entity>Patch` the same fields all optional, `<Entity>Out`
the detail answer, `<Entity>ListOut` a list row, `<Entity>Filter` a list's query parameters.
Out schemas name every field they show; nothing is dumped wholesale.
"""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, model_validator

from kliento.core.models import CustomFieldType  # noqa: F401 - re-exported for docs
from kliento.core.schemas import (
    BaseIn,
    CustomValues,
    DateIn,
    DateTimeIn,
    Id,
    Text,
    patch_schema,
)
from kliento.customers.models import (
    Channel,
    CompanySize,
    Consent,
    ConsentChannel,
    Direction,
    Gender,
    InteractionKind,
    LifecycleStage,
)

Emails = Annotated[list[Text(254)], Field(max_length=20)]
Phones = Annotated[list[Text(40)], Field(max_length=20)]
Tags = Annotated[list[Text(50)], Field(max_length=50)]
Social = Annotated[dict[Text(50), Text(255)], Field(max_length=20)]
Country = Annotated[Text(2), Field(pattern=r"^([A-Za-z]{2})?$")]
MAX_DURATION = 7 * 24 * 3600


class BaseFilter(Schema):
    """List query parameters; an empty value (`?city=`) means "no filter"."""

    @model_validator(mode="before")
    @classmethod
    def _blank_is_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data


class Page(Schema):
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")
    prev_cursor: str | None = None


# --- contacts --------------------------------------------------------------------------------


class CompanyLinkIn(BaseIn):
    company_id: Id
    role: Text(100) = ""
    title: Text(100) = ""
    is_primary: bool = None


class ContactIn(BaseIn):
    first_name: Text(100) = ""
    middle_name: Text(100) = ""
    last_name: Text(100) = ""
    emails: Emails = Field([], description="the first one is the primary email")
    phones: Phones = Field([], description="any common format; stored as E.164")
    birth_date: DateIn | None = None
    gender: Gender = Gender.UNKNOWN
    language: Text(8) = ""
    country: Country = Field("", description="ISO 3166 two-letter code")
    region: Text(100) = ""
    city: Text(100) = ""
    social: Social = Field({}, description="network name → profile address")
    tags: Tags = []
    lifecycle_stage: LifecycleStage = LifecycleStage.LEAD
    preferred_channel: ConsentChannel | Literal[""] = ""
    preferences: Text(10_000) = ""
    owner_id: Id | None = Field(None, description="defaults to you")
    custom: CustomValues = Field({}, description="custom field key → value")
    companies: Annotated[list[CompanyLinkIn], Field(max_length=50)] = []


ContactPatch = patch_schema(ContactIn, "ContactPatch")


class ContactCompanyOut(Schema):
    company_id: int
    name: str
    role: str
    title: str
    is_primary: bool

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.company.name


class ConsentOut(Schema):
    channel: ConsentChannel
    status: Consent.Status
    at: datetime
    source: str


class ContactListOut(Schema):
    id: int
    full_name: str
    first_name: str
    last_name: str
    email: str
    phone: str
    phone_display: str
    city: str
    lifecycle_stage: str
    tags: list[str] = Field(validation_alias="tag_list")
    owner_id: int
    owner_name: str
    custom: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_owner_name(obj) -> str:
        return obj.owner.display_name


class ContactOut(ContactListOut):
    middle_name: str
    emails: list[str]
    phones: list[str] = Field(description="E.164")
    phones_display: list[str] = Field(description="formatted for people")
    birth_date: date | None
    gender: str
    language: str
    country: str
    region: str
    social: dict[str, str]
    preferred_channel: str
    preferences: str
    companies: list[ContactCompanyOut]
    consents: list[ConsentOut]

    @staticmethod
    def resolve_companies(obj) -> list:
        return list(obj.company_links.select_related("company").order_by("-is_primary", "id"))

    @staticmethod
    def resolve_consents(obj) -> list:
        return list(obj.consents.all())


class ContactPage(Page):
    items: list[ContactListOut]


ContactSort = Literal["name", "-name", "created", "-created", "updated", "-updated"]


class ContactFilter(BaseFilter):
    q: Text(100) | None = Field(None, description="name or email prefix")
    stage: LifecycleStage | None = None
    owner_id: Id | None = None
    city: Text(100) | None = None
    region: Text(100) | None = None
    tag: Text(50) | None = None
    company_id: Id | None = None
    email: Text(254) | None = None
    phone: Text(40) | None = Field(None, description="any format; matched as E.164")
    created_after: DateTimeIn | None = None
    created_before: DateTimeIn | None = None
    sort: ContactSort = "name"


class ConsentIn(BaseIn):
    status: Consent.Status
    source: Text(200) = ""


# --- companies -------------------------------------------------------------------------------


class CompanyIn(BaseIn):
    name: Text(255, min_length=1)
    legal_name: Text(255) = ""
    tax_id: Text(32) = ""
    industry: Text(100) = ""
    size: CompanySize = CompanySize.UNKNOWN
    country: Country = ""
    region: Text(100) = ""
    city: Text(100) = ""
    address: Text(2000) = ""
    postal_address: Text(2000) = ""
    website: Text(255) = ""
    emails: Emails = []
    phones: Phones = []
    tags: Tags = []
    owner_id: Id | None = Field(None, description="defaults to you")
    custom: CustomValues = {}


CompanyPatch = patch_schema(CompanyIn, "CompanyPatch")


class CompanyListOut(Schema):
    id: int
    name: str
    tax_id: str
    industry: str
    size: str
    city: str
    tags: list[str] = Field(validation_alias="tag_list")
    owner_id: int
    owner_name: str
    custom: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_owner_name(obj) -> str:
        return obj.owner.display_name


class CompanyOut(CompanyListOut):
    legal_name: str
    country: str
    region: str
    address: str
    postal_address: str
    website: str
    emails: list[str]
    phones: list[str] = Field(description="E.164")
    phones_display: list[str] = Field(description="formatted for people")


class CompanyPage(Page):
    items: list[CompanyListOut]


class CompanyFilter(BaseFilter):
    q: Text(100) | None = Field(None, description="name prefix or exact tax id")
    owner_id: Id | None = None
    city: Text(100) | None = None
    region: Text(100) | None = None
    tag: Text(50) | None = None
    industry: Text(100) | None = None
    size: CompanySize | None = None
    tax_id: Text(32) | None = None
    created_after: DateTimeIn | None = None
    created_before: DateTimeIn | None = None
    sort: ContactSort = "name"


# --- interactions ----------------------------------------------------------------------------


class InteractionIn(BaseIn):
    # Non-nullable fields default to None without being validated: leaving them out lets the
    # service choose (a planned one is a task; the channel follows the kind), `null` is a 422.
    kind: InteractionKind = Field(None, description="defaults to task when planned")
    channel: Channel = Field(None, description="defaults from the kind")
    direction: Direction = None
    occurred_at: DateTimeIn = Field(None, description="defaults to now (to due_at if planned)")
    subject: Text(255) = ""
    body: Text(100_000) = ""
    outcome: Text(255) = ""
    duration_seconds: Annotated[int, Field(ge=0, le=MAX_DURATION)] | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    related_type: Text(40) = Field("", description='e.g. "deal"')
    related_id: Id | None = None
    planned: bool = False
    due_at: DateTimeIn | None = None
    assignee_id: Id | None = Field(None, description="planned ones default to you")
    remind_at: DateTimeIn | None = None


InteractionPatch = patch_schema(InteractionIn, "InteractionPatch")


class InteractionOut(Schema):
    id: int
    kind: str
    channel: str
    direction: str
    occurred_at: datetime
    subject: str
    body: str
    outcome: str
    duration_seconds: int | None
    user_id: int | None
    contact_id: int | None
    company_id: int | None
    related_type: str
    related_id: int | None
    planned: bool
    due_at: datetime | None
    assignee_id: int | None
    done: bool
    done_at: datetime | None
    remind_at: datetime | None
    is_overdue: bool
    version: int
    created_at: datetime
    updated_at: datetime


class InteractionPage(Page):
    items: list[InteractionOut]


class InteractionFilter(BaseFilter):
    contact_id: Id | None = None
    company_id: Id | None = None
    kind: InteractionKind | None = None
    channel: Channel | None = None
    user_id: Id | None = None
    assignee_id: Id | None = None
    planned: bool | None = None
    done: bool | None = None
    occurred_after: DateTimeIn | None = None
    occurred_before: DateTimeIn | None = None
    sort: Literal["-occurred", "occurred"] = "-occurred"


class TimelineFilter(BaseFilter):
    kind: InteractionKind | None = None
    channel: Channel | None = None
    user_id: Id | None = None
    planned: bool | None = None


class TaskCompleteIn(BaseIn):
    outcome: Text(255) = ""


class TasksOut(Schema):
    overdue: list[InteractionOut]
    today: list[InteractionOut]
    upcoming: list[InteractionOut]


# --- sharing, who worked, search ------------------------------------------------------------


class ShareIn(BaseIn):
    user_id: Id
    can_edit: bool = True


class ShareOut(Schema):
    user_id: int
    user_name: str
    can_edit: bool
    created_at: datetime

    @staticmethod
    def resolve_user_name(obj) -> str:
        return obj.user.display_name


class UserRef(Schema):
    id: int
    display_name: str


class WhoWorkedOut(Schema):
    user: UserRef
    last_at: datetime
    count: int


class SearchHitOut(Schema):
    entity: Literal["contact", "company"]
    id: int | None = Field(description="null when you may not see the record")
    title: str = Field(description="empty when you may not see the record")
    subtitle: str
    score: float
    visible: bool
    owner_id: int | None
    owner_name: str


class SearchOut(Schema):
    items: list[SearchHitOut]


class SearchQuery(Schema):
    q: Text(200, min_length=1)
    limit: int = Field(20, ge=1, le=100)
