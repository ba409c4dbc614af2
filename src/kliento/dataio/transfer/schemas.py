"""API schemas of import and export."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field


class ImportOut(Schema):
    id: int
    entity: str
    file_name: str
    status: str
    message: str
    mapping: dict[str, str]
    options: dict
    total: int | None
    processed: int
    created: int
    updated: int
    skipped: int
    failed: int
    percent: int
    rows_per_s: float | None
    eta_seconds: int | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    user_id: int


class ImportPage(Schema):
    items: list[ImportOut]
    next_cursor: str | None = None
    prev_cursor: str | None = None


class ImportConfigureIn(Schema):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, str] = Field(description="file column header → field ('' to ignore)")
    options: dict | None = None
    save_as: str = Field("", max_length=100, description="also save this mapping under a name")


class PreviewCell(Schema):
    column: str
    value: str
    problem: str


class PreviewRow(Schema):
    row: int
    ok: bool
    problem: str
    cells: list[PreviewCell]


class PreviewOut(Schema):
    headers: list[str]
    rows: list[PreviewRow]


class ExportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    entity: Literal["contacts", "companies", "leads", "deals", "orders", "products", "full"] = (
        Field(description="a list (orders: one row per order line), or full: everything (ZIP)")
    )
    query: str = Field("", max_length=2000, description="the list's query string: filters, sort")
    columns: list[str] = Field(default_factory=list, description="column keys; empty = default")
    format: Literal["csv", "xlsx"] = "csv"


class ExportOut(Schema):
    id: int
    entity: str
    format: str
    query: str
    columns: list[str]
    status: str
    message: str
    total: int | None
    processed: int
    percent: int
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = None


class ErasedOut(Schema):
    id: int
    erased: bool
