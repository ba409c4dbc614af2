"""Writes of the duplicates area: decide pairs, merge two records into one, undo a merge.

A merge keeps the survivor's id. Every row of any table that points at the other record
(found through Django's `_meta.related_objects`, so the sales apps and any app added later are
covered without changes here) moves to the survivor; consents keep the most recent decision per
channel; company links and shares that the survivor already has are dropped; custom fields are
merged (the survivor wins where both are set); the search index and external ids follow. The
other record is then deleted. A MergeRecord keeps the other's full row, the ids moved per table,
the rows dropped and the survivor's overwritten fields, so `merge_undo` restores exactly that.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, User
from kliento.core.permissions import can_read, can_write, is_admin, scope_for
from kliento.core.services import audit_record
from kliento.customers.models import (
    Company,
    Consent,
    Contact,
    ContactCompany,
    Interaction,
    RecordShare,
    tags_from_db,
    tags_to_db,
)
from kliento.customers.normalize import fold
from kliento.customers.search import index_company, index_contact, unindex
from kliento.dataio.dedup.models import DedupJob, DuplicatePair, MergeRecord

MODELS = {"contact": Contact, "company": Company}
CONTACT_MERGE_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "emails",
    "phones",
    "birth_date",
    "gender",
    "language",
    "country",
    "region",
    "city",
    "social",
    "lifecycle_stage",
    "preferred_channel",
    "preferences",
    "tags",
    "owner_id",
    "custom",
)
COMPANY_MERGE_FIELDS = (
    "name",
    "legal_name",
    "tax_id",
    "industry",
    "size",
    "country",
    "region",
    "city",
    "address",
    "postal_address",
    "website",
    "emails",
    "phones",
    "tags",
    "owner_id",
    "custom",
)
# Lists merge by default (both records' values, the survivor's first); dicts merge key by key.
UNION_FIELDS = {"emails", "phones", "tags"}
DICT_FIELDS = {"custom", "social"}
CHOICES = {"survivor", "other", "both"}


def merge_fields(entity: str) -> tuple[str, ...]:
    return CONTACT_MERGE_FIELDS if entity == "contact" else COMPANY_MERGE_FIELDS


def _empty(value: Any) -> bool:
    return value in (None, "", [], {}, ",,")


def _union(a: list, b: list) -> list:
    return a + [x for x in b if x not in a]


def _names_swapped(a, b) -> bool:
    """True when `b` holds `a`'s first and last names the other way round (any alphabet)."""
    first, last = fold(a.first_name), fold(a.last_name)
    return bool(first and last and first != last) and (
        (fold(b.first_name), fold(b.last_name)) == (last, first)
    )


def merged_values(
    entity: str, survivor, other, field_choices: dict[str, str] | None = None
) -> dict[str, Any]:
    """The survivor's values after the merge: per field the chosen record's value, by default
    the newest non-empty one; lists united, dicts merged with the survivor winning. Two
    exceptions, unless chosen: the owner stays the survivor's (whoever imported or typed the
    newer copy does not take the customer, and its history, away from the rep who has it), and
    names that are the survivor's in the other order keep the survivor's order (nothing says
    the newer record is the right one)."""
    field_choices = field_choices or {}
    newer_is_other = (other.updated_at or other.created_at) > (
        survivor.updated_at or survivor.created_at
    )
    keep_names = entity == "contact" and _names_swapped(survivor, other)
    values: dict[str, Any] = {}
    for field in merge_fields(entity):
        mine, theirs = getattr(survivor, field), getattr(other, field)
        choice = field_choices.get(field)
        if field == "tags":
            mine, theirs = tags_from_db(mine), tags_from_db(theirs)
        if choice == "survivor":
            value = mine
        elif choice == "other":
            value = theirs
        elif field == "owner_id" or (keep_names and field in ("first_name", "last_name")):
            value = mine
        elif field in UNION_FIELDS:
            value = _union(mine or [], theirs or [])
        elif field in DICT_FIELDS:
            value = {**(theirs or {}), **(mine or {})}
        elif _empty(mine):
            value = theirs
        elif _empty(theirs):
            value = mine
        else:
            value = theirs if newer_is_other else mine
        values[field] = tags_to_db(value) if field == "tags" else value
    return values


def _check_choices(entity: str, field_choices: dict[str, str]) -> None:
    errors = {}
    allowed = set(merge_fields(entity))
    for field, choice in field_choices.items():
        if field not in allowed:
            errors[field] = _("Unknown field.")
        elif choice not in CHOICES:
            errors[field] = _("Choose survivor, other or both.")
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)


class _FullEncoder(DjangoJSONEncoder):
    """Datetimes with their microseconds (Django's encoder keeps milliseconds): an undo
    must restore rows exactly."""

    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


def _serialize(objs) -> list:
    return json.loads(json.dumps(serializers.serialize("python", objs), cls=_FullEncoder))


def _deserialize(rows: list):
    return serializers.deserialize("python", rows)


def _restore(rows: list) -> None:
    for obj in _deserialize(rows):
        obj.save()


def _require_write(user: User, entity: str, obj) -> None:
    if not can_read(user, entity, obj):
        raise NotFoundError()
    if not can_write(user, entity, obj):
        raise PermissionDeniedError(_("You can view this record but not change it."))


def _foreign_keys(model) -> list[tuple[Any, str]]:
    """(model, field name) of every foreign key pointing at `model`, from any app; for a
    many-to-many field of another app, the foreign key of its auto-created link table."""
    result = []
    for rel in model._meta.related_objects:
        if rel.many_to_many:
            through = rel.through
            if through is None or not through._meta.auto_created:
                continue  # an explicit link model has its own foreign key, listed on its own
            for field in through._meta.concrete_fields:
                if field.is_relation and field.related_model is model:
                    result.append((through, field.name))
            continue
        if not rel.field.concrete:
            continue
        result.append((rel.related_model, rel.field.name))
    return result


def _drop_link_clashes(related, field: str, survivor_pk: int, other_pk: int, side: dict) -> None:
    """In an auto-created many-to-many table, the other record's links that the survivor
    already has would be duplicates: drop them (undo restores them)."""
    others = [
        f.name
        for f in related._meta.concrete_fields
        if f.is_relation and f.name != field and not f.primary_key
    ]
    if not related._meta.auto_created or len(others) != 1:
        return
    partner = others[0]
    have = related.objects.filter(**{field: survivor_pk}).values(partner)
    clash = list(related.objects.filter(**{field: other_pk, f"{partner}__in": have}))
    if clash:
        side["deleted"] += _serialize(clash)
        related.objects.filter(pk__in=[c.pk for c in clash]).delete()


def _external_ref_model():
    try:
        return apps.get_model("transfer", "ExternalRef")
    except LookupError:
        return None


ENTITY_ALIASES = {"contact": ("contact", "contacts"), "company": ("company", "companies")}


@transaction.atomic
def record_merge(
    *,
    user: User,
    entity: str,
    survivor,
    other,
    field_choices: dict[str, str] | None = None,
    pair: DuplicatePair | None = None,
) -> MergeRecord:
    model = MODELS[entity]
    field_choices = dict(field_choices or {})
    field_choices.pop("survivor_id", None)
    _check_choices(entity, field_choices)
    if survivor.pk == other.pk:
        raise ValidationFailedError(fields={"other": _("A record cannot be merged into itself.")})
    if not scope_for(user).may_write:
        raise PermissionDeniedError(_("Your role is read-only."))
    # Lock both in id order so two merges of overlapping pairs cannot deadlock.
    locked = {
        o.pk: o
        for o in model.objects.select_for_update()
        .filter(pk__in=[survivor.pk, other.pk])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise NotFoundError()
    survivor, other = locked[survivor.pk], locked[other.pk]
    _require_write(user, entity, survivor)
    _require_write(user, entity, other)

    other_row = _serialize([other])[0]
    survivor_row = _serialize([survivor])[0]
    moved: dict[str, list[int]] = {}
    side: dict[str, list] = {"deleted": [], "changed": []}

    # Rows that could collide with the survivor's own: decide them one by one.
    if entity == "contact":
        links = ContactCompany.objects.filter(contact=other)
        taken = set(survivor.company_links.values_list("company_id", flat=True))
        clash = list(links.filter(company_id__in=taken))
        side["deleted"] += _serialize(clash)
        ContactCompany.objects.filter(pk__in=[c.pk for c in clash]).delete()
        for consent in Consent.objects.filter(contact=other):
            mine = Consent.objects.filter(contact=survivor, channel=consent.channel).first()
            if mine is None:
                continue
            side["deleted"] += _serialize([consent])
            if consent.at > mine.at:
                side["changed"] += _serialize([mine])
                mine.status, mine.at, mine.source = consent.status, consent.at, consent.source
                mine.save(update_fields=["status", "at", "source"])
            consent.delete()
    else:
        links = ContactCompany.objects.filter(company=other)
        taken = set(survivor.contact_links.values_list("contact_id", flat=True))
        clash = list(links.filter(contact_id__in=taken))
        side["deleted"] += _serialize(clash)
        ContactCompany.objects.filter(pk__in=[c.pk for c in clash]).delete()

    for related, field in _foreign_keys(model):
        _drop_link_clashes(related, field, survivor.pk, other.pk, side)
        ids = list(related.objects.filter(**{field: other.pk}).values_list("pk", flat=True))
        if not ids:
            continue
        key = f"{related._meta.label}.{field}"
        try:
            with transaction.atomic():
                related.objects.filter(pk__in=ids).update(**{field: survivor.pk})
        except IntegrityError as exc:
            raise ConflictError(
                _("These records cannot be merged: %(table)s would hold the same row twice.")
                % {"table": related._meta.verbose_name}
            ) from exc
        moved[key] = ids

    shares = RecordShare.objects.filter(entity=entity, object_id=other.pk)
    have = set(
        RecordShare.objects.filter(entity=entity, object_id=survivor.pk).values_list(
            "user_id", flat=True
        )
    )
    dup_shares = list(shares.filter(user_id__in=have))
    side["deleted"] += _serialize(dup_shares)
    RecordShare.objects.filter(pk__in=[s.pk for s in dup_shares]).delete()
    share_ids = list(shares.values_list("pk", flat=True))
    if share_ids:
        RecordShare.objects.filter(pk__in=share_ids).update(object_id=survivor.pk)
        moved["customers.RecordShare.object_id"] = share_ids

    ref_model = _external_ref_model()
    if ref_model is not None:
        ref_ids = list(
            ref_model.objects.filter(
                entity__in=ENTITY_ALIASES[entity], object_id=other.pk
            ).values_list("pk", flat=True)
        )
        if ref_ids:
            ref_model.objects.filter(pk__in=ref_ids).update(object_id=survivor.pk)
            moved[f"{ref_model._meta.label}.object_id"] = ref_ids

    # Other candidate pairs of the vanished record are dropped; undo brings them back.
    stale = DuplicatePair.objects.filter(entity=entity).filter(Q(a_id=other.pk) | Q(b_id=other.pk))
    if pair is not None:
        stale = stale.exclude(pk=pair.pk)
    stale = list(stale)
    side["deleted"] += _serialize(stale)
    DuplicatePair.objects.filter(pk__in=[p.pk for p in stale]).delete()

    values = merged_values(entity, survivor, other, field_choices)
    changed = {f: v for f, v in values.items() if v != getattr(survivor, f)}
    for field, value in changed.items():
        setattr(survivor, field, value)
    extra = []
    if "emails" in changed and entity == "contact":
        survivor.email = survivor.emails[0] if survivor.emails else ""
        extra.append("email")
    if "phones" in changed and entity == "contact":
        survivor.phone = survivor.phones[0] if survivor.phones else ""
        extra.append("phone")
    survivor.version += 1
    survivor.updated_at = timezone.now()
    survivor.save(update_fields=[*changed, *extra, "version", "updated_at"])

    unindex(entity, other.pk)
    other_repr = str(other)
    other_pk = other.pk
    # Everything pointing at it has moved; what is left (nothing, normally) cascades.
    model.objects.filter(pk=other_pk).delete()
    (index_contact if entity == "contact" else index_company)(survivor)

    note = Interaction.objects.create(
        kind="note",
        channel="other",
        direction="internal",
        user=user,
        **{entity: survivor},
        subject=_("Merged with the duplicate %(name)s (#%(id)s)")
        % {"name": other_repr, "id": other_pk},
    )
    if pair is not None:
        pair.status = DuplicatePair.Status.MERGED
        pair.decided_by = user
        pair.decided_at = timezone.now()
        pair.save(update_fields=["status", "decided_by", "decided_at"])
    record = MergeRecord.objects.create(
        entity=entity,
        survivor_id=survivor.pk,
        other_id=other_pk,
        other_row=other_row,
        moved=moved,
        survivor_before={"row": survivor_row, "fields": sorted(changed) + extra},
        side={**side, "note_id": note.pk},
        pair=pair,
        user=user,
    )
    audit_record(
        user=user,
        action=AuditLog.Action.MERGE,
        entity=entity,
        obj=survivor,
        changes={
            "merged": [other_pk, survivor.pk],
            "merge_id": [None, record.pk],
            **{
                f: [_plain(survivor_row["fields"].get(f)), _plain(getattr(survivor, f))]
                for f in changed
            },
        },
    )
    return record


def _plain(value: Any) -> Any:
    return (
        value
        if isinstance(value, str | int | float | bool | list | dict | type(None))
        else str(value)
    )


def contact_merge(
    *,
    user: User,
    survivor: Contact,
    other: Contact,
    field_choices: dict[str, str] | None = None,
    pair: DuplicatePair | None = None,
) -> MergeRecord:
    return record_merge(
        user=user,
        entity="contact",
        survivor=survivor,
        other=other,
        field_choices=field_choices,
        pair=pair,
    )


def company_merge(
    *,
    user: User,
    survivor: Company,
    other: Company,
    field_choices: dict[str, str] | None = None,
    pair: DuplicatePair | None = None,
) -> MergeRecord:
    return record_merge(
        user=user,
        entity="company",
        survivor=survivor,
        other=other,
        field_choices=field_choices,
        pair=pair,
    )


@transaction.atomic
def merge_undo(*, user: User, merge: MergeRecord) -> Any:
    """Bring the other record back with its id and move exactly the moved rows back."""
    merge = MergeRecord.objects.select_for_update().get(pk=merge.pk)
    model = MODELS[merge.entity]
    if merge.undone_at is not None:
        raise ConflictError(_("This merge was already undone."))
    survivor = model.objects.select_for_update().filter(pk=merge.survivor_id).first()
    if survivor is None:
        raise ConflictError(_("The merged record was deleted since; the merge cannot be undone."))
    _require_write(user, merge.entity, survivor)
    if not (is_admin(user) or merge.user_id == user.pk):
        raise PermissionDeniedError(_("Only the person who merged or an admin can undo a merge."))
    if model.objects.filter(pk=merge.other_id).exists():
        raise ConflictError(_("A record with the other id exists again."))

    _restore([merge.other_row])
    for key, ids in merge.moved.items():
        label, field = key.rsplit(".", 1)
        related = apps.get_model(label)
        related.objects.filter(pk__in=ids).update(**{field: merge.other_id})
    _restore(merge.side.get("deleted", []))
    _restore(merge.side.get("changed", []))
    note_id = merge.side.get("note_id")
    if note_id:
        Interaction.objects.filter(pk=note_id).delete()

    before = next(
        serializers.deserialize("json", json.dumps([merge.survivor_before["row"]]))
    ).object
    fields = merge.survivor_before.get("fields", [])
    for field in fields:
        setattr(survivor, field, getattr(before, field))
    survivor.version += 1
    survivor.updated_at = timezone.now()
    survivor.save(update_fields=[*fields, "version", "updated_at"])
    other = model.objects.get(pk=merge.other_id)
    index = index_contact if merge.entity == "contact" else index_company
    index(survivor)
    index(other)

    if merge.pair_id:
        DuplicatePair.objects.filter(pk=merge.pair_id).update(
            status=DuplicatePair.Status.OPEN, decided_by=None, decided_at=None
        )
    merge.undone_at = timezone.now()
    merge.undone_by = user
    merge.save(update_fields=["undone_at", "undone_by"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity=merge.entity,
        obj=survivor,
        changes={"merged": [merge.other_id, None], "merge_id": [merge.pk, None]},
    )
    return other


# --- pairs --------------------------------------------------------------------------------


def _pair_records(pair: DuplicatePair):
    model = MODELS[pair.entity]
    records = {o.pk: o for o in model.objects.filter(pk__in=[pair.a_id, pair.b_id])}
    if len(records) != 2:
        raise ConflictError(_("One of the two records no longer exists."))
    return records[pair.a_id], records[pair.b_id]


def default_survivor(a, b):
    """The older record survives: its id is the one links, imports and people already use."""
    return (a, b) if (a.created_at, a.pk) <= (b.created_at, b.pk) else (b, a)


@transaction.atomic
def pair_merge(
    *,
    user: User,
    pair: DuplicatePair,
    field_choices: dict[str, str] | None = None,
    survivor_id: int | None = None,
) -> MergeRecord:
    pair = DuplicatePair.objects.select_for_update().get(pk=pair.pk)
    if pair.status == DuplicatePair.Status.MERGED:
        raise ConflictError(_("This pair was already merged."))
    a, b = _pair_records(pair)
    if survivor_id is None:
        survivor, other = default_survivor(a, b)
    elif survivor_id in (a.pk, b.pk):
        survivor, other = (a, b) if survivor_id == a.pk else (b, a)
    else:
        raise ValidationFailedError(fields={"survivor_id": _("Choose one of the two records.")})
    return record_merge(
        user=user,
        entity=pair.entity,
        survivor=survivor,
        other=other,
        field_choices=field_choices,
        pair=pair,
    )


@transaction.atomic
def pair_dismiss(*, user: User, pair: DuplicatePair) -> DuplicatePair:
    """Not a duplicate: remembered, so no rescan brings the pair back."""
    pair = DuplicatePair.objects.select_for_update().get(pk=pair.pk)
    if pair.status == DuplicatePair.Status.MERGED:
        raise ConflictError(_("This pair was already merged."))
    a, b = _pair_records(pair)
    _require_write(user, pair.entity, a)
    _require_write(user, pair.entity, b)
    pair.status = DuplicatePair.Status.NOT_DUPLICATE
    pair.decided_by = user
    pair.decided_at = timezone.now()
    pair.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity=pair.entity,
        obj=a,
        changes={"not_duplicate_of": [None, b.pk]},
    )
    return pair


def pairs_flag(*, entity: str, pairs: list[tuple[int, int, float, list]]) -> int:
    """Queue pairs found outside a scan (an import's duplicate check) for review, as open
    pairs beside the scan's; a pair already decided (merged, not a duplicate) stays so."""
    made = 0
    for a, b, confidence, evidence in pairs:
        a, b = min(a, b), max(a, b)
        _obj, created = DuplicatePair.objects.get_or_create(
            entity=entity,
            a_id=a,
            b_id=b,
            defaults={
                "confidence": confidence,
                "evidence": evidence,
                "status": DuplicatePair.Status.OPEN,
            },
        )
        made += created
    return made


# --- jobs ---------------------------------------------------------------------------------


def job_start(*, user: User, kind: str, entity: str = "", params: dict | None = None) -> DedupJob:
    if kind == DedupJob.Kind.BULK_MERGE and not is_admin(user):
        raise PermissionDeniedError(_("Only an admin can merge in bulk."))
    if kind == DedupJob.Kind.SCAN and not scope_for(user).may_write:
        raise PermissionDeniedError(_("Your role is read-only."))
    job = DedupJob.objects.create(kind=kind, entity=entity, params=params or {}, user=user)
    from kliento.dataio.dedup.tasks import run_job

    transaction.on_commit(lambda: run_job(job.pk))
    return job


def _progress_saver(job: DedupJob):
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if now - last[0] < 0.5 and done != total:
            return
        last[0] = now
        DedupJob.objects.filter(pk=job.pk).update(stage=stage, done=done, total=total)

    return progress


def job_run(*, job_id: int) -> DedupJob:
    """Run a queued scan or bulk merge; a finished job is left as it is (idempotent)."""
    from kliento.dataio.dedup.scan import pairs_store, scan

    job = DedupJob.objects.get(pk=job_id)
    if job.status in (DedupJob.Status.DONE, DedupJob.Status.FAILED):
        return job
    DedupJob.objects.filter(pk=job.pk).update(status=DedupJob.Status.RUNNING)
    progress = _progress_saver(job)
    try:
        if job.kind == DedupJob.Kind.SCAN:
            result = {}
            for entity in [job.entity] if job.entity else ["contact", "company"]:
                found = scan(
                    entity=entity,
                    min_confidence=float(job.params.get("min_confidence", 0.5)),
                    progress=progress,
                )
                found.stored = pairs_store(entity=entity, pairs=found.pairs, progress=progress)
                result[entity] = found.as_dict()
        else:
            result = pairs_bulk_merge(
                user=job.user,
                min_confidence=float(job.params.get("min_confidence", 0.95)),
                entity=job.entity or None,
                progress=progress,
            )
        DedupJob.objects.filter(pk=job.pk).update(
            status=DedupJob.Status.DONE, result=result, finished_at=timezone.now()
        )
    except Exception as exc:
        DedupJob.objects.filter(pk=job.pk).update(
            status=DedupJob.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    job.refresh_from_db()
    return job


def pairs_bulk_merge(
    *, user: User, min_confidence: float, entity: str | None = None, progress=None
) -> dict[str, int]:
    """Merge every open pair at or above `min_confidence`, each in its own transaction: one
    that fails (a record gone, a conflict) is counted and skipped."""
    if not is_admin(user):
        raise PermissionDeniedError(_("Only an admin can merge in bulk."))
    pairs = DuplicatePair.objects.filter(
        status=DuplicatePair.Status.OPEN, confidence__gte=min_confidence
    )
    if entity:
        pairs = pairs.filter(entity=entity)
    ids = list(pairs.order_by("-confidence", "id").values_list("id", flat=True))
    merged = failed = 0
    for n, pk in enumerate(ids, 1):
        pair = DuplicatePair.objects.filter(pk=pk, status=DuplicatePair.Status.OPEN).first()
        if pair is None:
            continue
        try:
            pair_merge(user=user, pair=pair)
            merged += 1
        except (ConflictError, NotFoundError, ValidationFailedError):
            failed += 1
        if progress:
            progress("merge", n, len(ids))
    return {"pairs": len(ids), "merged": merged, "failed": failed}
