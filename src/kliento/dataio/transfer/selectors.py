"""Reads of import and export jobs: a user sees their own jobs; an administrator sees all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError
from kliento.core.models import User
from kliento.core.permissions import is_admin
from kliento.customers.selectors import parse_id
from kliento.dataio.transfer.engine import job_source
from kliento.dataio.transfer.models import ExportJob, ImportJob, ImportRowError, SavedMapping
from kliento.dataio.transfer.readers import ImportFileError


def import_job_qs(user: User) -> QuerySet[ImportJob]:
    qs = ImportJob.objects.select_related("user")
    return qs if is_admin(user) else qs.filter(user=user)


def import_job_get_for_user(*, user: User, pk: Any) -> ImportJob:
    pk = parse_id(pk)
    job = import_job_qs(user).filter(pk=pk).first() if pk else None
    if job is None:
        raise NotFoundError()
    return job


def import_job_list(*, user: User, limit: int = 20) -> list[ImportJob]:
    return list(import_job_qs(user).exclude(entity__in=["links", "consents"])[:limit])


def export_job_qs(user: User) -> QuerySet[ExportJob]:
    qs = ExportJob.objects.select_related("user", "file")
    return qs if is_admin(user) else qs.filter(user=user)


def export_job_get_for_user(*, user: User, pk: Any) -> ExportJob:
    pk = parse_id(pk)
    job = export_job_qs(user).filter(pk=pk).first() if pk else None
    if job is None:
        raise NotFoundError()
    return job


def export_job_list(*, user: User, limit: int = 10) -> list[ExportJob]:
    return list(export_job_qs(user)[:limit])


def saved_mappings(*, entity: str | None = None) -> list[SavedMapping]:
    qs = SavedMapping.objects.all()
    return list(qs.filter(entity=entity) if entity else qs)


# Reasons about the whole row, not one column: their message alone.
ROW_KEYS = {"row", "duplicate"}


def error_report_rows(job: ImportJob) -> Iterator[list[str]]:
    """The error report: row number, what happened, the reason per column, then the row's
    original cells under the file's own headers."""
    headers: list[str] = []
    try:
        with job_source(job) as source:
            headers = source.headers
    except (ImportFileError, OSError):
        headers = []
    yield [_("Row"), _("Problem"), _("Reason"), *headers]
    errors = ImportRowError.objects.filter(job=job).order_by("row", "id")
    for error in errors.iterator(chunk_size=2000):
        reason = "; ".join(v if k in ROW_KEYS else f"{k}: {v}" for k, v in error.reasons.items())
        yield [str(error.row), error.get_kind_display(), reason, *[str(v) for v in error.values]]
