"""Reads of the duplicates area: the review queue, one pair, merges. A pair is visible to a
user who can see both of its records; acting on it needs write access to both."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError, PermissionDeniedError
from kliento.core.models import User
from kliento.core.permissions import can_read, can_write, is_admin, record_q
from kliento.customers.models import Company, Contact
from kliento.customers.selectors import Page, keyset_page
from kliento.dataio.dedup.models import DedupJob, DuplicatePair, MergeRecord

MODELS = {"contact": Contact, "company": Company}
QUEUE_ORDER = [("confidence", True, "str"), ("id", False, "int")]


def _visible_q(user: User, entity: str) -> Q:
    q = record_q(user, entity)
    if q is None:
        return Q(entity=entity)
    ids = MODELS[entity].objects.filter(q).values("id")
    return Q(entity=entity, a_id__in=ids, b_id__in=ids)


def pair_qs(user: User, entity: str | None = None) -> QuerySet[DuplicatePair]:
    entities = [entity] if entity else list(MODELS)
    q = Q(pk__in=[])
    for e in entities:
        q |= _visible_q(user, e)
    return DuplicatePair.objects.filter(q)


def pair_list(
    *,
    user: User,
    filters: dict[str, Any],
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    qs = pair_qs(user, filters.get("entity") or None)
    status = filters.get("status")
    if status:
        qs = qs.filter(status=status)
    if filters.get("min_confidence") not in (None, ""):
        qs = qs.filter(confidence__gte=float(filters["min_confidence"]))
    return keyset_page(qs, QUEUE_ORDER, cursor, limit)


def pair_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> DuplicatePair:
    try:
        pair = DuplicatePair.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        pair = None
    if pair is None:
        raise NotFoundError(_("No duplicate pair with id %(id)s.") % {"id": pk})
    records = list(MODELS[pair.entity].objects.filter(pk__in=[pair.a_id, pair.b_id]))
    if pair.status != DuplicatePair.Status.MERGED and len(records) != 2:
        raise NotFoundError(_("No duplicate pair with id %(id)s.") % {"id": pk})
    if not all(can_read(user, pair.entity, r) for r in records):
        raise NotFoundError(_("No duplicate pair with id %(id)s.") % {"id": pk})
    if for_write and not all(can_write(user, pair.entity, r) for r in records):
        raise PermissionDeniedError(_("You can view these records but not change both."))
    return pair


def pair_records(pairs: list[DuplicatePair]) -> dict[tuple[str, int], Any]:
    """The records of `pairs`, keyed by (entity, id), owners loaded."""
    result: dict[tuple[str, int], Any] = {}
    for entity, model in MODELS.items():
        ids = {i for p in pairs if p.entity == entity for i in (p.a_id, p.b_id)}
        if ids:
            for obj in model.objects.filter(pk__in=ids).select_related("owner"):
                result[(entity, obj.pk)] = obj
    return result


def pair_counts(user: User) -> dict[str, int]:
    qs = pair_qs(user).filter(status=DuplicatePair.Status.OPEN)
    return {
        "contact": qs.filter(entity="contact").count(),
        "company": qs.filter(entity="company").count(),
    }


def merge_get_for_user(*, user: User, pk: Any) -> MergeRecord:
    try:
        merge = MergeRecord.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        merge = None
    if merge is None:
        raise NotFoundError(_("No merge with id %(id)s.") % {"id": pk})
    survivor = MODELS[merge.entity].objects.filter(pk=merge.survivor_id).first()
    if survivor is None or not can_read(user, merge.entity, survivor):
        raise NotFoundError(_("No merge with id %(id)s.") % {"id": pk})
    return merge


def job_get_for_user(*, user: User, pk: Any) -> DedupJob:
    try:
        job = DedupJob.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        job = None
    if job is None or (job.user_id != user.pk and not is_admin(user)):
        raise NotFoundError()
    return job


def recent_jobs(user: User, limit: int = 5) -> list[DedupJob]:
    return list(DedupJob.objects.filter(user=user).order_by("-created_at", "-id")[:limit])
