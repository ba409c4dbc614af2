"""Exports: a list as the user sees it (CSV or XLSX, streamed or as a job), the company's full
data as a ZIP of CSVs that the import reads back, and CSV-injection-safe cells everywhere.

A list export pages through the list's own selector (`customers.selectors.contact_list` /
`company_list`) with the list's own query parameters, so filters, sorting and visibility are
exactly the list's; nothing is read around it.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

from django.apps import apps
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kliento.core.errors import PermissionDeniedError, ValidationFailedError
from kliento.core.models import AuditLog, CustomField, Team, User
from kliento.core.permissions import is_admin
from kliento.core.services import audit_record
from kliento.customers import selectors
from kliento.customers.models import (
    Company,
    Consent,
    Contact,
    ContactCompany,
    Interaction,
    tags_from_db,
)
from kliento.customers.normalize import format_phone
from kliento.dataio.transfer.models import ExportJob, JobStatus
from kliento.dataio.transfer.storage import ChunkWriter

SYNC_LIMIT = 10_000
PAGE = 200
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
LIST_ENTITIES = {"contacts", "companies"}


def safe_cell(value: Any) -> str:
    """Text for a CSV cell; a leading = + - @ tab or CR gets a single quote so a spreadsheet
    never runs it as a formula (CSV injection)."""
    text = _text(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def unescape_cell(text: str) -> str:
    """Undo `safe_cell` on import: "'=1+1" read back is "=1+1"."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "; ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# --- list columns -------------------------------------------------------------------------


def _custom(key: str):
    return lambda obj, extra: (obj.custom or {}).get(key)


CONTACT_COLUMNS: list[tuple[str, Any, Callable]] = [
    ("id", gettext_lazy("Id"), lambda c, x: c.pk),
    ("last_name", gettext_lazy("Last name"), lambda c, x: c.last_name),
    ("first_name", gettext_lazy("First name"), lambda c, x: c.first_name),
    ("middle_name", gettext_lazy("Middle name"), lambda c, x: c.middle_name),
    ("email", gettext_lazy("Email"), lambda c, x: c.emails),
    ("phone", gettext_lazy("Phone"), lambda c, x: [format_phone(p) for p in c.phones]),
    ("company", gettext_lazy("Company"), lambda c, x: x.get("companies", {}).get(c.pk, [])),
    ("lifecycle_stage", gettext_lazy("Stage"), lambda c, x: c.get_lifecycle_stage_display()),
    ("city", gettext_lazy("City"), lambda c, x: c.city),
    ("region", gettext_lazy("Region"), lambda c, x: c.region),
    ("country", gettext_lazy("Country"), lambda c, x: c.country),
    ("birth_date", gettext_lazy("Birth date"), lambda c, x: c.birth_date),
    ("tags", gettext_lazy("Tags"), lambda c, x: ", ".join(tags_from_db(c.tags))),
    ("owner", gettext_lazy("Owner"), lambda c, x: c.owner.username),
    ("created_at", gettext_lazy("Created"), lambda c, x: c.created_at),
    ("updated_at", gettext_lazy("Updated"), lambda c, x: c.updated_at),
]
COMPANY_COLUMNS: list[tuple[str, Any, Callable]] = [
    ("id", gettext_lazy("Id"), lambda c, x: c.pk),
    ("name", gettext_lazy("Name"), lambda c, x: c.name),
    ("legal_name", gettext_lazy("Legal name"), lambda c, x: c.legal_name),
    ("tax_id", gettext_lazy("Tax id"), lambda c, x: c.tax_id),
    ("industry", gettext_lazy("Industry"), lambda c, x: c.industry),
    ("size", gettext_lazy("Size"), lambda c, x: c.size),
    ("city", gettext_lazy("City"), lambda c, x: c.city),
    ("region", gettext_lazy("Region"), lambda c, x: c.region),
    ("country", gettext_lazy("Country"), lambda c, x: c.country),
    ("website", gettext_lazy("Website"), lambda c, x: c.website),
    ("email", gettext_lazy("Email"), lambda c, x: c.emails),
    ("phone", gettext_lazy("Phone"), lambda c, x: [format_phone(p) for p in c.phones]),
    ("tags", gettext_lazy("Tags"), lambda c, x: ", ".join(tags_from_db(c.tags))),
    ("owner", gettext_lazy("Owner"), lambda c, x: c.owner.username),
    ("created_at", gettext_lazy("Created"), lambda c, x: c.created_at),
    ("updated_at", gettext_lazy("Updated"), lambda c, x: c.updated_at),
]


def list_columns(entity: str) -> list[tuple[str, str, Callable]]:
    base = CONTACT_COLUMNS if entity == "contacts" else COMPANY_COLUMNS
    custom_entity = "contact" if entity == "contacts" else "company"
    return [*base] + [
        (f"custom.{f.key}", f.label, _custom(f.key))
        for f in CustomField.objects.filter(entity=custom_entity)
    ]


DEFAULT_HIDDEN = {"middle_name", "region", "country", "birth_date", "legal_name", "updated_at"}


def parse_list_query(query: str) -> tuple[dict[str, str], str]:
    """Filters and sort from a list's query string (as the list view reads them)."""
    filters: dict[str, str] = {}
    sort = "name"
    for key, value in parse_qsl(query or "", keep_blank_values=False):
        value = value.strip()
        if key == "sort":
            sort = value or "name"
        elif key in {"cursor", "limit", "format", "columns", "page"} or not value:
            continue
        else:
            filters[key] = value
    return filters, sort


def _list_fn(entity: str):
    if entity not in LIST_ENTITIES:
        raise ValidationFailedError(fields={"entity": _("Use contacts or companies.")})
    return selectors.contact_list if entity == "contacts" else selectors.company_list


def iter_list(*, user: User, entity: str, query: str) -> Iterator[list[Any]]:
    """Pages of the list exactly as the user sees it (selector, filters, sort, visibility)."""
    list_fn = _list_fn(entity)
    filters, sort = parse_list_query(query)
    cursor = None
    while True:
        page = list_fn(user=user, filters=filters, sort=sort, cursor=cursor, limit=PAGE)
        if page.items:
            yield page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def count_upto(*, user: User, entity: str, query: str, limit: int) -> int:
    """How many rows the list has, counting no further than `limit` (then returns limit+1)."""
    total = 0
    for items in iter_list(user=user, entity=entity, query=query):
        total += len(items)
        if total > limit:
            return limit + 1
    return total


def _choose(entity: str, columns: list[str] | None) -> list[tuple[str, str, Callable]]:
    available = list_columns(entity)
    if not columns:
        return [c for c in available if c[0] not in DEFAULT_HIDDEN]
    known = {c[0]: c for c in available}
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ValidationFailedError(
            fields={"columns": _("Unknown column %(name)s.") % {"name": repr(unknown[0])}}
        )
    return [known[c] for c in columns]


def _extra(entity: str, items: list) -> dict:
    if entity != "contacts":
        return {}
    companies: dict[int, list[str]] = {}
    for contact_id, name in ContactCompany.objects.filter(
        contact_id__in=[c.pk for c in items]
    ).values_list("contact_id", "company__name"):
        companies.setdefault(contact_id, []).append(name)
    return {"companies": companies}


def list_rows(
    *, user: User, entity: str, query: str, columns: list[str] | None
) -> tuple[list[str], Iterator[list[Any]]]:
    chosen = _choose(entity, columns)
    header = [str(label) for _key, label, _get in chosen]

    def rows():
        for items in iter_list(user=user, entity=entity, query=query):
            extra = _extra(entity, items)
            for obj in items:
                yield [get(obj, extra) for _key, _label, get in chosen]

    return header, rows()


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """CSV as UTF-8 with BOM (Excel opens it right), one chunk per 500 rows."""
    writer = csv.writer(_Echo())
    yield ("\ufeff" + writer.writerow([safe_cell(h) for h in header])).encode()
    buffer: list[str] = []
    for row in rows:
        buffer.append(writer.writerow([safe_cell(v) for v in row]))
        if len(buffer) >= 500:
            yield "".join(buffer).encode()
            buffer.clear()
    if buffer:
        yield "".join(buffer).encode()


def _xlsx_value(value: Any):
    if value is None:
        return None
    if isinstance(value, datetime):
        return timezone.make_naive(value) if timezone.is_aware(value) else value
    if isinstance(value, bool | int | float | date):
        return value
    return _text(value)


def xlsx_write(fileobj, header: list[str], rows: Iterable[list[Any]], progress=None) -> None:
    """An .xlsx in openpyxl's write-only mode (rows go out as written, constant memory).
    Text is written as text cells, never as formulas."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet()

    def cells(values):
        result = []
        for value in values:
            value = _xlsx_value(value)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # "=HYPERLINK(…)" stays text
            result.append(cell)
        return result

    sheet.append(cells(header))
    for n, row in enumerate(rows, 1):
        sheet.append(cells(row))
        if progress and n % 1000 == 0:
            progress(n)
    book.save(fileobj)


def xlsx_chunks(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """Build the workbook in a temporary file (a zip needs its end written last), then stream."""
    with tempfile.TemporaryFile() as tmp:
        xlsx_write(tmp, header, rows)
        tmp.seek(0)
        while True:
            piece = tmp.read(256 * 1024)
            if not piece:
                return
            yield piece


# --- export jobs --------------------------------------------------------------------------


@transaction.atomic
def export_create(
    *,
    user: User,
    entity: str,
    query: str = "",
    columns: list[str] | None = None,
    format: str = "csv",
) -> ExportJob:
    if entity == "full":
        if not is_admin(user):
            raise PermissionDeniedError(_("Only administrators export all of the company's data."))
    else:
        _list_fn(entity)
        _choose(entity, columns)
        filters, sort = parse_list_query(query)
        _list_fn(entity)(user=user, filters=filters, sort=sort, limit=1)  # validate now
    if format not in {"csv", "xlsx"} or (entity == "full" and format != "csv"):
        raise ValidationFailedError(fields={"format": _("Use csv or xlsx.")})
    job = ExportJob.objects.create(
        entity=entity, format=format, query=query[:2000], columns=columns or [], user=user
    )
    from kliento.dataio.transfer.tasks import run_export

    transaction.on_commit(lambda: run_export(job.pk))
    return job


def export_run(*, job_id: int) -> ExportJob:
    job = ExportJob.objects.select_related("user").get(pk=job_id)
    if job.status in {JobStatus.DONE, JobStatus.CANCELLED}:
        return job
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, processed=0)

    def progress(n: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(processed=n)

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    try:
        if job.entity == "full":
            writer = ChunkWriter(f"kliento-export-{stamp}.zip", "application/zip")
            full_export_write(writer, user=job.user, progress=progress)
        else:
            total = count_upto(user=job.user, entity=job.entity, query=job.query, limit=10**9)
            ExportJob.objects.filter(pk=job.pk).update(total=total)
            header, rows = list_rows(
                user=job.user, entity=job.entity, query=job.query, columns=job.columns or None
            )
            counted = _Counted(rows, progress)
            name = f"{job.entity}-{stamp}.{job.format}"
            if job.format == "xlsx":
                writer = ChunkWriter(name, XLSX_TYPE)
                xlsx_write(writer, header, counted)
            else:
                writer = ChunkWriter(name, "text/csv")
                for piece in csv_chunks(header, counted):
                    writer.write(piece)
        writer.close()
    except Exception as exc:
        ExportJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, message=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    ExportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE, file=writer.stored, finished_at=timezone.now()
    )
    job.refresh_from_db()
    ExportJob.objects.filter(pk=job.pk).update(total=job.processed or job.total)
    audit_record(
        user=job.user,
        action=AuditLog.Action.CREATE,
        entity="export",
        obj=job,
        changes={"entity": [None, job.entity], "rows": [None, job.processed]},
    )
    job.refresh_from_db()
    return job


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Counted:
    def __init__(self, rows, progress):
        self.rows, self.progress, self.n = rows, progress, 0

    def __iter__(self):
        for row in self.rows:
            self.n += 1
            if self.n % 1000 == 0:
                self.progress(self.n)
            yield row
        self.progress(self.n)


# --- the full export ----------------------------------------------------------------------

FULL_CONTACT_FIELDS = [
    "id", "first_name", "middle_name", "last_name", "emails", "phones", "birth_date", "gender",
    "language", "country", "region", "city", "tags", "lifecycle_stage", "preferred_channel",
    "preferences", "owner", "created_at",
]  # fmt: skip
FULL_COMPANY_FIELDS = [
    "id", "name", "legal_name", "tax_id", "industry", "size", "country", "region", "city",
    "address", "postal_address", "website", "emails", "phones", "tags", "owner", "created_at",
]  # fmt: skip
FULL_INTERACTION_FIELDS = [
    "id", "kind", "channel", "direction", "occurred_at", "subject", "body", "outcome",
    "duration_seconds", "contact_id", "company_id", "user",
]  # fmt: skip
SALES_APPS = ("leads", "deals", "catalog", "quotes", "orders", "plans")


def _full_value(obj, name: str, users: dict[int, str]) -> Any:
    if name == "owner":
        return users.get(obj.owner_id, "")
    if name == "user":
        return users.get(obj.user_id, "") if obj.user_id else ""
    if name == "tags":
        return ", ".join(tags_from_db(obj.tags))
    if name == "id":
        return obj.pk
    value = getattr(obj, name)
    if isinstance(value, list):
        return "; ".join(value)
    return value


def _custom_export(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return _text(value)


def full_export_write(fileobj, *, user: User, progress=None) -> dict[str, int]:
    """Every entity as CSVs in one ZIP (ids and relations kept); returns rows per file."""
    if not is_admin(user):
        raise PermissionDeniedError(_("Only administrators export all of the company's data."))
    users = dict(User.objects.values_list("id", "username"))
    counts: dict[str, int] = {}
    done = 0

    def write(zf: zipfile.ZipFile, name: str, header: list[str], rows: Iterable[list[Any]]):
        nonlocal done
        n = 0
        with zf.open(name, "w", force_zip64=True) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(header)
            for row in rows:
                writer.writerow([safe_cell(v) for v in row])
                n += 1
                done += 1
                if progress and done % 1000 == 0:
                    progress(done)
            text.flush()
            text.detach()
        counts[name] = n

    custom = {
        e: [f.key for f in CustomField.objects.filter(entity=e)] for e in ("contact", "company")
    }
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        write(
            zf,
            "teams.csv",
            ["id", "name", "parent_id", "path"],
            ([t.pk, t.name, t.parent_id, t.path] for t in Team.objects.order_by("id").iterator()),
        )
        write(
            zf,
            "users.csv",
            [
                "id",
                "username",
                "first_name",
                "last_name",
                "email",
                "role",
                "team_id",
                "language",
                "is_active",
            ],
            (
                [
                    u.pk,
                    u.username,
                    u.first_name,
                    u.last_name,
                    u.email,
                    u.role,
                    u.team_id,
                    u.language,
                    u.is_active,
                ]
                for u in User.objects.order_by("id").iterator()
            ),
        )
        write(
            zf,
            "custom_fields.csv",
            ["entity", "key", "label", "type", "choices", "required", "position"],
            (
                [
                    f.entity,
                    f.key,
                    f.label,
                    f.type,
                    json.dumps(f.choices, ensure_ascii=False),
                    f.required,
                    f.position,
                ]
                for f in CustomField.objects.order_by("id")
            ),
        )
        write(
            zf,
            "companies.csv",
            FULL_COMPANY_FIELDS + [f"custom.{k}" for k in custom["company"]],
            (
                [_full_value(c, n, users) for n in FULL_COMPANY_FIELDS]
                + [_custom_export((c.custom or {}).get(k)) for k in custom["company"]]
                for c in Company.objects.order_by("id").iterator(chunk_size=2000)
            ),
        )
        write(
            zf,
            "contacts.csv",
            FULL_CONTACT_FIELDS + [f"custom.{k}" for k in custom["contact"]],
            (
                [_full_value(c, n, users) for n in FULL_CONTACT_FIELDS]
                + [_custom_export((c.custom or {}).get(k)) for k in custom["contact"]]
                for c in Contact.objects.order_by("id").iterator(chunk_size=2000)
            ),
        )
        write(
            zf,
            "links.csv",
            ["contact_id", "company_id", "role", "title", "is_primary"],
            (
                [link.contact_id, link.company_id, link.role, link.title, link.is_primary]
                for link in ContactCompany.objects.order_by("id").iterator(chunk_size=5000)
            ),
        )
        write(
            zf,
            "consents.csv",
            ["contact_id", "channel", "status", "at", "source"],
            (
                [c.contact_id, c.channel, c.status, c.at, c.source]
                for c in Consent.objects.order_by("id").iterator(chunk_size=5000)
            ),
        )
        write(
            zf,
            "interactions.csv",
            FULL_INTERACTION_FIELDS,
            (
                [_full_value(i, n, users) for n in FULL_INTERACTION_FIELDS]
                for i in Interaction.objects.order_by("id").iterator(chunk_size=2000)
            ),
        )
        for label in SALES_APPS:
            try:
                config = apps.get_app_config(label)
            except LookupError:
                continue
            for model in config.get_models():
                fields = [f.attname for f in model._meta.concrete_fields]
                write(
                    zf,
                    f"{label}/{model._meta.model_name}.csv",
                    fields,
                    (
                        list(row)
                        for row in model.objects.order_by("pk").values_list(*fields).iterator()
                    ),
                )
        manifest = {
            "format": "kliento-full-export",
            "version": 1,
            "exported_at": timezone.now().isoformat(),
            "files": counts,
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    if progress:
        progress(done)
    return counts
