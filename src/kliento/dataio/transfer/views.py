"""The Data area: upload → column mapping → preview → run with live progress; exports;
the full export; personal data of a contact (access and erasure)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core.errors import KlientoError, ValidationFailedError
from kliento.core.permissions import is_admin, scope_for
from kliento.core.views import ui_errors
from kliento.customers.selectors import contact_get_for_user
from kliento.dataio.transfer import exports, privacy, selectors, services
from kliento.dataio.transfer.fields import field_choices
from kliento.dataio.transfer.models import DuplicateAction, JobStatus
from kliento.dataio.transfer.readers import check_size, human_size, max_upload_bytes
from kliento.dataio.transfer.storage import file_iter

# The contact, company and sales lists label their buttons with these (this catalogue translates
# them).
LIST_BUTTONS = (gettext_noop("Import"), gettext_noop("Export"))

DATE_FORMATS = [
    ("dmy", "31.12.2024 · 31/12/2024"),
    ("mdy", "12/31/2024"),
    ("ymd", "2024-12-31"),
]


def _context(**extra):
    return {"section": "data", **extra}


def _home_context(user, **extra) -> dict:
    imports = selectors.import_job_list(user=user)
    return _context(
        imports=imports,
        any_active=any(j.is_active for j in imports),
        exports=[
            (job, exports.export_title(job.entity)) for job in selectors.export_job_list(user=user)
        ],
        list_exports=[(e, exports.export_title(e, heading=True)) for e in exports.LIST_ENTITIES],
        entities=services.importable_entities(user),
        mappings=selectors.saved_mappings(),
        may_import=scope_for(user).may_write,
        is_admin=is_admin(user),
        max_size=human_size(max_upload_bytes()),
        **{"errors": None, **extra},
    )


@login_required
def data_home(request: HttpRequest) -> HttpResponse:
    context = _home_context(request.user, chosen_entity=request.GET.get("entity", "contacts"))
    return render(request, "transfer/data_home.html", context)


@login_required
@require_POST
def import_upload(request: HttpRequest) -> HttpResponse:
    user = request.user
    errors: dict[str, str] = {}
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    try:
        # Refused before Django reads the body: the header says how big it is.
        check_size(length)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailedError(fields={"file": _("Choose a file to import.")})
        job = services.import_create(
            user=user,
            entity=request.POST.get("entity", "contacts"),
            stream=upload,
            file_name=upload.name,
            size=upload.size,
            mapping_name=request.POST.get("mapping_name", ""),
        )
    except KlientoError as exc:
        errors = exc.fields or {"file": exc.message}
    if errors:
        context = _home_context(
            user, errors=errors, chosen_entity=request.POST.get("entity", "contacts")
        )
        return render(request, "transfer/data_home.html", context, status=422)
    return redirect("import_mapping", pk=job.pk)


def _samples(job, headers: list[str], n: int = 3) -> dict[str, list[str]]:
    preview = services.import_preview(job=job, rows=n)
    samples: dict[str, list[str]] = {h: [] for h in headers}
    for row in preview["rows"]:
        for header, value, _problem in row["cells"]:
            if value.strip():
                samples[header].append(value)
    return samples


@login_required
@ui_errors
@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get_for_user(user=request.user, pk=pk)
    if job.status != JobStatus.DRAFT:
        return redirect("import_detail", pk=job.pk)
    headers = services.import_headers(job)
    errors: dict[str, str] = {}
    if request.method == "POST":
        mapping = {h: request.POST.get(f"map-{i}", "") for i, h in enumerate(headers)}
        options = {
            "date_format": request.POST.get("date_format", "dmy"),
            "decimal": request.POST.get("decimal", "."),
            "duplicates": request.POST.get("duplicates", "merge"),
            "dry_run": request.POST.get("dry_run") == "on",
            "encoding": request.POST.get("encoding", ""),
            "delimiter": job.options.get("delimiter", ""),
        }
        try:
            job = services.import_configure(
                user=request.user,
                job=job,
                mapping=mapping,
                options=options,
                save_as=request.POST.get("save_as", ""),
            )
        except ValidationFailedError as exc:
            errors = exc.fields
            job.mapping = {h: f for h, f in mapping.items() if f}
        else:
            if request.POST.get("save_as", "").strip():
                messages.success(request, _("Mapping saved."))
            return redirect("import_preview", pk=job.pk)
    samples = _samples(job, headers)
    rows = [
        {
            "index": i,
            "header": h,
            "field": job.mapping.get(h, ""),
            "samples": samples.get(h, [])[:3],
            "error": errors.get(h, ""),
        }
        for i, h in enumerate(headers)
    ]
    return render(
        request,
        "transfer/import_mapping.html",
        _context(
            job=job,
            rows=rows,
            choices=field_choices(job.entity),
            errors=errors,
            date_formats=DATE_FORMATS,
            duplicate_actions=DuplicateAction.choices,
        ),
    )


@login_required
@ui_errors
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get_for_user(user=request.user, pk=pk)
    preview = services.import_preview(job=job, rows=20)
    bad = sum(1 for r in preview["rows"] if not r["ok"])
    labels = dict(field_choices(job.entity))
    columns = [(h, labels.get(job.mapping.get(h, ""), "")) for h in preview["headers"]]
    return render(
        request,
        "transfer/import_preview.html",
        _context(job=job, preview=preview, bad=bad, mapped=set(job.mapping), columns=columns),
    )


@login_required
@ui_errors
@require_POST
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get_for_user(user=request.user, pk=pk)
    try:
        services.import_start(user=request.user, job=job)
    except ValidationFailedError as exc:
        messages.error(request, next(iter(exc.fields.values()), exc.message))
        return redirect("import_mapping", pk=job.pk)
    return redirect("import_detail", pk=job.pk)


@login_required
@ui_errors
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get_for_user(user=request.user, pk=pk)
    services.import_cancel(user=request.user, job=job)
    return redirect("import_detail", pk=job.pk)


@login_required
@ui_errors
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get_for_user(user=request.user, pk=pk)
    context = _context(job=job, row_errors=list(job.row_errors.all()[:50]))
    if request.htmx:
        return render(request, "transfer/partials/_import_progress.html", context)
    return render(request, "transfer/import_detail.html", context)


@login_required
@ui_errors
def import_errors(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = selectors.import_job_get_for_user(user=request.user, pk=pk)
    rows = selectors.error_report_rows(job)
    header = next(rows)
    response = StreamingHttpResponse(
        exports.csv_chunks(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


# --- exports ------------------------------------------------------------------------------


@login_required
@ui_errors
def export_start(request: HttpRequest, entity: str) -> HttpResponse:
    """Choose columns and format for the list as filtered; small sets download at once,
    larger ones become a job with progress."""
    if entity not in exports.LIST_ENTITIES:
        from django.http import Http404

        raise Http404
    spec = exports.list_spec(entity)
    query_items = [
        (k, v)
        for k, v in request.GET.items()
        if k not in {"columns", "format", "go", "cursor"} and v.strip()
    ]
    query = urlencode(query_items)
    available = exports.list_columns(entity)
    if request.GET.get("go"):
        columns = request.GET.getlist("columns")
        fmt = request.GET.get("format", "csv")
        try:
            if fmt not in {"csv", "xlsx"}:
                raise ValidationFailedError(fields={"format": _("Use csv or xlsx.")})
            count = exports.count_upto(
                user=request.user, entity=entity, query=query, limit=exports.SYNC_LIMIT
            )
            if count > exports.SYNC_LIMIT:
                job = exports.export_create(
                    user=request.user, entity=entity, query=query, columns=columns, format=fmt
                )
                return redirect("export_detail", pk=job.pk)
            header, rows = exports.list_rows(
                user=request.user, entity=entity, query=query, columns=columns
            )
        except ValidationFailedError as exc:
            messages.error(request, "; ".join(exc.fields.values()) or exc.message)
            return redirect(f"{request.path}?{query}")
        stamp = f"{entity}-{timezone.localdate():%Y%m%d}"
        if fmt == "xlsx":
            response = StreamingHttpResponse(
                exports.xlsx_chunks(header, rows), content_type=exports.XLSX_TYPE
            )
            response["Content-Disposition"] = f'attachment; filename="{stamp}.xlsx"'
        else:
            response = StreamingHttpResponse(
                exports.csv_chunks(header, rows), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="{stamp}.csv"'
        return response
    return render(
        request,
        "transfer/export_start.html",
        _context(
            entity=entity,
            spec=spec,
            query=query,
            query_items=query_items,
            columns=[(key, label, key not in spec.hidden) for key, label, _get in available],
            list_url=spec.list_url,
        ),
    )


@login_required
@ui_errors
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.export_job_get_for_user(user=request.user, pk=pk)
    if request.htmx:
        return render(request, "transfer/partials/_export_progress.html", _context(job=job))
    return render(
        request,
        "transfer/export_detail.html",
        _context(job=job, heading=exports.export_title(job.entity, heading=True)),
    )


@login_required
@ui_errors
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.export_job_get_for_user(user=request.user, pk=pk)
    if job.status != JobStatus.DONE or job.file is None:
        return redirect("export_detail", pk=job.pk)
    response = StreamingHttpResponse(
        file_iter(job.file), content_type=job.file.content_type or "application/octet-stream"
    )
    response["Content-Length"] = str(job.file.size)
    response["Content-Disposition"] = f'attachment; filename="{job.file.name}"'
    return response


@login_required
@ui_errors
@require_POST
def full_export(request: HttpRequest) -> HttpResponse:
    job = exports.export_create(user=request.user, entity="full")
    return redirect("export_detail", pk=job.pk)


# --- personal data ------------------------------------------------------------------------


@login_required
@ui_errors
def contact_personal_data(request: HttpRequest, pk: int) -> HttpResponse:
    data = privacy.contact_personal_data(user=request.user, pk=pk)
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="contact-{pk}-personal-data.json"'
    return response


@login_required
@ui_errors
@require_http_methods(["GET", "POST"])
def contact_erase(request: HttpRequest, pk: int) -> HttpResponse:
    contact = contact_get_for_user(user=request.user, pk=pk, for_write=True)
    if not is_admin(request.user):
        from kliento.core.errors import PermissionDeniedError

        raise PermissionDeniedError(_("Only administrators erase personal data."))
    if request.method == "POST":
        privacy.contact_erase(user=request.user, pk=pk)
        messages.success(request, _("The contact's personal data was erased."))
        return redirect("contact_detail", pk=pk)
    return render(
        request, "transfer/contact_erase.html", _context(contact=contact, section="contacts")
    )


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)
