"""/api/v1 endpoints for import and export.

Imports: `POST /imports` takes the file as multipart/form-data (field `file`) with the fields
`entity` (contacts, companies, interactions, leads, deals, products — catalogue editors only —
or orders, one row per order line), and optionally `mapping` (JSON object header → field),
`mapping_name` (a saved mapping), `options` (JSON object: date_format dmy|mdy|ymd, decimal .
or ,, duplicates merge|skip|flag, dry_run, encoding, delimiter) and `start` (default true).
Multipart streams a large file to disk instead of holding a base64 copy in memory. The answer is
the job (201); poll `GET /imports/{id}` for progress; `GET /imports/{id}/errors` is the error
report as CSV. Without `start`, the job waits: read `GET /imports/{id}/preview`, adjust with
`PUT /imports/{id}/mapping`, then `POST /imports/{id}/start`.
"""

import json

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import File, Form, Path, Query, Router, Status
from ninja.files import UploadedFile

from kliento.core.errors import ValidationFailedError
from kliento.core.schemas import Cursor, ErrorOut, Id
from kliento.customers.selectors import keyset_page
from kliento.dataio.transfer import exports, privacy, selectors, services
from kliento.dataio.transfer.readers import check_size
from kliento.dataio.transfer.schemas import (
    ErasedOut,
    ExportIn,
    ExportOut,
    ImportConfigureIn,
    ImportOut,
    ImportPage,
    PreviewOut,
)
from kliento.dataio.transfer.storage import file_iter

router = Router(tags=["import and export"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
ORDER = [("created_at", True, "dt"), ("id", True, "int")]


def _json_field(raw: str, name: str) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValidationFailedError(fields={name: _("Expected a JSON object.")})
    return value


@router.post("/imports", response={201: ImportOut, **ERRORS})
def import_create(
    request: HttpRequest,
    file: File[UploadedFile],
    entity: Form[str],
    mapping: Form[str] = "",
    mapping_name: Form[str] = "",
    options: Form[str] = "",
    start: Form[bool] = True,
):
    check_size(file.size)
    mapping_data = _json_field(mapping, "mapping") if mapping else None
    job = services.import_create(
        user=request.auth,
        entity=entity,
        stream=file,
        file_name=file.name or "upload",
        size=file.size,
        options=_json_field(options, "options"),
        mapping=mapping_data,
        mapping_name=mapping_name,
    )
    if start:
        job = services.import_start(user=request.auth, job=job)
    job.refresh_from_db()
    return Status(201, job)


@router.get("/imports", response={200: ImportPage, **ERRORS})
def import_list(request: HttpRequest, page: Query[Cursor]):
    """Your imports (all imports for an administrator), newest first."""
    return keyset_page(selectors.import_job_qs(request.auth), ORDER, page.cursor, page.limit)


@router.get("/imports/{id}", response={200: ImportOut, **ERRORS})
def import_detail(request: HttpRequest, id: Path[Id]):
    return selectors.import_job_get_for_user(user=request.auth, pk=id)


@router.get("/imports/{id}/preview", response={200: PreviewOut, **ERRORS})
def import_preview(request: HttpRequest, id: Path[Id]):
    job = selectors.import_job_get_for_user(user=request.auth, pk=id)
    preview = services.import_preview(job=job)
    return {
        "headers": preview["headers"],
        "rows": [
            {
                "row": r["number"],
                "ok": r["ok"],
                "problem": r["row_problem"],
                "cells": [{"column": h, "value": v, "problem": p} for h, v, p in r["cells"]],
            }
            for r in preview["rows"]
        ],
    }


@router.put("/imports/{id}/mapping", response={200: ImportOut, **ERRORS})
def import_configure(request: HttpRequest, id: Path[Id], payload: ImportConfigureIn):
    job = selectors.import_job_get_for_user(user=request.auth, pk=id)
    return services.import_configure(
        user=request.auth,
        job=job,
        mapping=payload.mapping,
        options=payload.options,
        save_as=payload.save_as,
    )


@router.post("/imports/{id}/start", response={200: ImportOut, **ERRORS})
def import_start(request: HttpRequest, id: Path[Id]):
    job = selectors.import_job_get_for_user(user=request.auth, pk=id)
    services.import_start(user=request.auth, job=job)
    job.refresh_from_db()
    return job


@router.post("/imports/{id}/cancel", response={200: ImportOut, **ERRORS})
def import_cancel(request: HttpRequest, id: Path[Id]):
    job = selectors.import_job_get_for_user(user=request.auth, pk=id)
    return services.import_cancel(user=request.auth, job=job)


@router.get("/imports/{id}/errors", response={200: None, **ERRORS})
def import_errors(request: HttpRequest, id: Path[Id]):
    """The error report as CSV: row number, problem, reason per column, original cells."""
    job = selectors.import_job_get_for_user(user=request.auth, pk=id)
    return _errors_response(job)


def _errors_response(job) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        exports.csv_chunks(*_split(selectors.error_report_rows(job))),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


def _split(rows):
    header = next(rows)
    return header, rows


def _export_out(request: HttpRequest, job) -> dict:
    data = ExportOut.from_orm(job).dict()
    if job.status == "done" and job.file_id:
        data["download_url"] = request.build_absolute_uri(
            reverse("api:export_file", kwargs={"id": job.pk})
        )
    return data


@router.post("/exports", response={202: ExportOut, **ERRORS})
def export_create(request: HttpRequest, payload: ExportIn):
    """Export a list as the list shows it — contacts, companies, leads, deals, orders (one row
    per order line) or products; `query`: the list's filters and sort, `columns`: column keys —
    or the company's full data (`entity: full`, administrators). The export runs as a job;
    poll it."""
    job = exports.export_create(
        user=request.auth,
        entity=payload.entity,
        query=payload.query,
        columns=payload.columns,
        format=payload.format,
    )
    job.refresh_from_db()
    return Status(202, _export_out(request, job))


@router.get("/exports", response={200: list[ExportOut], **ERRORS})
def export_list(request: HttpRequest):
    return [_export_out(request, j) for j in selectors.export_job_list(user=request.auth, limit=50)]


@router.get("/exports/{id}", response={200: ExportOut, **ERRORS})
def export_detail(request: HttpRequest, id: Path[Id]):
    return _export_out(request, selectors.export_job_get_for_user(user=request.auth, pk=id))


@router.get("/exports/{id}/file", response={200: None, **ERRORS}, url_name="export_file")
def export_file(request: HttpRequest, id: Path[Id]):
    job = selectors.export_job_get_for_user(user=request.auth, pk=id)
    return download_response(job)


def download_response(job) -> StreamingHttpResponse:
    from kliento.core.errors import NotFoundError

    if job.status != "done" or job.file is None:
        raise NotFoundError(_("The export is not ready yet."))
    response = StreamingHttpResponse(
        file_iter(job.file), content_type=job.file.content_type or "application/octet-stream"
    )
    response["Content-Length"] = str(job.file.size)
    response["Content-Disposition"] = f'attachment; filename="{job.file.name}"'
    return response


@router.get("/contacts/{id}/personal-data", response={200: dict, **ERRORS}, tags=["contacts"])
def contact_personal_data(request: HttpRequest, id: Path[Id]):
    """Everything held about one contact (right of access)."""
    return privacy.contact_personal_data(user=request.auth, pk=id)


@router.post("/contacts/{id}/erase", response={200: ErasedOut, **ERRORS}, tags=["contacts"])
def contact_erase(request: HttpRequest, id: Path[Id]):
    """Erase a contact's personal data for good (administrators); aggregates are kept."""
    contact = privacy.contact_erase(user=request.auth, pk=id)
    return {"id": contact.pk, "erased": True}
