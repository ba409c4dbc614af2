"""Schemas of the duplicates API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

from kliento.core.schemas import BaseIn, DateIn, Text
from kliento.customers.schemas import BaseFilter, Page

Entity = Literal["contact", "company"]
Status = Literal["open", "merged", "not_duplicate"]
Choice = Literal["survivor", "other", "both"]


class EvidenceOut(Schema):
    feature: str
    level: str
    weight: float
    a: Any = ""
    b: Any = ""
    text: str = Field("", description="the evidence in the request's language")


class PairOut(Schema):
    id: int
    entity: str
    a_id: int
    b_id: int
    confidence: float
    status: str
    evidence: list[EvidenceOut]
    found_at: datetime
    decided_by_id: int | None
    decided_at: datetime | None


class PairPage(Page):
    items: list[PairOut]


class PairFilter(BaseFilter):
    entity: Entity | None = None
    status: Status | None = Field(None, description="open (the default queue), merged, …")
    min_confidence: float | None = Field(None, ge=0, le=1)


class MergeIn(BaseIn):
    survivor_id: int | None = Field(
        None, description="which of the two keeps its id (default: the older record)"
    )
    field_choices: dict[str, Choice] = Field(
        default_factory=dict,
        description="per field: survivor, other or both (lists); default newest non-empty",
    )


class MergeOut(Schema):
    id: int
    entity: str
    survivor_id: int
    other_id: int
    moved: dict[str, list[int]]
    at: datetime
    undone_at: datetime | None


class BulkMergeIn(BaseIn):
    min_confidence: float = Field(..., ge=0.5, le=1)
    entity: Entity | None = None


class ScanIn(BaseIn):
    entity: Entity | None = None
    min_confidence: float = Field(0.5, ge=0.05, le=1)


class JobOut(Schema):
    id: int
    kind: str
    entity: str
    status: str
    stage: str
    done: int
    total: int
    result: dict
    error: str


class CandidateOut(Schema):
    entity: str
    id: int | None
    visible: bool
    title: str = ""
    subtitle: str = ""
    owner_name: str = ""
    confidence: float
    evidence: list[EvidenceOut] = []


class ContactCheck(BaseFilter):
    first_name: Text(100) | None = None
    middle_name: Text(100) | None = None
    last_name: Text(100) | None = None
    email: Text(254) | None = None
    phone: Text(40) | None = None
    birth_date: DateIn | None = None
    city: Text(100) | None = None


class CompanyCheck(BaseFilter):
    name: Text(255) | None = None
    legal_name: Text(255) | None = None
    tax_id: Text(32) | None = None
    website: Text(255) | None = None
    email: Text(254) | None = None
    phone: Text(40) | None = None
    city: Text(100) | None = None
