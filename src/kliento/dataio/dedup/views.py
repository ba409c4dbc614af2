"""Web UI of duplicates: the review queue, one pair side by side with merge choices, scans and
bulk merges with live progress, merge undo, and the entry hints of the create forms."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kliento.core.errors import (
    BadCursorError,
    ConflictError,
    KlientoError,
    ValidationFailedError,
)
from kliento.core.permissions import is_admin, scope_for
from kliento.core.views import ui_errors
from kliento.customers import forms as customer_forms
from kliento.customers.normalize import format_phone
from kliento.dataio.dedup import selectors, services
from kliento.dataio.dedup.candidates import (
    candidate_rows,
    company_candidates,
    contact_candidates,
)
from kliento.dataio.dedup.matching import SCAN_THRESHOLD, evidence_text
from kliento.dataio.dedup.models import DedupJob, DuplicatePair, MergeRecord

PAGE_SIZE = 30


def _labels(entity: str) -> list[tuple[str, str]]:
    """(field, label) rows of the side-by-side comparison."""
    if entity == "contact":
        return [
            ("first_name", _("First name")),
            ("middle_name", _("Middle name")),
            ("last_name", _("Last name")),
            ("emails", _("Emails")),
            ("phones", _("Phones")),
            ("birth_date", _("Birth date")),
            ("gender", _("Gender")),
            ("city", _("City")),
            ("region", _("Region")),
            ("country", _("Country")),
            ("language", _("Language")),
            ("lifecycle_stage", _("Lifecycle stage")),
            ("preferred_channel", _("Preferred channel")),
            ("preferences", _("Preferences")),
            ("social", _("Social profiles")),
            ("tags", _("Tags")),
            ("custom", _("Custom fields")),
            ("owner_id", _("Owner")),
        ]
    return [
        ("name", _("Name")),
        ("legal_name", _("Legal name")),
        ("tax_id", _("Tax id")),
        ("website", _("Website")),
        ("emails", _("Emails")),
        ("phones", _("Phones")),
        ("industry", _("Industry")),
        ("size", _("Size")),
        ("city", _("City")),
        ("region", _("Region")),
        ("country", _("Country")),
        ("address", _("Address")),
        ("postal_address", _("Postal address")),
        ("tags", _("Tags")),
        ("custom", _("Custom fields")),
        ("owner_id", _("Owner")),
    ]


def _show(obj, field: str) -> str:
    value = getattr(obj, field)
    if field == "owner_id":
        return obj.owner.display_name if obj.owner_id else ""
    if field == "phones":
        return ", ".join(format_phone(p) for p in value or [])
    if field in ("emails",):
        return ", ".join(value or [])
    if field == "tags":
        return ", ".join(obj.tag_list)
    if field in ("custom", "social"):
        return ", ".join(f"{k}: {v}" for k, v in (value or {}).items())
    if field in ("gender", "lifecycle_stage", "preferred_channel", "size"):
        return getattr(obj, f"get_{field}_display")() if value else ""
    return "" if value is None else str(value)


def _title(entity: str, obj) -> str:
    return obj.full_name if entity == "contact" else obj.name


def _queue_filters(request: HttpRequest) -> dict[str, Any]:
    entity = request.GET.get("entity", "")
    status = request.GET.get("status", "open")
    try:
        min_confidence = float(request.GET.get("min", "") or SCAN_THRESHOLD)
    except ValueError:
        min_confidence = SCAN_THRESHOLD
    return {
        "entity": entity if entity in ("contact", "company") else "",
        "status": status if status in DuplicatePair.Status.values else "open",
        "min_confidence": min(max(min_confidence, 0.0), 1.0),
    }


@login_required
@require_GET
@ui_errors
def queue(request: HttpRequest) -> HttpResponse:
    filters = _queue_filters(request)
    try:
        page = selectors.pair_list(
            user=request.user, filters=filters, cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except BadCursorError:
        return redirect("dedup_queue")
    records = selectors.pair_records(page.items)
    rows = []
    for pair in page.items:
        a = records.get((pair.entity, pair.a_id))
        b = records.get((pair.entity, pair.b_id))
        rows.append(
            {
                "pair": pair,
                "a": a,
                "b": b,
                "a_title": _title(pair.entity, a) if a else f"#{pair.a_id}",
                "b_title": _title(pair.entity, b) if b else f"#{pair.b_id}",
                "percent": round(pair.confidence * 100),
                "why": [evidence_text(e) for e in pair.evidence if e["weight"] > 0][:3],
            }
        )
    context = {
        "section": "data",
        "filters": filters,
        "min_percent": round(filters["min_confidence"] * 100),
        "rows": rows,
        "page": page,
        "counts": selectors.pair_counts(request.user),
        "statuses": DuplicatePair.Status.choices,
        "jobs": selectors.recent_jobs(request.user),
        "merges": list(
            MergeRecord.objects.filter(user=request.user, undone_at__isnull=True).order_by(
                "-at", "-id"
            )[:5]
        ),
        "is_admin": is_admin(request.user),
        "may_write": scope_for(request.user).may_write,
    }
    if request.htmx and not request.htmx.boosted and request.GET.get("partial") == "rows":
        return render(request, "dedup/partials/_queue_rows.html", context)
    return render(request, "dedup/queue.html", context)


@login_required
@require_GET
@ui_errors
def pair_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pair = selectors.pair_get_for_user(user=request.user, pk=pk)
    return _render_pair(request, pair)


def _render_pair(request, pair, errors: dict | None = None, status: int = 200) -> HttpResponse:
    records = selectors.pair_records([pair])
    a = records.get((pair.entity, pair.a_id))
    b = records.get((pair.entity, pair.b_id))
    survivor = other = None
    rows = []
    if a and b:
        survivor, other = services.default_survivor(a, b)
        defaults = services.merged_values(pair.entity, survivor, other)
        for field, label in _labels(pair.entity):
            left, right = _show(a, field), _show(b, field)
            value = defaults.get(field)
            default = "survivor"
            if field in services.UNION_FIELDS:
                default = "both"
            elif value == getattr(other, field, None) and value != getattr(survivor, field, None):
                default = "other"
            survivor_side = "a" if survivor.pk == a.pk else "b"
            other_side = "b" if survivor_side == "a" else "a"
            default_side = survivor_side if default == "survivor" else other_side
            rows.append(
                {
                    "field": field,
                    "label": label,
                    "a": left,
                    "b": right,
                    "differs": left != right,
                    "union": field in services.UNION_FIELDS,
                    "choosable": field in services.merge_fields(pair.entity) and left != right,
                    "default": default_side if default != "both" else "both",
                }
            )
    return render(
        request,
        "dedup/pair_detail.html",
        {
            "section": "data",
            "pair": pair,
            "a": a,
            "b": b,
            "a_title": _title(pair.entity, a) if a else "",
            "b_title": _title(pair.entity, b) if b else "",
            "survivor": survivor,
            "rows": rows,
            "percent": round(pair.confidence * 100),
            "evidence": [{"text": evidence_text(e), "weight": e["weight"]} for e in pair.evidence],
            "errors": errors or {},
            "can_act": pair.status != DuplicatePair.Status.MERGED and bool(a and b),
            "detail_url": f"{pair.entity}_detail",
        },
        status=status,
    )


@login_required
@require_POST
@ui_errors
def pair_merge(request: HttpRequest, pk: int) -> HttpResponse:
    pair = selectors.pair_get_for_user(user=request.user, pk=pk, for_write=True)
    try:
        survivor_id = int(request.POST.get("survivor", ""))
    except ValueError:
        survivor_id = None
    choices: dict[str, str] = {}
    for field in services.merge_fields(pair.entity):
        side = request.POST.get(f"choice.{field}")
        if side == "both":
            choices[field] = "both" if field in services.UNION_FIELDS else "survivor"
        elif side in ("a", "b") and survivor_id in (pair.a_id, pair.b_id):
            chosen = pair.a_id if side == "a" else pair.b_id
            choices[field] = "survivor" if chosen == survivor_id else "other"
    try:
        merge = services.pair_merge(
            user=request.user, pair=pair, field_choices=choices, survivor_id=survivor_id
        )
    except (ValidationFailedError, ConflictError) as exc:
        return _render_pair(request, pair, errors={"merge": exc.message}, status=409)
    messages.success(
        request,
        _("Merged: #%(other)s is now part of #%(survivor)s. You can undo it below.")
        % {"other": merge.other_id, "survivor": merge.survivor_id},
    )
    return redirect("dedup_queue")


@login_required
@require_POST
@ui_errors
def pair_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    pair = selectors.pair_get_for_user(user=request.user, pk=pk, for_write=True)
    try:
        services.pair_dismiss(user=request.user, pair=pair)
    except ConflictError as exc:
        return _render_pair(request, pair, errors={"merge": exc.message}, status=409)
    messages.success(request, _("Marked as not a duplicate; it will not come back."))
    return redirect("dedup_queue")


@login_required
@require_POST
@ui_errors
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    merge = selectors.merge_get_for_user(user=request.user, pk=pk)
    try:
        services.merge_undo(user=request.user, merge=merge)
    except ConflictError as exc:
        messages.error(request, exc.message)
        return redirect("dedup_queue")
    messages.success(request, _("The merge was undone: both records are back."))
    return redirect("dedup_queue")


@login_required
@require_POST
@ui_errors
def scan_start(request: HttpRequest) -> HttpResponse:
    entity = request.POST.get("entity", "")
    services.job_start(
        user=request.user,
        kind=DedupJob.Kind.SCAN,
        entity=entity if entity in ("contact", "company") else "",
        params={"min_confidence": SCAN_THRESHOLD},
    )
    messages.success(request, _("The scan has started; its progress shows below."))
    return redirect("dedup_queue")


@login_required
@require_POST
@ui_errors
def bulk_merge(request: HttpRequest) -> HttpResponse:
    try:
        threshold = float(request.POST.get("min_percent", "")) / 100
    except ValueError:
        threshold = -1
    if not 0.5 <= threshold <= 1:
        messages.error(request, _("Choose a threshold between 50 and 100 %."))
        return redirect("dedup_queue")
    entity = request.POST.get("entity", "")
    services.job_start(
        user=request.user,
        kind=DedupJob.Kind.BULK_MERGE,
        entity=entity if entity in ("contact", "company") else "",
        params={"min_confidence": threshold},
    )
    messages.success(request, _("Bulk merge has started; its progress shows below."))
    return redirect("dedup_queue")


@login_required
@require_GET
@ui_errors
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.job_get_for_user(user=request.user, pk=pk)
    return render(request, "dedup/partials/_job.html", {"job": job})


@login_required
@require_GET
def entry_check(request: HttpRequest, entity: str) -> HttpResponse:
    """The hints under a create form while the user types (htmx, debounced)."""
    if entity not in ("contact", "company"):
        raise Http404()
    if entity == "contact":
        data = customer_forms.contact_data_from_post(request.GET, [])
        find = contact_candidates
    else:
        data = customer_forms.company_data_from_post(request.GET, [])
        find = company_candidates
    data.pop("custom", None)
    try:
        found = find(user=request.user, data=data)
    except (KlientoError, ValueError):
        found = []
    rows = candidate_rows(entity, [c.as_dict() for c in found])
    return render(
        request, "dedup/partials/_entry_hints.html", {"candidates": rows, "warning": False}
    )
