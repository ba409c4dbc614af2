"""API schemas of the core (users, teams, custom field definitions, API keys) and the shared
building blocks every app's schemas use: bounded ids and text, JSON-safe values, pages, errors.

Input schemas forbid unknown fields, bound every number and string to what both databases
store, and refuse NUL characters (PostgreSQL cannot store them), so bad input is a 422 and
never a database error.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from django.utils.translation import gettext_lazy as _
from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, create_model

from kliento.core.models import AuditLog, CustomFieldType, Role

MAX_ID = 2**63 - 1
MAX_INT32 = 2**31 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(str(_("NUL characters are not allowed.")))
    return value


def Text(max_length: int, *, min_length: int = 0) -> Any:  # noqa: N802 - a type factory
    """A stripped string of at most `max_length` characters without NULs."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=max_length, min_length=min_length),
        AfterValidator(_no_nul),
    ]


def _json_safe(value: Any, depth: int = 0) -> Any:
    if depth > 5:
        raise ValueError(str(_("Nested too deeply.")))
    if isinstance(value, str):
        return _no_nul(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise ValueError(str(_("Number out of range.")))
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(str(_("Number out of range.")))
        return value
    if isinstance(value, list):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_no_nul(str(k)): _json_safe(v, depth + 1) for k, v in value.items()}
    raise ValueError(str(_("Unsupported value.")))


CustomValues = Annotated[dict[str, Any], Field(max_length=200), AfterValidator(_json_safe)]


def _aware_in_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1900 <= value.year <= 2200:
        raise ValueError(str(_("Date out of range (years 1900–2200).")))
    # The same instant in UTC: PostgreSQL refuses offsets past ±15:59 that ISO 8601 allows.
    return value.astimezone(UTC)


def _date_in_range(value: date) -> date:
    if not 1850 <= value.year <= 2200:
        raise ValueError(str(_("Date out of range (years 1850–2200).")))
    return value


DateTimeIn = Annotated[datetime, AfterValidator(_aware_in_range)]
DateIn = Annotated[date, AfterValidator(_date_in_range)]


class BaseIn(Schema):
    """Every request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def patch_schema(source: type[Schema], name: str) -> type[Schema]:
    """The PATCH twin of an input schema: the same fields and checks, all optional.

    Defaults are not validated, so an absent field stays out of `model_dump(exclude_unset=True)`
    while an explicit `null` for a non-nullable field is still a 422.
    """
    fields = {
        field_name: (field.rebuild_annotation(), Field(default=None, description=field.description))
        for field_name, field in source.model_fields.items()
    }
    return create_model(name, __base__=BaseIn, __module__=source.__module__, **fields)


class ErrorOut(Schema):
    code: str = Field(examples=["invalid"])
    message: str
    fields: dict[str, str] = Field(examples=[{"emails.0": "The email address is not valid."}])


class Cursor(Schema):
    """Keyset pagination shared by every list endpoint."""

    cursor: str | None = Field(None, max_length=500, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


# --- users and teams ------------------------------------------------------------------------


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    display_name: str
    role: Role
    team_id: int | None
    is_active: bool


class UserPage(Schema):
    items: list[UserOut]
    next_cursor: str | None


class MeOut(UserOut):
    email: str
    language: str


class UserFilter(Schema):
    role: Role | None = None
    team_id: Id | None = None
    q: Text(100) | None = Field(None, description="username or name prefix")


class TeamOut(Schema):
    id: int
    name: str
    parent_id: int | None
    path: str
    depth: int


class TeamDetailOut(TeamOut):
    members: list[UserOut] = Field(validation_alias="active_members")


# --- API keys ------------------------------------------------------------------------------


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The key itself; shown only in this response.")


class ApiKeyIn(BaseIn):
    name: Text(100) = ""


# --- custom field definitions -----------------------------------------------------------------

CustomEntity = Literal["contact", "company"]


class CustomFieldOut(Schema):
    id: int
    entity: str
    key: str
    label: str
    type: CustomFieldType
    choices: list[str]
    required: bool
    position: int


class CustomFieldIn(BaseIn):
    entity: CustomEntity
    label: Text(100, min_length=1)
    type: CustomFieldType
    key: Text(50) = Field("", description="defaults to the label, slugified")
    choices: Annotated[list[Text(100)], Field(max_length=200)] = []
    required: bool = False
    position: Annotated[int, Field(ge=0, le=MAX_INT32)] = 0


class CustomFieldPatch(BaseIn):
    label: Text(100, min_length=1) = None
    choices: Annotated[list[Text(100)], Field(max_length=200)] = None
    required: bool = None
    position: Annotated[int, Field(ge=0, le=MAX_INT32)] = None


class CustomFieldFilter(Schema):
    entity: CustomEntity | None = None


# --- audit log ---------------------------------------------------------------------------------


class AuditOut(Schema):
    id: int
    at: datetime
    user_id: int | None
    user_name: str | None
    action: str
    entity: str
    object_id: int
    object_repr: str
    changes: dict[str, Any]

    @staticmethod
    def resolve_user_name(obj) -> str | None:
        return obj.user.display_name if obj.user_id and obj.user else None


class AuditFilter(Schema):
    entity: Text(40, min_length=1)
    object_id: Id
    limit: int = Field(100, ge=1, le=500)


class AuditPage(Schema):
    items: list[AuditOut]
    next_cursor: str | None
    prev_cursor: str | None = None


class AuditLogFilter(Schema):
    entity: Text(40) | None = None
    user_id: Id | None = None
    action: AuditLog.Action | None = None
