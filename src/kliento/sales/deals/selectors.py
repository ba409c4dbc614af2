"""Every read of deals and pipelines starts here, from what the user may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Sum
from django.db.models.functions import Cast
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from kliento.core.models import Team, User
from kliento.core.permissions import can_read, can_write, record_q, team_subtree_user_ids
from kliento.customers.selectors import Page, keyset_page, parse_id
from kliento.sales.catalog.money import money
from kliento.sales.deals.models import (
    Deal,
    DealProduct,
    DealStatus,
    LossReason,
    Pipeline,
    Stage,
    StageChange,
)

BOARD_PAGE = 30
# What a board card (and the API's list row) shows: loading only this keeps 150 cards cheap.
CARD_FIELDS = (
    "id",
    "name",
    "pipeline_id",
    "stage_id",
    "status",
    "amount",
    "currency",
    "amount_company",
    "expected_close",
    "forecast_category",
    "next_step",
    "stage_entered_at",
    "closed_at",
    "version",
    "created_at",
    "updated_at",
    "owner_id",
    "contact_id",
    "company_id",
    "owner__first_name",
    "owner__last_name",
    "owner__username",
    "company__name",
    "contact__first_name",
    "contact__middle_name",
    "contact__last_name",
    "contact__email",
    "contact__phone",
)


# --- visibility ---------------------------------------------------------------------------


def deal_qs(user: User, for_write: bool = False) -> QuerySet[Deal]:
    q = record_q(user, "deal", for_write=for_write)
    qs = Deal.objects.all()
    return qs.filter(q) if q is not None else qs


def deal_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> Deal:
    """The one gate: a hidden deal is as missing as a deleted one; read-only → 403."""
    deal_id = parse_id(pk)
    if deal_id is None:
        raise NotFoundError(_("No deal with id %(id)s.") % {"id": pk})
    deal = (
        Deal.objects.select_related(
            "pipeline", "stage", "owner", "contact", "company", "price_list", "loss_reason"
        )
        .filter(pk=deal_id)
        .first()
    )
    if deal is None or not can_read(user, "deal", deal):
        raise NotFoundError(_("No deal with id %(id)s.") % {"id": deal_id})
    if for_write and not can_write(user, "deal", deal):
        raise PermissionDeniedError(_("You can view this deal but not change it."))
    return deal


# --- pipelines ----------------------------------------------------------------------------


def pipeline_list(*, include_inactive: bool = False) -> list[Pipeline]:
    qs = Pipeline.objects.prefetch_related("stages")
    if not include_inactive:
        qs = qs.filter(active=True)
    return list(qs.order_by("position", "id"))


def pipeline_get(pk: Any) -> Pipeline:
    pipeline_id = parse_id(pk)
    pipeline = Pipeline.objects.filter(pk=pipeline_id).first() if pipeline_id else None
    if pipeline is None:
        raise NotFoundError(_("No pipeline with id %(id)s.") % {"id": pk})
    return pipeline


def pipeline_default() -> Pipeline | None:
    active = Pipeline.objects.filter(active=True)
    return active.filter(is_default=True).first() or active.order_by("position", "id").first()


def stage_get(pk: Any) -> Stage:
    stage_id = parse_id(pk)
    stage = (
        Stage.objects.select_related("pipeline").filter(pk=stage_id).first() if stage_id else None
    )
    if stage is None:
        raise NotFoundError(_("No stage with id %(id)s.") % {"id": pk})
    return stage


def loss_reason_list(*, include_inactive: bool = False) -> list[LossReason]:
    qs = LossReason.objects.all()
    if not include_inactive:
        qs = qs.filter(active=True)
    return list(qs.order_by("position", "id"))


def stage_deal_counts(pipeline: Pipeline) -> dict[int, int]:
    """How many deals (any status) each stage holds: a stage with deals cannot be deleted."""
    rows = Deal.objects.filter(pipeline=pipeline).values("stage_id").annotate(n=Count("id"))
    return {row["stage_id"]: row["n"] for row in rows.order_by()}


# --- filters shared by the board, the list and the API -------------------------------------

DEAL_FILTERS = {
    "q",
    "pipeline",
    "stage",
    "status",
    "owner",
    "team",
    "contact",
    "company",
    "close_from",
    "close_to",
}


def _date_value(key: str, raw: Any, errors: dict[str, str]) -> dt.date | None:
    try:
        value = parse_date(str(raw).strip())
    except ValueError:
        value = None
    if value is None:
        errors[key] = _("Expected a date as YYYY-MM-DD, got %(value)s.") % {"value": repr(raw)}
    return value


def deal_filter(qs: QuerySet[Deal], filters: dict[str, Any]) -> QuerySet[Deal]:
    """Apply list filters; unknown or malformed ones → 422 naming them."""
    errors: dict[str, str] = {}
    for key, raw in filters.items():
        if raw in (None, "") or key in {"sort", "cursor", "limit"}:
            continue
        if key not in DEAL_FILTERS:
            errors[key] = _("Unknown filter.")
            continue
        value = str(raw).strip()
        if key == "q":
            qs = qs.filter(
                Q(name__icontains=value)
                | Q(company__name__icontains=value)
                | Q(contact__last_name__icontains=value)
            )
        elif key == "status":
            if value not in DealStatus.values:
                errors[key] = _("%(value)s is not one of: %(allowed)s.") % {
                    "value": repr(value),
                    "allowed": ", ".join(DealStatus.values),
                }
            else:
                qs = qs.filter(status=value)
        elif key in {"close_from", "close_to"}:
            day = _date_value(key, value, errors)
            if day is not None:
                lookup = "gte" if key == "close_from" else "lte"
                qs = qs.filter(**{f"expected_close__{lookup}": day})
        elif key == "team":
            team_id = parse_id(value)
            team = Team.objects.filter(pk=team_id).first() if team_id else None
            if team is None:
                errors[key] = _("No team with id %(id)s.") % {"id": value}
            else:
                qs = qs.filter(owner_id__in=sorted(team_subtree_user_ids(team)))
        else:
            object_id = parse_id(value)
            if object_id is None:
                errors[key] = _("Expected an id.")
            else:
                qs = qs.filter(**{f"{key}_id": object_id})
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    return qs


# --- the deal list ------------------------------------------------------------------------

DEAL_SORTS = {
    "updated": [("updated_at", False, "dt"), ("id", False, "int")],
    "created": [("created_at", False, "dt"), ("id", False, "int")],
    # Cents as an integer: cursors carry JSON values, and Decimal is not one.
    "amount": [("amount_cents", False, "int"), ("id", False, "int")],
    "name": [("name", False, "str"), ("id", False, "int")],
}


def _sort_fields(sort: str) -> list[tuple[str, bool, str]]:
    sort = sort or "-updated"
    desc = sort.startswith("-")
    base = DEAL_SORTS.get(sort.lstrip("-"))
    if base is None:
        allowed = ", ".join(f"{k}, -{k}" for k in DEAL_SORTS)
        raise ValidationFailedError(
            fields={
                "sort": _("Unknown sort %(sort)s; use one of %(allowed)s.")
                % {"sort": repr(sort), "allowed": allowed}
            }
        )
    return [(name, desc, kind) for name, _d, kind in base]


def deal_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    sort: str = "-updated",
    cursor: str | None = None,
    limit: int = 50,
    with_totals: bool = False,
) -> Page:
    fields = _sort_fields(sort)
    qs = deal_filter(deal_qs(user), dict(filters or {}))
    listed = qs
    if fields[0][0] == "amount_cents":
        listed = qs.annotate(
            amount_cents=Cast(F("amount_company") * 100, output_field=BigIntegerField())
        )
    page = keyset_page(
        listed.select_related("pipeline", "stage", "owner", "contact", "company"),
        fields,
        cursor,
        limit,
    )
    if with_totals:
        totals = qs.order_by().aggregate(n=Count("id"), total=Sum("amount_company"))
        page.extra = {"count": totals["n"], "total": money(totals["total"] or 0)}
    return page


# --- the kanban board ---------------------------------------------------------------------


@dataclass
class Column:
    stage: Stage
    count: int = 0
    total: Decimal = Decimal("0")
    deals: list[Deal] = field(default_factory=list)
    has_more: bool = False


def _board_qs(user: User, pipeline: Pipeline, filters: dict[str, Any]) -> QuerySet[Deal]:
    filters = {k: v for k, v in filters.items() if k not in {"pipeline", "status"}}
    qs = deal_qs(user).filter(pipeline=pipeline, status=DealStatus.OPEN)
    return deal_filter(qs, filters)


def board_column_page(
    *,
    user: User,
    pipeline: Pipeline,
    stage: Stage,
    filters: dict[str, Any] | None = None,
    offset: int = 0,
    limit: int = BOARD_PAGE,
) -> tuple[list[Deal], bool]:
    """One column's cards, highest amount first (the deal_board_idx order)."""
    qs = _board_qs(user, pipeline, dict(filters or {})).filter(stage=stage)
    rows = list(
        qs.select_related("owner", "contact", "company").order_by("-amount_company", "id")[
            offset : offset + limit + 1
        ]
    )
    return rows[:limit], len(rows) > limit


def deal_board(
    *,
    user: User,
    pipeline: Pipeline,
    filters: dict[str, Any] | None = None,
    per_column: int = BOARD_PAGE,
) -> list[Column]:
    """Columns with counts and totals from one GROUP BY, and each column's first cards.

    Queries: stages (0 when prefetched, else 1) + totals (1) + one card query per stage
    that holds deals — never one per card.
    """
    filters = dict(filters or {})
    # Prefetched stages (pipeline_list) are reused; a bare pipeline costs one query.
    stages = sorted(pipeline.stages.all(), key=lambda s: (s.position, s.pk))
    qs = _board_qs(user, pipeline, filters)
    columns = {stage.pk: Column(stage=stage) for stage in stages}
    for row in (
        qs.order_by().values("stage_id").annotate(n=Count("id"), total=Sum("amount_company"))
    ):
        column = columns.get(row["stage_id"])
        if column is not None:
            column.count = row["n"]
            column.total = money(row["total"] or 0)
    for column in columns.values():
        if column.count:
            column.deals = list(
                qs.filter(stage_id=column.stage.pk)
                .select_related("owner", "contact", "company")
                .only(*CARD_FIELDS)
                .order_by("-amount_company", "id")[:per_column]
            )
            column.has_more = column.count > len(column.deals)
            for deal in column.deals:
                deal.stage = column.stage
    return [columns[stage.pk] for stage in stages]


# --- a deal's history and products --------------------------------------------------------


def deal_history(*, deal: Deal) -> list[StageChange]:
    """Stage changes, oldest first; call after the deal's gate."""
    return list(
        StageChange.objects.filter(deal=deal)
        .select_related("from_stage", "to_stage", "user")
        .order_by("at", "id")
    )


def deal_products(*, deal: Deal) -> list[DealProduct]:
    return list(DealProduct.objects.filter(deal=deal).select_related("product").order_by("id"))
