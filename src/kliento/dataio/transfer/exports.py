"""Exports: a list as the user sees it (CSV or XLSX, streamed or as a job), the company's full
data as a ZIP of CSVs that the import reads back, and CSV-injection-safe cells everywhere.

A list export pages through the list's own selector (`customers.selectors.contact_list` /
`company_list`) with the list's own query parameters, so filters, sorting and visibility are
exactly the list's; nothing is read around it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from django.apps import apps
from django.db import transaction
from django.db.models import Q
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
from kliento.sales.catalog.models import CurrencyRate, PriceList, PriceListItem, Product
from kliento.sales.deals.models import Deal, LossReason, Pipeline, Stage
from kliento.sales.leads.models import Lead
from kliento.sales.orders.models import Order, OrderLine

SYNC_LIMIT = 10_000
PAGE = 200
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


# The sales lists. Headers are the import's own field names (English or Russian), so an export
# re-imports through the same screen with its columns guessed.


def _owner(obj, x):
    return obj.owner.username if obj.owner_id else ""


def _contact_name(obj) -> str:
    return obj.contact.full_name if obj.contact_id else ""


def _contact_email(obj) -> str:
    return obj.contact.email if obj.contact_id else ""


def _company_name(obj) -> str:
    return obj.company.name if obj.company_id else ""


def _phone(value: str) -> str:
    return format_phone(value) if value else ""


LEAD_COLUMNS: list[tuple[str, Any, Callable]] = [
    ("id", gettext_lazy("Id"), lambda o, x: o.pk),
    ("last_name", gettext_lazy("Last name"), lambda o, x: o.last_name),
    ("first_name", gettext_lazy("First name"), lambda o, x: o.first_name),
    ("company_name", gettext_lazy("Company"), lambda o, x: o.company_name),
    ("job_title", gettext_lazy("Job title"), lambda o, x: o.job_title),
    ("email", gettext_lazy("Email"), lambda o, x: o.email),
    ("phone", gettext_lazy("Phone"), lambda o, x: _phone(o.phone)),
    ("country", gettext_lazy("Country"), lambda o, x: o.country),
    ("region", gettext_lazy("Region"), lambda o, x: o.region),
    ("city", gettext_lazy("City"), lambda o, x: o.city),
    ("website", gettext_lazy("Website"), lambda o, x: o.website),
    ("message", gettext_lazy("Message"), lambda o, x: o.message),
    ("status", gettext_lazy("Status"), lambda o, x: o.get_status_display()),
    ("score", gettext_lazy("Score"), lambda o, x: o.score),
    ("source", gettext_lazy("Source"), lambda o, x: o.get_source_display()),
    ("channel", gettext_lazy("Channel"), lambda o, x: o.get_channel_display()),
    ("campaign", gettext_lazy("Campaign"), lambda o, x: o.campaign),
    *[
        (utm, utm, lambda o, x, utm=utm: getattr(o, utm))
        for utm in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
    ],
    ("referrer", gettext_lazy("Referrer"), lambda o, x: o.referrer),
    ("tags", gettext_lazy("Tags"), lambda o, x: ", ".join(tags_from_db(o.tags))),
    ("owner", gettext_lazy("Owner"), _owner),
    ("created_at", gettext_lazy("Created"), lambda o, x: o.created_at),
]
DEAL_COLUMNS: list[tuple[str, Any, Callable]] = [
    ("id", gettext_lazy("Id"), lambda o, x: o.pk),
    ("name", gettext_lazy("Name"), lambda o, x: o.name),
    ("pipeline", gettext_lazy("Pipeline"), lambda o, x: o.pipeline.name),
    ("stage", gettext_lazy("Stage"), lambda o, x: o.stage.name),
    ("status", gettext_lazy("Status"), lambda o, x: o.get_status_display()),
    ("amount", gettext_lazy("Amount"), lambda o, x: o.amount),
    ("currency", gettext_lazy("Currency"), lambda o, x: o.currency),
    ("expected_close", gettext_lazy("Expected close date"), lambda o, x: o.expected_close),
    ("probability", gettext_lazy("Probability, %"), lambda o, x: o.stage.probability),
    ("forecast_category", gettext_lazy("Forecast"), lambda o, x: o.get_forecast_category_display()),
    ("company", gettext_lazy("Company"), lambda o, x: _company_name(o)),
    ("contact", gettext_lazy("Contact name"), lambda o, x: _contact_name(o)),
    ("contact_email", gettext_lazy("Contact email"), lambda o, x: _contact_email(o)),
    ("owner", gettext_lazy("Owner"), _owner),
    ("loss_reason", gettext_lazy("Loss reason"), lambda o, x: x["reasons"].get(o.loss_reason_id)),
    ("loss_note", gettext_lazy("Loss note"), lambda o, x: o.loss_note),
    ("source", gettext_lazy("Source"), lambda o, x: o.source),
    ("next_step", gettext_lazy("Next step"), lambda o, x: o.next_step),
    ("created_at", gettext_lazy("Created"), lambda o, x: o.created_at),
    ("updated_at", gettext_lazy("Updated"), lambda o, x: o.updated_at),
    ("closed_at", gettext_lazy("Closed"), lambda o, x: o.closed_at),
]  # fmt: skip


def _order(get: Callable) -> Callable:
    return lambda pair, x: get(pair[0])


def _line(get: Callable) -> Callable:
    return lambda pair, x: get(pair[1]) if pair[1] is not None else None


# One row per order line (an order without lines is one row): the order import's own shape.
ORDER_COLUMNS: list[tuple[str, Any, Callable]] = [
    ("number", gettext_lazy("Order number"), _order(lambda o: o.number)),
    ("ordered_at", gettext_lazy("Order date"), _order(lambda o: o.ordered_at)),
    ("status", gettext_lazy("Status"), _order(lambda o: o.get_status_display())),
    ("channel", gettext_lazy("Channel"), _order(lambda o: o.get_channel_display())),
    ("currency", gettext_lazy("Currency"), _order(lambda o: o.currency)),
    ("contact", gettext_lazy("Contact name"), _order(_contact_name)),
    ("contact_email", gettext_lazy("Contact email"), _order(_contact_email)),
    ("company", gettext_lazy("Company"), _order(_company_name)),
    ("owner", gettext_lazy("Owner"), _order(lambda o: o.owner.username)),
    ("sku", gettext_lazy("Product SKU"), _line(lambda li: li.product.sku if li.product_id else "")),
    ("product", gettext_lazy("Product name"), _line(lambda li: li.description)),
    ("quantity", gettext_lazy("Quantity"), _line(lambda li: li.quantity)),
    ("price", gettext_lazy("Price"), _line(lambda li: li.price)),
    ("discount", gettext_lazy("Discount"), _line(lambda li: li.discount)),
    ("tax_rate", gettext_lazy("Tax rate, %"), _line(lambda li: li.tax_rate)),
    ("net", gettext_lazy("Line amount"), _line(lambda li: li.net)),
    ("cost", gettext_lazy("Unit cost"), _line(lambda li: li.cost)),
    ("total", gettext_lazy("Order total"), _order(lambda o: o.total)),
    ("note", gettext_lazy("Note"), _order(lambda o: o.note)),
]  # fmt: skip
PRODUCT_COLUMNS: list[tuple[str, Any, Callable]] = [
    ("id", gettext_lazy("Id"), lambda o, x: o.pk),
    ("sku", gettext_lazy("SKU"), lambda o, x: o.sku),
    ("name", gettext_lazy("Name"), lambda o, x: o.name),
    ("category", gettext_lazy("Category"), lambda o, x: o.category),
    ("unit", gettext_lazy("Unit"), lambda o, x: o.unit),
    ("description", gettext_lazy("Description"), lambda o, x: o.description),
    ("cost", gettext_lazy("Cost"), lambda o, x: o.cost),
    ("tax_rate", gettext_lazy("Tax rate, %"), lambda o, x: o.tax_rate),
    ("active", gettext_lazy("Active"), lambda o, x: o.active),
    ("created_at", gettext_lazy("Created"), lambda o, x: o.created_at),
    ("updated_at", gettext_lazy("Updated"), lambda o, x: o.updated_at),
]


def _contact_extra(items: list) -> dict:
    companies: dict[int, list[str]] = {}
    for contact_id, name in ContactCompany.objects.filter(
        contact_id__in=[c.pk for c in items]
    ).values_list("contact_id", "company__name"):
        companies.setdefault(contact_id, []).append(name)
    return {"companies": companies}


def _deal_extra(items: list) -> dict:
    ids = {d.loss_reason_id for d in items} - {None}
    return {"reasons": dict(LossReason.objects.filter(pk__in=ids).values_list("id", "name"))}


def _order_rows(items: list) -> list:
    """(order, line) pairs in the order's own line order; (order, None) for an order without
    lines."""
    lines: dict[int, list] = {}
    for line in (
        OrderLine.objects.filter(order_id__in=[o.pk for o in items])
        .select_related("product")
        .order_by("order_id", "position", "id")
    ):
        lines.setdefault(line.order_id, []).append(line)
    return [(o, line) for o in items for line in (lines.get(o.pk) or [None])]


def _order_page(*, user, filters, sort, cursor=None, limit=PAGE):
    """The order list's page without its grand totals (summed over the whole list on every
    page, once per export page is too often)."""
    from kliento.sales.orders.selectors import order_list

    return order_list(
        user=user, filters=filters, sort=sort, cursor=cursor, limit=limit, with_totals=False
    )


def _order_period(filters: dict[str, str]) -> dict[str, str]:
    """The order list's "period" picker as the dates it stands for (as orders.views reads it;
    "custom" means the dates given)."""
    filters = dict(filters)
    period = filters.pop("period", "")
    today = timezone.localdate()
    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    ranges = {
        "this_month": (first, today),
        "last_month": (last_month_end.replace(day=1), last_month_end),
        "this_quarter": (dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today),
        "this_year": (dt.date(today.year, 1, 1), today),
        "last_year": (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)),
    }
    if period in ranges:
        filters["date_from"], filters["date_to"] = (d.isoformat() for d in ranges[period])
    return filters


@dataclass(frozen=True)
class ListSpec:
    """How one list is exported: its selector (filters, sort, visibility), default sort,
    columns, the columns left out unless chosen, and where the list page is."""

    entity: str
    list_fn: Callable[..., Any]
    default_sort: str
    columns: list[tuple[str, Any, Callable]]
    hidden: frozenset[str]
    list_url: str
    title: Any
    heading: Any
    custom_entity: str = ""
    extra: Callable[[list], dict] | None = None
    rows: Callable[[list], list] | None = None
    # Query parameters the list page turns into filters before its selector sees them.
    prepare: Callable[[dict[str, str]], dict[str, str]] | None = None


def _specs() -> dict[str, ListSpec]:
    from kliento.sales.catalog.selectors import product_list
    from kliento.sales.deals.selectors import deal_list
    from kliento.sales.leads.selectors import lead_list

    return {
        "contacts": ListSpec(
            "contacts", selectors.contact_list, "name", CONTACT_COLUMNS,
            frozenset({"middle_name", "region", "country", "birth_date", "updated_at"}),
            "contact_list", gettext_lazy("Contacts"), gettext_lazy("Export contacts"),
            custom_entity="contact", extra=_contact_extra,
        ),
        "companies": ListSpec(
            "companies", selectors.company_list, "name", COMPANY_COLUMNS,
            frozenset({"legal_name", "region", "country", "updated_at"}),
            "company_list", gettext_lazy("Companies"), gettext_lazy("Export companies"),
            custom_entity="company",
        ),
        "leads": ListSpec(
            "leads", lead_list, "-created", LEAD_COLUMNS,
            frozenset({"job_title", "country", "region", "website", "message", "referrer",
                       "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"}),
            "lead_list", gettext_lazy("Leads"), gettext_lazy("Export leads"),
        ),
        "deals": ListSpec(
            "deals", deal_list, "-updated", DEAL_COLUMNS,
            frozenset({"probability", "forecast_category", "loss_note", "source", "next_step",
                       "created_at", "closed_at"}),
            "deal_list", gettext_lazy("Deals"), gettext_lazy("Export deals"), extra=_deal_extra,
        ),
        "orders": ListSpec(
            "orders", _order_page, "-date", ORDER_COLUMNS,
            frozenset({"tax_rate", "net", "note"}),
            "order_list", gettext_lazy("Orders"), gettext_lazy("Export orders"),
            rows=_order_rows, prepare=_order_period,
        ),
        "products": ListSpec(
            "products", product_list, "name", PRODUCT_COLUMNS,
            frozenset({"id", "description", "created_at", "updated_at"}),
            "product_list", gettext_lazy("Products"), gettext_lazy("Export products"),
        ),
    }  # fmt: skip


LIST_ENTITIES = ("contacts", "companies", "leads", "deals", "orders", "products")


def list_spec(entity: str) -> ListSpec:
    if entity not in LIST_ENTITIES:
        raise ValidationFailedError(
            fields={"entity": _("Use one of: %(allowed)s.") % {"allowed": ", ".join(LIST_ENTITIES)}}
        )
    return _specs()[entity]


def export_title(entity: str, *, heading: bool = False) -> str:
    """What an export job holds, for its page and the list of recent exports."""
    if entity == "full":
        return _("Full export")
    if entity not in LIST_ENTITIES:
        return entity
    spec = _specs()[entity]
    return str(spec.heading if heading else spec.title)


def list_columns(entity: str) -> list[tuple[str, str, Callable]]:
    spec = list_spec(entity)
    custom = (
        [
            (f"custom.{f.key}", f.label, _custom(f.key))
            for f in CustomField.objects.filter(entity=spec.custom_entity)
        ]
        if spec.custom_entity
        else []
    )
    return [*spec.columns, *custom]


def list_filters(entity: str, query: str) -> tuple[dict[str, str], str]:
    """Filters and sort of a list's query string, as its list page hands them to its
    selector."""
    spec = list_spec(entity)
    filters, sort = parse_list_query(query, spec.default_sort)
    return (spec.prepare(filters) if spec.prepare else filters), sort


def parse_list_query(query: str, default_sort: str = "name") -> tuple[dict[str, str], str]:
    """Filters and sort from a list's query string (as the list view reads them)."""
    filters: dict[str, str] = {}
    sort = default_sort
    for key, value in parse_qsl(query or "", keep_blank_values=False):
        value = value.strip()
        if key == "sort":
            sort = value or default_sort
        elif key in {"cursor", "limit", "format", "columns", "page"} or not value:
            continue
        else:
            filters[key] = value
    return filters, sort


def _list_fn(entity: str):
    return list_spec(entity).list_fn


def iter_list(*, user: User, entity: str, query: str) -> Iterator[list[Any]]:
    """Pages of the list exactly as the user sees it (selector, filters, sort, visibility)."""
    spec = list_spec(entity)
    filters, sort = list_filters(entity, query)
    cursor = None
    while True:
        page = spec.list_fn(user=user, filters=filters, sort=sort, cursor=cursor, limit=PAGE)
        if page.items:
            yield page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _page_count(spec: ListSpec, items: list) -> int:
    if spec.entity == "orders":
        counted = OrderLine.objects.filter(order_id__in=[o.pk for o in items])
        with_lines = counted.values("order_id").distinct().count()
        return counted.count() + len(items) - with_lines
    return len(items)


def count_upto(*, user: User, entity: str, query: str, limit: int) -> int:
    """How many rows the export has (order lines for orders), counting no further than `limit`
    (then returns limit+1)."""
    spec = list_spec(entity)
    total = 0
    for items in iter_list(user=user, entity=entity, query=query):
        total += _page_count(spec, items)
        if total > limit:
            return limit + 1
    return total


def _choose(entity: str, columns: list[str] | None) -> list[tuple[str, str, Callable]]:
    available = list_columns(entity)
    if not columns:
        hidden = list_spec(entity).hidden
        return [c for c in available if c[0] not in hidden]
    known = {c[0]: c for c in available}
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ValidationFailedError(
            fields={"columns": _("Unknown column %(name)s.") % {"name": repr(unknown[0])}}
        )
    return [known[c] for c in columns]


def list_rows(
    *, user: User, entity: str, query: str, columns: list[str] | None
) -> tuple[list[str], Iterator[list[Any]]]:
    spec = list_spec(entity)
    chosen = _choose(entity, columns)
    header = [str(label) for _key, label, _get in chosen]

    def rows():
        for items in iter_list(user=user, entity=entity, query=query):
            extra = spec.extra(items) if spec.extra else {}
            for obj in spec.rows(items) if spec.rows else items:
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
    if isinstance(value, Decimal):
        return float(value)  # a number in the sheet; amounts of up to 15 digits survive a double
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
        spec = list_spec(entity)
        _choose(entity, columns)
        filters, sort = list_filters(entity, query)
        spec.list_fn(user=user, filters=filters, sort=sort, limit=1)  # validate now
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


# Timeline entries the sales services write themselves when the import recreates a deal, an
# order or a lead (created, won, lost, the purchase, the lead's message), and lead-only entries
# with no customer to hang on: read back they would be doubled or orphaned, so they go to
# sales/timeline.csv (kept, not imported) instead of interactions.csv.
SERVICE_TIMELINE = Q(related_type__in=["deal", "order"]) | Q(contact=None, company=None)
# What the import reads back (sales/*.csv) and so is not also dumped raw.
SALES_READ_BACK = {
    Product, PriceList, PriceListItem, CurrencyRate, Pipeline, Stage, LossReason, Lead, Deal,
    Order, OrderLine,
}  # fmt: skip
FULL_LEAD_FIELDS = [
    "id", "first_name", "last_name", "company_name", "job_title", "email", "phone", "country",
    "region", "city", "website", "message", "status", "source", "channel", "campaign",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer", "owner",
    "tags", "score", "contact_id", "company_id", "deal_id", "converted_at", "disqualify_reason",
    "disqualify_note", "created_at",
]  # fmt: skip
FULL_DEAL_FIELDS = [
    "id", "name", "pipeline", "stage", "status", "amount", "currency", "expected_close", "owner",
    "contact_id", "company_id", "loss_reason", "loss_note", "source", "forecast_category",
    "next_step", "next_step_at", "competitors", "tags", "closed_at", "created_at",
]  # fmt: skip
FULL_ORDER_FIELDS = [
    "number", "ordered_at", "status", "channel", "currency", "contact_id", "company_id", "owner",
    "note", "sku", "quantity", "price", "discount", "cost", "description", "tax_rate", "deal_id",
    "total",
]  # fmt: skip


def _write_sales(write, users: dict[int, str]) -> None:
    """The sales data in the shape the import reads (sales/*.csv; see services.FULL_FILES):
    reference data by name, products by SKU, prices by SKU and price list name, and leads,
    deals and orders with their ids as external ids and their customers by exported id."""
    write(
        "sales/pipelines.csv",
        ["pipeline", "is_default", "active", "stage", "probability", "expected_days"],
        (
            [s.pipeline.name, s.pipeline.is_default, s.pipeline.active, s.name, s.probability,
             s.expected_days]
            for s in Stage.objects.select_related("pipeline").order_by(
                "pipeline__position", "pipeline_id", "position", "id"
            )
        ),
    )  # fmt: skip
    write(
        "sales/loss_reasons.csv",
        ["name", "active"],
        ([r.name, r.active] for r in LossReason.objects.order_by("position", "id")),
    )
    price_fields = [
        "name", "currency", "segment", "region", "channel", "valid_from", "valid_to",
        "is_default", "active",
    ]  # fmt: skip
    write(
        "sales/price_lists.csv",
        price_fields,
        ([getattr(p, f) for f in price_fields] for p in PriceList.objects.order_by("id")),
    )
    write(
        "sales/currency_rates.csv",
        ["currency", "rate", "valid_from"],
        (
            [r.currency, r.rate, r.valid_from]
            for r in CurrencyRate.objects.order_by("currency", "valid_from", "id")
        ),
    )
    product_fields = [
        "sku",
        "name",
        "category",
        "unit",
        "description",
        "cost",
        "tax_rate",
        "active",
    ]
    write(
        "sales/products.csv",
        product_fields,
        (
            [getattr(p, f) for f in product_fields]
            for p in Product.objects.order_by("id").iterator(chunk_size=2000)
        ),
    )
    write(
        "sales/prices.csv",
        ["sku", "price", "price_list"],
        (
            [i.product.sku, i.price, i.price_list.name]
            for i in PriceListItem.objects.select_related("product", "price_list")
            .order_by("price_list_id", "id")
            .iterator(chunk_size=2000)
        ),
    )

    def lead_row(lead: Lead) -> list[Any]:
        return [
            users.get(lead.owner_id, "") if f == "owner" else
            ", ".join(tags_from_db(lead.tags)) if f == "tags" else
            getattr(lead, f)
            for f in FULL_LEAD_FIELDS
        ]  # fmt: skip

    write(
        "sales/leads.csv",
        FULL_LEAD_FIELDS,
        (lead_row(x) for x in Lead.objects.order_by("id").iterator(chunk_size=2000)),
    )
    reasons = dict(LossReason.objects.values_list("id", "name"))
    stages = {s.pk: (s.pipeline.name, s.name) for s in Stage.objects.select_related("pipeline")}

    def deal_row(deal: Deal) -> list[Any]:
        named = {
            "pipeline": stages[deal.stage_id][0],
            "stage": stages[deal.stage_id][1],
            "owner": users.get(deal.owner_id, ""),
            "loss_reason": reasons.get(deal.loss_reason_id, ""),
            "tags": ", ".join(tags_from_db(deal.tags)),
        }
        return [named[f] if f in named else getattr(deal, f) for f in FULL_DEAL_FIELDS]

    write(
        "sales/deals.csv",
        FULL_DEAL_FIELDS,
        (deal_row(d) for d in Deal.objects.order_by("id").iterator(chunk_size=2000)),
    )

    def order_rows() -> Iterator[list[Any]]:
        lines = (
            OrderLine.objects.select_related("order", "product")
            .order_by("order_id", "position", "id")
            .iterator(chunk_size=2000)
        )
        for line in lines:
            order = line.order
            yield [
                order.number, order.ordered_at, order.status, order.channel, order.currency,
                order.contact_id, order.company_id, users.get(order.owner_id, ""), order.note,
                line.product.sku if line.product_id else "", line.quantity, line.price,
                line.discount, line.cost, line.description, line.tax_rate, order.deal_id,
                order.total,
            ]  # fmt: skip

    write("sales/order_lines.csv", FULL_ORDER_FIELDS, order_rows())
    write(
        "sales/timeline.csv",
        FULL_INTERACTION_FIELDS + ["related_type", "related_id"],
        (
            [_full_value(i, n, users) for n in FULL_INTERACTION_FIELDS]
            + [i.related_type, i.related_id]
            for i in Interaction.objects.filter(SERVICE_TIMELINE)
            .order_by("id")
            .iterator(chunk_size=2000)
        ),
    )
    # The rest (quotes, plans, deal products, stage history, web forms, rules…) as the
    # database holds it, for reference: the import does not read these back.
    for label in SALES_APPS:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        for model in config.get_models():
            if model in SALES_READ_BACK:
                continue
            fields = [f.attname for f in model._meta.concrete_fields]
            write(
                f"raw/{label}/{model._meta.model_name}.csv",
                fields,
                (list(row) for row in model.objects.order_by("pk").values_list(*fields).iterator()),
            )


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
                for i in Interaction.objects.exclude(SERVICE_TIMELINE)
                .order_by("id")
                .iterator(chunk_size=2000)
            ),
        )
        _write_sales(lambda name, header, rows: write(zf, name, header, rows), users)
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
