"""Import jobs: create from an upload or a local file, map columns, preview, start, cancel."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from kliento.core.models import AuditLog, User
from kliento.core.permissions import is_admin, scope_for
from kliento.core.services import audit_record
from kliento.dataio.transfer.engine import HANDLERS, _row
from kliento.dataio.transfer.fields import ENTITY_FIELDS, field_choices, guess_mapping
from kliento.dataio.transfer.matching import get_finder
from kliento.dataio.transfer.models import (
    DuplicateAction,
    Entity,
    ImportJob,
    JobStatus,
    SavedMapping,
)
from kliento.dataio.transfer.readers import check_size
from kliento.dataio.transfer.storage import file_store
from kliento.sales.catalog.selectors import catalog_can_edit

DATE_FORMATS = ("dmy", "mdy", "ymd")
PUBLIC_ENTITIES = set(Entity.values)


def _require_importer(user: User, entity: str = "") -> None:
    if not scope_for(user).may_write:
        raise PermissionDeniedError(_("Your role is read-only."))
    if entity == "products" and not catalog_can_edit(user):
        raise PermissionDeniedError(
            _("Only administrators and heads of sales can change the catalogue.")
        )


def importable_entities(user: User) -> list[tuple[str, str]]:
    """The record types this user may import, (value, label) for the upload form."""
    return [
        (value, label)
        for value, label in Entity.choices
        if value != "products" or catalog_can_edit(user)
    ]


def options_clean(raw: dict[str, Any] | None) -> dict[str, Any]:
    raw = dict(raw or {})
    errors: dict[str, str] = {}
    options = {
        "date_format": raw.pop("date_format", "") or "dmy",
        "decimal": raw.pop("decimal", "") or ".",
        "duplicates": raw.pop("duplicates", "") or DuplicateAction.MERGE,
        "dry_run": bool(raw.pop("dry_run", False)),
        "encoding": (raw.pop("encoding", "") or "").lower(),
        "delimiter": raw.pop("delimiter", "") or "",
    }
    if options["date_format"] not in DATE_FORMATS:
        errors["date_format"] = _("Use dmy, mdy or ymd.")
    if options["decimal"] not in {".", ","}:
        errors["decimal"] = _("Use . or , as the decimal separator.")
    if options["duplicates"] not in DuplicateAction.values:
        errors["duplicates"] = _("Use merge, skip or flag.")
    if options["encoding"] not in {"", "utf-8", "utf-8-sig", "cp1251"}:
        errors["encoding"] = _("Use utf-8, utf-8-sig or cp1251.")
    if options["delimiter"] and options["delimiter"] not in {",", ";", "\t", "|"}:
        errors["delimiter"] = _("Use , ; | or a tab.")
    for key in raw:
        errors[key] = _("Unknown option.")
    if errors:
        raise ValidationFailedError(_("Some options are invalid."), fields=errors)
    return options


def _inspect(job: ImportJob) -> list[str]:
    """Open the job's file once: refuse it now if it is unreadable; return its headers."""
    from kliento.dataio.transfer.engine import job_source

    with job_source(job) as source:
        return source.headers


@transaction.atomic
def import_create(
    *,
    user: User,
    entity: str,
    stream: BinaryIO | None = None,
    path: str = "",
    file_name: str = "",
    size: int | None = None,
    options: dict[str, Any] | None = None,
    mapping: dict[str, str] | None = None,
    mapping_name: str = "",
) -> ImportJob:
    """A draft import of an uploaded stream or a local file, with its columns mapped (guessed,
    or from a saved mapping, or as given). Unreadable files are refused here, before any row."""
    _require_importer(user, entity)
    if entity not in ENTITY_FIELDS or (entity not in PUBLIC_ENTITIES and not is_admin(user)):
        raise ValidationFailedError(
            fields={"entity": _("Use one of: %(allowed)s.") % {"allowed": ", ".join(Entity.values)}}
        )
    options = options_clean(options)
    if size is None and path:
        size = Path(path).stat().st_size
    if size is not None:
        check_size(size)
    job = ImportJob(entity=entity, user=user, options=options)
    if path:
        job.source_path = str(Path(path).resolve())
        job.file_name = file_name or Path(path).name
        job.sha256 = _sha256_path(path)
    else:
        stored = file_store(name=file_name or "upload", stream=stream)
        check_size(stored.size)
        job.file = stored
        job.file_name = stored.name
        job.sha256 = stored.sha256
    job.save()
    headers = _inspect(job)
    if mapping_name:
        saved = SavedMapping.objects.filter(entity=entity, name=mapping_name).first()
        if saved is None:
            raise ValidationFailedError(
                fields={"mapping": _("No saved mapping %(name)s.") % {"name": repr(mapping_name)}}
            )
        mapping = {h: f for h, f in saved.columns.items() if h in headers}
    job.mapping = (
        _mapping_clean(entity, headers, mapping)
        if mapping is not None
        else guess_mapping(entity, headers)
    )
    job.save(update_fields=["mapping"])
    return job


def _sha256_path(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for piece in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(piece)
    return digest.hexdigest()


def _mapping_clean(entity: str, headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    allowed = {k for k, _label in field_choices(entity)}
    errors: dict[str, str] = {}
    result: dict[str, str] = {}
    used: dict[str, str] = {}
    for header, target in (mapping or {}).items():
        if not target:
            continue
        if header not in headers:
            errors[header] = _("The file has no column %(name)s.") % {"name": repr(header)}
        elif target not in allowed:
            errors[header] = _("Unknown field %(field)s.") % {"field": repr(target)}
        elif target in used and target not in {"email", "phone", "tags"}:
            errors[header] = _("%(field)s is already taken by column %(other)s.") % {
                "field": target,
                "other": repr(used[target]),
            }
        else:
            used[target] = header
            result[header] = target
    if errors:
        raise ValidationFailedError(_("The column mapping is invalid."), fields=errors)
    return result


def import_headers(job: ImportJob) -> list[str]:
    return _inspect(job)


@transaction.atomic
def import_configure(
    *,
    user: User,
    job: ImportJob,
    mapping: dict[str, str],
    options: dict[str, Any] | None = None,
    save_as: str = "",
) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _require_owner(user, job)
    if job.status != JobStatus.DRAFT:
        raise ValidationFailedError(fields={"status": _("This import has already started.")})
    job.mapping = _mapping_clean(job.entity, _inspect(job), mapping)
    if options is not None:
        job.options = options_clean(options)
    job.save(update_fields=["mapping", "options"])
    if save_as.strip():
        mapping_save(user=user, entity=job.entity, name=save_as, columns=job.mapping)
    return job


def mapping_save(*, user: User, entity: str, name: str, columns: dict[str, str]) -> SavedMapping:
    name = name.strip()[:100]
    if not name:
        raise ValidationFailedError(fields={"save_as": _("Give the mapping a name.")})
    saved, _created = SavedMapping.objects.update_or_create(
        entity=entity, name=name, defaults={"columns": columns, "user": user}
    )
    return saved


def _require_owner(user: User, job: ImportJob) -> None:
    if job.user_id != user.pk and not is_admin(user):
        raise NotFoundError()


def import_preview(*, job: ImportJob, rows: int = 20) -> dict[str, Any]:
    """The first rows as they would be read, with a problem message per cell (no writes)."""
    from kliento.dataio.transfer.engine import job_source

    handler = HANDLERS[job.entity](job, get_finder())
    columns = {field: header for header, field in job.mapping.items()}
    result = []
    with job_source(job) as source:
        headers = source.headers
        for number, cells, problem in source.rows:
            row = _row(headers, job.mapping, number, cells or [])
            if problem:
                row.errors["row"] = problem
            else:
                handler.clean(row)
            problems: dict[str, str] = {}
            for key, message in row.errors.items():
                header = columns.get(key) or columns.get(key.split(".")[0]) or columns.get(key)
                if key.startswith("custom."):
                    header = columns.get(key, header)
                problems[header or "row"] = message
            padded = (list(cells or []) + [""] * len(headers))[: len(headers)]
            result.append(
                {
                    "number": number,
                    "cells": [
                        (h, v, problems.get(h, "")) for h, v in zip(headers, padded, strict=True)
                    ],
                    "row_problem": problems.get("row", "")
                    or next((m for h, m in problems.items() if h not in headers), ""),
                    "ok": not problems,
                }
            )
            if len(result) >= rows:
                break
    return {"headers": headers, "rows": result}


@transaction.atomic
def import_start(*, user: User, job: ImportJob) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _require_owner(user, job)
    if job.status != JobStatus.DRAFT:
        return job
    if not any(job.mapping.values()):
        raise ValidationFailedError(fields={"mapping": _("Map at least one column to a field.")})
    job.status = JobStatus.QUEUED
    job.save(update_fields=["status"])
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="import",
        obj=job,
        changes={"file": [None, job.file_name], "entity": [None, job.entity]},
    )
    from kliento.dataio.transfer.tasks import run_import

    transaction.on_commit(lambda: run_import(job.pk))
    return job


@transaction.atomic
def import_cancel(*, user: User, job: ImportJob) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    _require_owner(user, job)
    if job.status in {JobStatus.DRAFT, JobStatus.QUEUED, JobStatus.RUNNING}:
        job.status = JobStatus.CANCELLED
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
    return job


# --- reading a full export back -----------------------------------------------------------

EXT_PREFIX = "kliento:"
_CUSTOMER_IDS = {"id": "external_id", "emails": "email", "phones": "phone"}
_SALES_IDS = {
    "id": "external_id",
    "contact_id": "contact_external_id",
    "company_id": "company_external_id",
}
# (file in the ZIP, entity, header → field where they differ, the only fields read or None),
# in the order the jobs must run: customers before what refers to them, products before the
# prices and orders naming them. Products are read twice: first all of them active (an order
# line may not name an inactive product), last their `active` flag.
FULL_FILES: list[tuple[str, str, dict[str, str], set[str] | None]] = [
    ("companies.csv", "companies", _CUSTOMER_IDS, None),
    ("contacts.csv", "contacts", _CUSTOMER_IDS, None),
    (
        "links.csv",
        "links",
        {
            "contact_id": "contact_external_id",
            "company_id": "company_external_id",
            "title": "job_title",
        },
        None,
    ),
    ("consents.csv", "consents", {"contact_id": "contact_external_id"}, None),
    (
        "interactions.csv",
        "interactions",
        {
            "id": "external_id",
            "contact_id": "contact_external_id",
            "company_id": "company_external_id",
        },
        None,
    ),
    ("sales/products.csv", "products", {}, {"sku", "name", "category", "unit", "description",
                                            "cost", "tax_rate"}),
    ("sales/prices.csv", "products", {}, {"sku", "price", "price_list"}),
    ("sales/leads.csv", "leads", _SALES_IDS, None),
    ("sales/deals.csv", "deals", _SALES_IDS, None),
    ("sales/order_lines.csv", "orders", {**_SALES_IDS, "number": "external_id"}, None),
    ("sales/products.csv", "products", {}, {"sku", "active"}),
]  # fmt: skip


def _csv_rows(archive, name: str):
    import csv
    import io

    with archive.open(name) as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))


def _sales_reference_create(*, user: User, archive, names: set[str]) -> None:
    """What sales rows name rather than import: pipelines with their stages, loss reasons,
    price lists and currency rates, created through their services when no record of that
    name (rate: currency and day) exists yet."""
    from kliento.sales.catalog.models import CurrencyRate, PriceList
    from kliento.sales.catalog.services import currency_rate_create, price_list_create
    from kliento.sales.deals.models import LossReason, Pipeline
    from kliento.sales.deals.services import loss_reason_create, pipeline_create, stage_create

    def flag(text: str) -> bool:
        return text.strip().lower() in {"true", "1", "yes"}

    if "sales/pipelines.csv" in names:
        stages: dict[str, list[dict[str, Any]]] = {}
        heads: dict[str, dict[str, str]] = {}
        for row in _csv_rows(archive, "sales/pipelines.csv"):
            heads.setdefault(row["pipeline"], row)
            stage = {"name": row["stage"], "probability": row["probability"] or 0}
            if row["expected_days"]:
                stage["expected_days"] = row["expected_days"]
            stages.setdefault(row["pipeline"], []).append(stage)
        for name, head in heads.items():
            pipeline = Pipeline.objects.filter(name__iexact=name).first()
            if pipeline is None:
                pipeline_create(
                    user=user,
                    data={
                        "name": name,
                        "is_default": flag(head["is_default"]),
                        "active": flag(head["active"]),
                        "stages": stages[name],
                    },
                )
                continue
            have = {s.lower() for s in pipeline.stages.values_list("name", flat=True)}
            for stage in stages[name]:
                if stage["name"].lower() not in have:
                    stage_create(user=user, pipeline=pipeline, data=stage)
    if "sales/loss_reasons.csv" in names:
        for row in _csv_rows(archive, "sales/loss_reasons.csv"):
            if not LossReason.objects.filter(name__iexact=row["name"]).exists():
                loss_reason_create(
                    user=user, data={"name": row["name"], "active": flag(row["active"])}
                )
    if "sales/price_lists.csv" in names:
        for row in _csv_rows(archive, "sales/price_lists.csv"):
            if not PriceList.objects.filter(name__iexact=row["name"]).exists():
                data = {k: v for k, v in row.items() if v != "" or k in {"name", "currency"}}
                for key in ("is_default", "active"):
                    data[key] = flag(row[key])
                price_list_create(user=user, data=data)
    if "sales/currency_rates.csv" in names:
        for row in _csv_rows(archive, "sales/currency_rates.csv"):
            if not CurrencyRate.objects.filter(
                currency=row["currency"], valid_from=row["valid_from"]
            ).exists():
                currency_rate_create(user=user, data=dict(row))


def full_import_create(*, user: User, stream: BinaryIO, file_name: str = "") -> list[ImportJob]:
    """Queue the import of a full export (ZIP): custom fields and the sales reference data
    (pipelines, loss reasons, price lists, currency rates) first, then one job per file, to run
    in this order: companies, contacts, their links and consents, interactions, products,
    prices, leads, deals, orders (see FULL_FILES). The exported ids become external ids
    "kliento:<id>" (orders: their number), so relations are kept and a second run updates
    instead of duplicating. Users are matched by username and must exist."""
    import json
    import zipfile

    from kliento.core.models import CustomField
    from kliento.core.services import custom_field_create
    from kliento.dataio.transfer.fields import field_choices

    if not is_admin(user):
        raise PermissionDeniedError(_("Only administrators import a full export."))
    try:
        archive = zipfile.ZipFile(stream)
        names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValidationFailedError(fields={"file": _("This is not a ZIP file.")}) from exc
    if "manifest.json" not in names or "contacts.csv" not in names:
        raise ValidationFailedError(
            fields={"file": _("This ZIP is not a Kliento full export (no manifest.json).")}
        )
    if "custom_fields.csv" in names:
        for row in _csv_rows(archive, "custom_fields.csv"):
            if not CustomField.objects.filter(entity=row["entity"], key=row["key"]).exists():
                custom_field_create(
                    actor=user,
                    entity=row["entity"],
                    key=row["key"],
                    label=row["label"],
                    type=row["type"],
                    choices=json.loads(row["choices"] or "[]"),
                    required=False,
                    position=int(row["position"] or 0),
                )
    _sales_reference_create(user=user, archive=archive, names=names)
    jobs = []
    options = {**options_clean({"date_format": "ymd"}), "ext_prefix": EXT_PREFIX}
    for name, entity, renames, only in FULL_FILES:
        if name not in names:
            continue
        with archive.open(name) as member:
            stored = file_store(name=name, stream=member)
        fields = {k for k, _label in field_choices(entity)}
        if only is not None:
            fields &= only
        job = ImportJob.objects.create(
            entity=entity, user=user, file=stored, file_name=f"{file_name or 'export.zip'}/{name}",
            sha256=stored.sha256, options=options, status=JobStatus.QUEUED,
        )  # fmt: skip
        headers = _inspect(job)
        job.mapping = {h: renames.get(h, h) for h in headers if renames.get(h, h) in fields}
        job.save(update_fields=["mapping"])
        jobs.append(job)
    return jobs
