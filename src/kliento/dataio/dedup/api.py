"""/api/v1 endpoints for duplicates: the review queue, merge, dismiss, bulk merge, scan, undo.
(The entry check, GET /contacts/duplicates and /companies/duplicates, is routed with the
customer endpoints so that it comes before /contacts/{id}.)

A pair is listed only when the caller can see both records; merging and dismissing need write
access to both (403 otherwise). Bulk merge is for admins.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from kliento.core.schemas import Cursor, ErrorOut, Id
from kliento.dataio.dedup import selectors, services
from kliento.dataio.dedup.matching import evidence_text
from kliento.dataio.dedup.models import DedupJob
from kliento.dataio.dedup.schemas import (
    BulkMergeIn,
    JobOut,
    MergeIn,
    MergeOut,
    PairFilter,
    PairOut,
    PairPage,
    ScanIn,
)

router = Router(tags=["duplicates"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _with_text(evidence: list[dict]) -> list[dict]:
    return [{**e, "text": evidence_text(e)} for e in evidence]


def _pair_out(pair) -> dict:
    return {
        "id": pair.pk,
        "entity": pair.entity,
        "a_id": pair.a_id,
        "b_id": pair.b_id,
        "confidence": pair.confidence,
        "status": pair.status,
        "evidence": _with_text(pair.evidence),
        "found_at": pair.found_at,
        "decided_by_id": pair.decided_by_id,
        "decided_at": pair.decided_at,
    }


@router.get("/duplicates", response={200: PairPage, **ERRORS})
def pair_list(request: HttpRequest, filters: Query[PairFilter], page: Query[Cursor]):
    """Candidate pairs you can see both records of, most likely first."""
    data = filters.model_dump(exclude_none=True)
    result = selectors.pair_list(
        user=request.auth, filters=data, cursor=page.cursor, limit=page.limit
    )
    return {
        "items": [_pair_out(p) for p in result.items],
        "next_cursor": result.next_cursor,
        "prev_cursor": result.prev_cursor,
    }


@router.post("/duplicates/bulk-merge", response={202: JobOut, **ERRORS})
def pair_bulk_merge(request: HttpRequest, payload: BulkMergeIn):
    """Admins: merge every open pair at or above `min_confidence`, as a job."""
    job = services.job_start(
        user=request.auth,
        kind=DedupJob.Kind.BULK_MERGE,
        entity=payload.entity or "",
        params={"min_confidence": payload.min_confidence},
    )
    job.refresh_from_db()
    return Status(202, job)


@router.post("/duplicates/scan", response={202: JobOut, **ERRORS})
def pair_scan(request: HttpRequest, payload: ScanIn):
    """Scan the whole base for duplicates, as a job (GET /duplicates/jobs/{id} for progress)."""
    job = services.job_start(
        user=request.auth,
        kind=DedupJob.Kind.SCAN,
        entity=payload.entity or "",
        params={"min_confidence": payload.min_confidence},
    )
    job.refresh_from_db()
    return Status(202, job)


@router.get("/duplicates/jobs/{id}", response={200: JobOut, **ERRORS})
def job_detail(request: HttpRequest, id: Path[Id]):
    return selectors.job_get_for_user(user=request.auth, pk=id)


@router.get("/duplicates/{id}", response={200: PairOut, **ERRORS})
def pair_detail(request: HttpRequest, id: Path[Id]):
    return _pair_out(selectors.pair_get_for_user(user=request.auth, pk=id))


@router.post("/duplicates/{id}/merge", response={200: MergeOut, **ERRORS})
def pair_merge(request: HttpRequest, id: Path[Id], payload: MergeIn):
    """Merge the pair: the survivor keeps its id, everything of the other moves to it.
    Undo with POST /merges/{merge id}/undo."""
    pair = selectors.pair_get_for_user(user=request.auth, pk=id, for_write=True)
    return services.pair_merge(
        user=request.auth,
        pair=pair,
        field_choices=payload.field_choices,
        survivor_id=payload.survivor_id,
    )


@router.post("/duplicates/{id}/dismiss", response={200: PairOut, **ERRORS})
def pair_dismiss(request: HttpRequest, id: Path[Id]):
    """Not a duplicate: remembered, no rescan brings the pair back."""
    pair = selectors.pair_get_for_user(user=request.auth, pk=id, for_write=True)
    return _pair_out(services.pair_dismiss(user=request.auth, pair=pair))


@router.post("/merges/{id}/undo", response={200: MergeOut, **ERRORS})
def merge_undo(request: HttpRequest, id: Path[Id]):
    """Restore the merged-away record with its id and move its rows back."""
    merge = selectors.merge_get_for_user(user=request.auth, pk=id)
    services.merge_undo(user=request.auth, merge=merge)
    merge.refresh_from_db()
    return merge
