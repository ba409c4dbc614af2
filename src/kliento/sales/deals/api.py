"""/api/v1 endpoints for deals and pipelines.

Handlers parse input, pass the deal gate (hidden → 404, visible but read-only → 403), call
one selector or service, and serialise. Single deals carry an ETag; writes honour If-Match.
Pipelines, stages and loss reasons are readable by everyone and written by administrators.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from kliento.api import expected_version, not_modified
from kliento.core.errors import NotFoundError, ValidationFailedError
from kliento.core.schemas import Cursor, ErrorOut, Id
from kliento.sales.catalog.money import company_currency
from kliento.sales.deals import selectors, services
from kliento.sales.deals.models import LossReason
from kliento.sales.deals.schemas import (
    BoardFilter,
    BoardOut,
    DealFilter,
    DealIn,
    DealOut,
    DealPage,
    DealPatch,
    DealProductIn,
    DealProductOut,
    LoseIn,
    LossReasonIn,
    LossReasonOut,
    LossReasonPatch,
    MoveIn,
    PipelineIn,
    PipelineOut,
    PipelinePatch,
    StageChangeOut,
    StageIn,
    StageOrderIn,
    StageOut,
    StagePatch,
)

router = Router(tags=["deals and pipelines"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    412: ErrorOut,
    422: ErrorOut,
}


def _query(request: HttpRequest, filters, *, exclude: set[str] = frozenset()) -> dict[str, Any]:
    """Validated query parameters; an unknown one is a 422, never silently ignored."""
    known = set(type(filters).model_fields) | {"cursor", "limit"}
    unknown = {key: _("Unknown filter.") for key in request.GET if key not in known}
    if unknown:
        raise ValidationFailedError(_("Invalid filters."), fields=unknown)
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else str(value)
        for key, value in filters.model_dump(exclude_none=True).items()
        if key not in exclude
    }


def _detail(request: HttpRequest, response: HttpResponse, deal):
    cached = not_modified(request, deal)
    if cached is not None:
        return cached
    response["ETag"] = deal.etag
    return deal


def _written(response: HttpResponse, deal, status: int = 200):
    response["ETag"] = deal.etag
    return Status(status, deal)


def _for_write(request: HttpRequest, id: int):
    return selectors.deal_get_for_user(user=request.auth, pk=id, for_write=True)


def _reload(request: HttpRequest, deal):
    return selectors.deal_get_for_user(user=request.auth, pk=deal.pk)


# --- pipelines and stages ------------------------------------------------------------------


@router.get("/pipelines", response={200: list[PipelineOut], **ERRORS})
def pipeline_list(request: HttpRequest, include_inactive: bool = False):
    """Pipelines in order, each with its ordered stages."""
    return selectors.pipeline_list(include_inactive=include_inactive)


@router.post("/pipelines", response={201: PipelineOut, **ERRORS})
def pipeline_create(request: HttpRequest, payload: PipelineIn):
    """Administrators: a pipeline, optionally with its stages."""
    pipeline = services.pipeline_create(user=request.auth, data=payload.model_dump())
    return Status(201, pipeline)


@router.get("/pipelines/{id}", response={200: PipelineOut, **ERRORS})
def pipeline_detail(request: HttpRequest, id: Path[Id]):
    return selectors.pipeline_get(id)


@router.patch("/pipelines/{id}", response={200: PipelineOut, **ERRORS})
def pipeline_update(request: HttpRequest, id: Path[Id], payload: PipelinePatch):
    pipeline = selectors.pipeline_get(id)
    return services.pipeline_update(
        user=request.auth, pipeline=pipeline, data=payload.model_dump(exclude_unset=True)
    )


@router.delete("/pipelines/{id}", response={204: None, **ERRORS})
def pipeline_delete(request: HttpRequest, id: Path[Id]):
    """An empty pipeline only (409 while it holds deals)."""
    services.pipeline_delete(user=request.auth, pipeline=selectors.pipeline_get(id))
    return Status(204, None)


@router.post("/pipelines/{id}/stages", response={201: StageOut, **ERRORS})
def stage_create(request: HttpRequest, id: Path[Id], payload: StageIn):
    """Administrators: a stage at the end of the pipeline."""
    stage = services.stage_create(
        user=request.auth, pipeline=selectors.pipeline_get(id), data=payload.model_dump()
    )
    return Status(201, stage)


@router.put("/pipelines/{id}/stages/order", response={200: list[StageOut], **ERRORS})
def stage_reorder(request: HttpRequest, id: Path[Id], payload: StageOrderIn):
    """Administrators: every stage id of the pipeline, in the new order."""
    return services.stage_reorder(
        user=request.auth, pipeline=selectors.pipeline_get(id), stage_ids=payload.stages
    )


def _stage(pipeline_id: int, stage_id: int):
    stage = selectors.stage_get(stage_id)
    if stage.pipeline_id != pipeline_id:
        raise NotFoundError(_("No stage with id %(id)s.") % {"id": stage_id})
    return stage


@router.patch("/pipelines/{id}/stages/{stage_id}", response={200: StageOut, **ERRORS})
def stage_update(request: HttpRequest, id: Path[Id], stage_id: Path[Id], payload: StagePatch):
    return services.stage_update(
        user=request.auth, stage=_stage(id, stage_id), data=payload.model_dump(exclude_unset=True)
    )


@router.delete("/pipelines/{id}/stages/{stage_id}", response={204: None, **ERRORS})
def stage_delete(request: HttpRequest, id: Path[Id], stage_id: Path[Id]):
    """An empty stage only: a stage holding deals answers 409 (move them first)."""
    services.stage_delete(user=request.auth, stage=_stage(id, stage_id))
    return Status(204, None)


@router.get("/pipelines/{id}/board", response={200: BoardOut, **ERRORS})
def pipeline_board(request: HttpRequest, id: Path[Id], filters: Query[BoardFilter]):
    """The kanban board: open deals per stage with count, total and the top cards by amount."""
    pipeline = selectors.pipeline_get(id)
    data = _query(request, filters, exclude={"limit"})
    columns = selectors.deal_board(
        user=request.auth, pipeline=pipeline, filters=data, per_column=filters.limit
    )
    return {"pipeline_id": pipeline.pk, "currency": company_currency(), "columns": columns}


# --- loss reasons ---------------------------------------------------------------------------


@router.get("/loss-reasons", response={200: list[LossReasonOut], **ERRORS})
def loss_reason_list(request: HttpRequest, include_inactive: bool = False):
    return selectors.loss_reason_list(include_inactive=include_inactive)


@router.post("/loss-reasons", response={201: LossReasonOut, **ERRORS})
def loss_reason_create(request: HttpRequest, payload: LossReasonIn):
    return Status(201, services.loss_reason_create(user=request.auth, data=payload.model_dump()))


def _reason(id: int) -> LossReason:
    reason = LossReason.objects.filter(pk=id).first()
    if reason is None:
        raise NotFoundError(_("No loss reason with id %(id)s.") % {"id": id})
    return reason


@router.patch("/loss-reasons/{id}", response={200: LossReasonOut, **ERRORS})
def loss_reason_update(request: HttpRequest, id: Path[Id], payload: LossReasonPatch):
    return services.loss_reason_update(
        user=request.auth, reason=_reason(id), data=payload.model_dump(exclude_unset=True)
    )


@router.delete("/loss-reasons/{id}", response={204: None, **ERRORS})
def loss_reason_delete(request: HttpRequest, id: Path[Id]):
    """An unused reason only (409 once a lost deal names it; deactivate it instead)."""
    services.loss_reason_delete(user=request.auth, reason=_reason(id))
    return Status(204, None)


# --- deals ----------------------------------------------------------------------------------


@router.get("/deals", response={200: DealPage, **ERRORS})
def deal_list(request: HttpRequest, filters: Query[DealFilter], page: Query[Cursor]):
    """Deals you can see, newest change first by default; `totals=true` adds count and sum."""
    data = _query(request, filters, exclude={"sort", "totals"})
    result = selectors.deal_list(
        user=request.auth,
        filters=data,
        sort=filters.sort,
        cursor=page.cursor,
        limit=page.limit,
        with_totals=filters.totals,
    )
    return {
        "items": result.items,
        "next_cursor": result.next_cursor,
        "prev_cursor": result.prev_cursor,
        **result.extra,
    }


@router.post("/deals", response={201: DealOut, **ERRORS})
def deal_create(request: HttpRequest, response: HttpResponse, payload: DealIn):
    deal = services.deal_create(user=request.auth, data=payload.model_dump())
    response["Location"] = f"{request.path.rstrip('/')}/{deal.pk}"
    return _written(response, _reload(request, deal), 201)


@router.get("/deals/{id}", response={200: DealOut, **ERRORS})
def deal_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    return _detail(request, response, selectors.deal_get_for_user(user=request.auth, pk=id))


@router.patch("/deals/{id}", response={200: DealOut, **ERRORS})
def deal_update(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: DealPatch):
    """Change the fields sent; send If-Match with the ETag you read to avoid lost updates."""
    deal = _for_write(request, id)
    deal = services.deal_update(
        user=request.auth,
        deal=deal,
        data=payload.model_dump(exclude_unset=True),
        expected_version=expected_version(request, deal),
    )
    return _written(response, _reload(request, deal))


@router.put("/deals/{id}", response={200: DealOut, **ERRORS})
def deal_replace(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: DealIn):
    """Replace every field (pipeline stays; use /move-pipeline to change it)."""
    deal = _for_write(request, id)
    data = payload.model_dump()
    if data.get("pipeline_id") in (None, deal.pipeline_id):
        data.pop("pipeline_id", None)
    for key in ("stage_id", "owner_id"):
        if data.get(key) is None:
            data.pop(key)
    deal = services.deal_update(
        user=request.auth, deal=deal, data=data, expected_version=expected_version(request, deal)
    )
    return _written(response, _reload(request, deal))


@router.delete("/deals/{id}", response={204: None, **ERRORS})
def deal_delete(request: HttpRequest, id: Path[Id]):
    deal = _for_write(request, id)
    services.deal_delete(
        user=request.auth, deal=deal, expected_version=expected_version(request, deal)
    )
    return Status(204, None)


@router.post("/deals/{id}/move", response={200: DealOut, **ERRORS})
def deal_move(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: MoveIn):
    """Move to another stage of the same pipeline (a stage of another pipeline → 400)."""
    deal = _for_write(request, id)
    deal = services.deal_move(
        user=request.auth,
        deal=deal,
        stage=payload.stage,
        expected_version=expected_version(request, deal),
    )
    return _written(response, _reload(request, deal))


@router.post("/deals/{id}/move-pipeline", response={200: DealOut, **ERRORS})
def deal_move_pipeline(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: MoveIn):
    """Move to another pipeline, into the given stage of it."""
    deal = _for_write(request, id)
    deal = services.deal_change_pipeline(
        user=request.auth,
        deal=deal,
        stage=payload.stage,
        expected_version=expected_version(request, deal),
    )
    return _written(response, _reload(request, deal))


@router.post("/deals/{id}/win", response={200: DealOut, **ERRORS})
def deal_win(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    deal = _for_write(request, id)
    deal = services.deal_win(
        user=request.auth, deal=deal, expected_version=expected_version(request, deal)
    )
    return _written(response, _reload(request, deal))


@router.post("/deals/{id}/lose", response={200: DealOut, **ERRORS})
def deal_lose(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: LoseIn):
    deal = _for_write(request, id)
    deal = services.deal_lose(
        user=request.auth,
        deal=deal,
        reason=payload.reason,
        note=payload.note,
        expected_version=expected_version(request, deal),
    )
    return _written(response, _reload(request, deal))


@router.post("/deals/{id}/reopen", response={200: DealOut, **ERRORS})
def deal_reopen(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    deal = _for_write(request, id)
    deal = services.deal_reopen(
        user=request.auth, deal=deal, expected_version=expected_version(request, deal)
    )
    return _written(response, _reload(request, deal))


@router.get("/deals/{id}/history", response={200: list[StageChangeOut], **ERRORS})
def deal_history(request: HttpRequest, id: Path[Id]):
    """Every stage change, oldest first, with who made it and the time spent in the stage."""
    deal = selectors.deal_get_for_user(user=request.auth, pk=id)
    return selectors.deal_history(deal=deal)


@router.get("/deals/{id}/products", response={200: list[DealProductOut], **ERRORS})
def deal_product_list(request: HttpRequest, id: Path[Id]):
    deal = selectors.deal_get_for_user(user=request.auth, pk=id)
    return selectors.deal_products(deal=deal)


@router.post("/deals/{id}/products", response={201: DealProductOut, **ERRORS})
def deal_product_add(request: HttpRequest, id: Path[Id], payload: DealProductIn):
    """Add a product; without a price the deal's price list gives it."""
    deal = _for_write(request, id)
    line = services.deal_product_add(
        user=request.auth,
        deal=deal,
        product=payload.product_id,
        quantity=payload.quantity,
        price=payload.price,
        recompute=payload.recompute_amount,
        expected_version=expected_version(request, deal),
    )
    return Status(201, line)


@router.delete("/deals/{id}/products/{line_id}", response={204: None, **ERRORS})
def deal_product_remove(
    request: HttpRequest, id: Path[Id], line_id: Path[Id], recompute_amount: bool = False
):
    deal = _for_write(request, id)
    services.deal_product_remove(
        user=request.auth,
        deal=deal,
        line_id=line_id,
        recompute=recompute_amount,
        expected_version=expected_version(request, deal),
    )
    return Status(204, None)
