"""Web UI of deals: the kanban board, the list, the deal page, forms, pipeline settings.

Views parse the request, call a selector or a service, and render; htmx requests get the
fragment they swap in, the board's drag and drop gets JSON. Visibility lives in the
selectors and services, never here.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core.errors import (
    BadCursorError,
    KlientoError,
    NotFoundError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import Team, User
from kliento.core.permissions import can_write, is_admin, scope_for
from kliento.core.views import safe_next, ui_errors
from kliento.customers import forms as customer_forms
from kliento.customers import services as customer_services
from kliento.customers.models import Interaction
from kliento.customers.selectors import Page, company_qs, contact_qs, parse_id
from kliento.sales.catalog.models import PriceList, Product
from kliento.sales.catalog.money import company_currency
from kliento.sales.deals import selectors, services
from kliento.sales.deals.models import Deal, DealStatus, ForecastCategory, LossReason

PAGE_SIZE = 50
BOARD_FILTER_KEYS = ("owner", "team", "close_from", "close_to", "q")
LIST_FILTER_KEYS = ("q", "pipeline", "stage", "status", "owner", "team", "close_from", "close_to")


def _active_users():
    return list(User.objects.filter(is_active=True).order_by("first_name", "last_name", "username"))


def _teams():
    return list(Team.objects.order_by("path"))


def _filters(request: HttpRequest, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: request.GET[k].strip() for k in keys if request.GET.get(k, "").strip()}


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _json_error(exc: KlientoError) -> JsonResponse:
    return JsonResponse(
        {"code": exc.code, "message": exc.message, "fields": exc.fields}, status=exc.status
    )


def _version(request: HttpRequest) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


# --- the kanban board ---------------------------------------------------------------------


def _board_pipeline(request: HttpRequest, pipelines):
    wanted = parse_id(request.GET.get("pipeline", ""))
    for pipeline in pipelines:
        if pipeline.pk == wanted:
            return pipeline
    return next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)


def _column_totals(user: User, pipeline, filters: dict[str, str]) -> dict[str, Any]:
    columns = selectors.deal_board(user=user, pipeline=pipeline, filters=filters, per_column=0)
    from kliento.sales.deals.templatetags.deals_ui import money

    return {
        str(c.stage.pk): {"count": c.count, "total": str(c.total), "total_display": money(c.total)}
        for c in columns
    }


@login_required
def deal_board(request: HttpRequest) -> HttpResponse:
    pipelines = selectors.pipeline_list()
    pipeline = _board_pipeline(request, pipelines)
    filters = _filters(request, BOARD_FILTER_KEYS)
    errors: dict[str, str] = {}
    columns: list = []
    if pipeline is not None:
        try:
            columns = selectors.deal_board(user=request.user, pipeline=pipeline, filters=filters)
        except ValidationFailedError as exc:
            errors = exc.fields
            columns = selectors.deal_board(user=request.user, pipeline=pipeline)
    query = urlencode(filters)
    context = {
        "section": "deals",
        "pipelines": pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "filters": filters,
        "filter_errors": errors,
        "has_filters": bool(filters),
        "filter_query": query,
        "board_count": sum(c.count for c in columns),
        "board_total": sum((c.total for c in columns), 0),
        "weighted_total": sum((c.total * c.stage.probability / 100 for c in columns), 0),
        "currency": company_currency(),
        "owners": _active_users(),
        "teams": _teams(),
        "reasons": selectors.loss_reason_list(),
        "may_write": scope_for(request.user).may_write,
        "is_admin": is_admin(request.user),
        "today": timezone.localdate(),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "deals/partials/_board.html", context)
    return render(request, "deals/deal_board.html", context)


@login_required
@ui_errors
def deal_board_column(request: HttpRequest, pipeline_pk: int, stage_pk: int) -> HttpResponse:
    """The next cards of one column ("show more"), as htmx swaps them in."""
    pipeline = selectors.pipeline_get(pipeline_pk)
    stage = selectors.stage_get(stage_pk)
    if stage.pipeline_id != pipeline.pk:
        raise NotFoundError()
    try:
        offset = max(0, min(int(request.GET.get("offset", "0")), 1_000_000))
    except ValueError:
        offset = 0
    filters = _filters(request, BOARD_FILTER_KEYS)
    try:
        deals, has_more = selectors.board_column_page(
            user=request.user, pipeline=pipeline, stage=stage, filters=filters, offset=offset
        )
    except ValidationFailedError:
        # The board showed these filters' errors and its cards unfiltered: so does "show more".
        filters = {}
        deals, has_more = selectors.board_column_page(
            user=request.user, pipeline=pipeline, stage=stage, offset=offset
        )
    for deal in deals:
        deal.stage = stage
    context = {
        "deals": deals,
        "stage": stage,
        "pipeline": pipeline,
        "has_more": has_more,
        "next_offset": offset + len(deals),
        "filter_query": urlencode(filters),
        "may_write": scope_for(request.user).may_write,
        "today": timezone.localdate(),
    }
    return render(request, "deals/partials/_column_page.html", context)


@login_required
@require_POST
def deal_move_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A card dropped on another column: JSON for the board, a redirect for a plain form."""
    try:
        deal = selectors.deal_get_for_user(user=request.user, pk=pk, for_write=True)
        deal = services.deal_move(
            user=request.user,
            deal=deal,
            stage=request.POST.get("stage", ""),
            expected_version=_version(request),
        )
    except KlientoError as exc:
        if _wants_json(request):
            return _json_error(exc)
        messages.error(request, exc.message)
        return redirect(safe_next(request, reverse("deal_detail", args=[pk])))
    if _wants_json(request):
        return JsonResponse(_moved_payload(request, deal))
    messages.success(request, _("Moved to %(stage)s.") % {"stage": deal.stage.name})
    return redirect(safe_next(request, reverse("deal_detail", args=[deal.pk])))


def _moved_payload(request: HttpRequest, deal: Deal) -> dict[str, Any]:
    filters = _filters(request, BOARD_FILTER_KEYS)
    return {
        "id": deal.pk,
        "version": deal.version,
        "stage": deal.stage_id,
        "status": deal.status,
        "columns": _column_totals(request.user, deal.pipeline, filters),
    }


@login_required
@require_POST
def deal_close_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Win, lose or reopen; from the board (JSON) or the deal page (redirect back)."""
    try:
        deal = selectors.deal_get_for_user(user=request.user, pk=pk, for_write=True)
        version = _version(request)
        if action == "win":
            deal = services.deal_win(user=request.user, deal=deal, expected_version=version)
            done = _("Deal won. Congratulations!")
        elif action == "lose":
            deal = services.deal_lose(
                user=request.user,
                deal=deal,
                reason=request.POST.get("reason", ""),
                note=request.POST.get("note", ""),
                expected_version=version,
            )
            done = _("Deal marked as lost.")
        else:
            deal = services.deal_reopen(user=request.user, deal=deal, expected_version=version)
            done = _("Deal reopened.")
    except KlientoError as exc:
        if _wants_json(request):
            return _json_error(exc)
        message = exc.message
        if exc.fields:
            message = " ".join(str(v) for v in exc.fields.values())
        messages.error(request, message)
        return redirect(safe_next(request, reverse("deal_detail", args=[pk])))
    if _wants_json(request):
        return JsonResponse(_moved_payload(request, deal))
    messages.success(request, done)
    return redirect(safe_next(request, reverse("deal_detail", args=[deal.pk])))


# --- the list -----------------------------------------------------------------------------


def _sort_links(sort: str, columns: list[tuple[str, str]]) -> list[dict]:
    links = []
    for key, label in columns:
        if sort == key:
            target, state = f"-{key}", "asc"
        elif sort == f"-{key}":
            target, state = key, "desc"
        else:
            target, state = f"-{key}" if key in {"amount", "updated"} else key, ""
        links.append({"key": key, "label": label, "target": target, "state": state})
    return links


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request, LIST_FILTER_KEYS)
    sort = request.GET.get("sort", "-updated") or "-updated"
    cursor = request.GET.get("cursor") or None
    errors: dict[str, str] = {}
    notice = ""
    try:
        page = selectors.deal_list(
            user=request.user,
            filters=filters,
            sort=sort,
            cursor=cursor,
            limit=PAGE_SIZE,
            with_totals=True,
        )
    except BadCursorError:
        notice = _("That page link has expired; showing the first page.")
        page = selectors.deal_list(
            user=request.user, filters=filters, sort=sort, limit=PAGE_SIZE, with_totals=True
        )
    except ValidationFailedError as exc:
        errors = exc.fields
        page = Page(items=[], extra={"count": 0, "total": 0})
    pipelines = selectors.pipeline_list(include_inactive=True)
    context = {
        "section": "deals",
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "notice": notice,
        "sort": sort,
        "sorts": _sort_links(
            sort,
            [
                ("name", _("Deal")),
                ("amount", _("Amount")),
                ("updated", _("Updated")),
                ("created", _("Created")),
            ],
        ),
        "pipelines": pipelines,
        "stages": [s for p in pipelines for s in p.stages.all()],
        "statuses": DealStatus.choices,
        "owners": _active_users(),
        "teams": _teams(),
        "has_filters": bool(filters),
        "currency": company_currency(),
        "today": timezone.localdate(),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "deals/partials/_deal_results.html", context)
    return render(request, "deals/deal_list.html", context)


# --- the deal page ------------------------------------------------------------------------


def _url_or_empty(name: str, *args) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _deal_timeline(deal: Deal) -> list[Interaction]:
    return list(
        Interaction.objects.filter(related_type="deal", related_id=deal.pk)
        .select_related("user", "assignee", "contact", "company")
        .order_by("-occurred_at", "-id")[:50]
    )


def _history_rows(deal: Deal) -> list[dict[str, Any]]:
    rows = []
    for change in selectors.deal_history(deal=deal):
        rows.append({"change": change, "days": change.seconds_in_from})
    return rows


def _progress(deal: Deal, stages) -> list[dict[str, Any]]:
    current = next((i for i, s in enumerate(stages) if s.pk == deal.stage_id), -1)
    return [
        {
            "stage": stage,
            "state": "done" if i < current else ("current" if i == current else "todo"),
        }
        for i, stage in enumerate(stages)
    ]


def _detail_context(request: HttpRequest, deal: Deal) -> dict[str, Any]:
    stages = list(deal.pipeline.stages.order_by("position", "id"))
    quotes = list(deal.quotes.order_by("-id")[:20])
    orders = list(deal.orders.order_by("-id")[:20])
    products = selectors.deal_products(deal=deal)
    writable = can_write(request.user, "deal", deal)
    other_stages = [
        (p, list(p.stages.all())) for p in selectors.pipeline_list() if p.pk != deal.pipeline_id
    ]
    return {
        "section": "deals",
        "deal": deal,
        "stages": stages,
        "progress": _progress(deal, stages),
        "history": _history_rows(deal),
        "products": products,
        "products_total": sum((line.total for line in products), 0),
        "catalog": list(Product.objects.filter(active=True).order_by("name")[:500]),
        "timeline_items": _deal_timeline(deal),
        "quotes": quotes,
        "orders": orders,
        "quote_create_url": _url_or_empty("quote_create"),
        "can_edit": writable,
        "may_write": scope_for(request.user).may_write,
        "reasons": selectors.loss_reason_list(),
        "other_pipelines": other_stages,
        "log_kinds": list(customer_forms.LOG_LABELS.items()),
        "log_url": reverse("deal_log", args=[deal.pk]),
        "currency": company_currency(),
        "today": timezone.localdate(),
    }


@login_required
@ui_errors
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(user=request.user, pk=pk)
    return render(request, "deals/deal_detail.html", _detail_context(request, deal))


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def deal_log(request: HttpRequest, pk: int) -> HttpResponse:
    """Two-click logging on the deal page; the entry lands on its customer's timeline."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk)
    post_url = reverse("deal_log", args=[deal.pk])
    if request.method == "GET":
        kind = request.GET.get("kind", "call")
        kind = kind if kind in customer_forms.LOG_LABELS else "call"
        return render(
            request,
            "customers/partials/_log_form.html",
            {
                "values": customer_forms.log_defaults(kind),
                "errors": {},
                "post_url": post_url,
                "kind_label": customer_forms.LOG_LABELS[kind],
            },
        )
    data = {
        **customer_forms.log_data_from_post(request.POST),
        "contact_id": deal.contact_id,
        "company_id": deal.company_id,
        "related_type": "deal",
        "related_id": deal.pk,
    }
    errors: dict[str, str] = {}
    if not deal.contact_id and not deal.company_id:
        errors["contact_id"] = _("Link the deal to a contact or a company to log interactions.")
    else:
        try:
            customer_services.interaction_create(user=request.user, data=data)
        except ValidationFailedError as exc:
            errors = customer_forms.interaction_errors(exc.fields)
    if errors:
        kind = data["kind"] if data["kind"] in customer_forms.LOG_LABELS else "call"
        return render(
            request,
            "customers/partials/_log_form.html",
            {
                "values": {**customer_forms.log_defaults(kind), **request.POST.dict()},
                "errors": errors,
                "post_url": post_url,
                "kind_label": customer_forms.LOG_LABELS[kind],
            },
        )
    response = render(
        request, "deals/partials/_deal_timeline.html", {"timeline_items": _deal_timeline(deal)}
    )
    response["HX-Retarget"] = "#deal-timeline"
    response["HX-Reswap"] = "outerHTML"
    return response


# --- forms --------------------------------------------------------------------------------

FORM_FIELDS = (
    "name",
    "pipeline",
    "stage",
    "amount",
    "currency",
    "expected_close",
    "forecast_category",
    "contact",
    "company",
    "owner",
    "price_list",
    "competitors",
    "next_step",
    "next_step_at",
    "source",
)


def _form_context(request: HttpRequest, values: dict, errors: dict, deal: Deal | None) -> dict:
    pipelines = selectors.pipeline_list()
    contact = company = None
    if values.get("contact"):
        contact = contact_qs(request.user).filter(pk=parse_id(values["contact"])).first()
    if values.get("company"):
        company = company_qs(request.user).filter(pk=parse_id(values["company"])).first()
    return {
        "section": "deals",
        "deal": deal,
        "values": values,
        "errors": errors,
        "pipelines": pipelines,
        "owners": _active_users(),
        "price_lists": list(PriceList.objects.filter(active=True).order_by("name")),
        "forecast_categories": ForecastCategory.choices,
        "contacts": list(contact_qs(request.user).order_by("last_name", "first_name")[:300]),
        "companies": list(company_qs(request.user).order_by("name")[:300]),
        "picked_contact": contact,
        "picked_company": company,
        "currency": company_currency(),
    }


def _post_data(request: HttpRequest, *, creating: bool) -> dict[str, Any]:
    data = {key: request.POST.get(key, "").strip() for key in FORM_FIELDS if key in request.POST}
    if not creating:
        data.pop("pipeline", None)
    for key in ("owner", "stage", "pipeline"):
        if key in data and not data[key]:
            data.pop(key)
    return data


def _form_errors(exc: KlientoError) -> dict[str, str]:
    fields = dict(exc.fields)
    if not fields:
        fields["form"] = exc.message
    return fields


@login_required
@require_http_methods(["GET", "POST"])
def deal_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        data = _post_data(request, creating=True)
        try:
            deal = services.deal_create(user=request.user, data=data)
        except KlientoError as exc:
            context = _form_context(request, request.POST.dict(), _form_errors(exc), None)
            return render(request, "deals/deal_form.html", context, status=422)
        messages.success(request, _("Deal created."))
        return redirect("deal_detail", pk=deal.pk)
    values: dict[str, Any] = {"owner": str(request.user.pk), "currency": company_currency()}
    for key in ("contact", "company", "pipeline", "stage"):
        if request.GET.get(key, "").isdigit():
            values[key] = request.GET[key]
    contact_id = parse_id(values.get("contact", ""))
    if contact_id and "company" not in values:
        # A contact's primary company comes along, as a rep would pick it anyway.
        contact = contact_qs(request.user).filter(pk=contact_id).first()
        link = contact.company_links.order_by("-is_primary", "id").first() if contact else None
        if link is not None:
            values["company"] = str(link.company_id)
    context = _form_context(request, values, {}, None)
    if values.get("contact") and context["picked_contact"]:
        values["name"] = context["picked_contact"].full_name
    if values.get("company") and context["picked_company"]:
        values["name"] = context["picked_company"].name
    return render(request, "deals/deal_form.html", context)


def _values_of(deal: Deal) -> dict[str, Any]:
    return {
        "name": deal.name,
        "pipeline": str(deal.pipeline_id),
        "stage": str(deal.stage_id),
        "amount": str(deal.amount),
        "currency": deal.currency,
        "expected_close": deal.expected_close.isoformat() if deal.expected_close else "",
        "forecast_category": deal.forecast_category,
        "contact": str(deal.contact_id or ""),
        "company": str(deal.company_id or ""),
        "owner": str(deal.owner_id),
        "price_list": str(deal.price_list_id or ""),
        "competitors": deal.competitors,
        "next_step": deal.next_step,
        "next_step_at": deal.next_step_at.isoformat() if deal.next_step_at else "",
        "source": deal.source,
        "version": str(deal.version),
    }


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def deal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, for_write=True)
    if request.method == "POST":
        data = _post_data(request, creating=False)
        try:
            deal = services.deal_update(
                user=request.user, deal=deal, data=data, expected_version=_version(request)
            )
        except StaleVersionError:
            fresh = selectors.deal_get_for_user(user=request.user, pk=pk)
            context = _form_context(
                request, {**request.POST.dict(), "version": str(fresh.version)}, {}, fresh
            )
            context["conflict"] = fresh
            return render(request, "deals/deal_form.html", context, status=412)
        except KlientoError as exc:
            context = _form_context(request, request.POST.dict(), _form_errors(exc), deal)
            return render(request, "deals/deal_form.html", context, status=422)
        messages.success(request, _("Deal saved."))
        return redirect("deal_detail", pk=deal.pk)
    return render(
        request, "deals/deal_form.html", _form_context(request, _values_of(deal), {}, deal)
    )


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def deal_delete(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, for_write=True)
    error = ""
    if request.method == "POST":
        try:
            services.deal_delete(user=request.user, deal=deal, expected_version=_version(request))
        except KlientoError as exc:
            error = exc.message
        else:
            messages.success(request, _("Deal “%(name)s” deleted.") % {"name": deal.name})
            return redirect("deal_board")
    return render(
        request,
        "deals/deal_delete.html",
        {
            "section": "deals",
            "deal": deal,
            "error": error,
            "quotes_count": deal.quotes.count(),
            "orders_count": deal.orders.count(),
        },
        status=409 if error else 200,
    )


@login_required
@require_POST
@ui_errors
def deal_move_pipeline(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, for_write=True)
    try:
        deal = services.deal_change_pipeline(
            user=request.user,
            deal=deal,
            stage=request.POST.get("stage", ""),
            expected_version=_version(request),
        )
    except KlientoError as exc:
        messages.error(request, " ".join(str(v) for v in exc.fields.values()) or exc.message)
    else:
        messages.success(
            request,
            _("Moved to %(pipeline)s · %(stage)s.")
            % {"pipeline": deal.pipeline.name, "stage": deal.stage.name},
        )
    return redirect("deal_detail", pk=pk)


@login_required
@require_POST
@ui_errors
def deal_products_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Add (product, quantity, price) or remove (line) a product of the deal."""
    deal = selectors.deal_get_for_user(user=request.user, pk=pk, for_write=True)
    recompute = request.POST.get("recompute") == "1"
    try:
        if request.POST.get("remove"):
            services.deal_product_remove(
                user=request.user, deal=deal, line_id=request.POST["remove"], recompute=recompute
            )
        else:
            services.deal_product_add(
                user=request.user,
                deal=deal,
                product=request.POST.get("product", ""),
                quantity=request.POST.get("quantity", "1") or "1",
                price=request.POST.get("price", ""),
                recompute=recompute,
            )
    except KlientoError as exc:
        messages.error(request, " ".join(str(v) for v in exc.fields.values()) or exc.message)
    return redirect(reverse("deal_detail", args=[pk]) + "#products")


# --- settings: pipelines, stages, loss reasons --------------------------------------------


def admin_required(view):
    """Administrators only; anyone else gets the settings 403 page and changes nothing."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not is_admin(request.user):
            return render(request, "core/settings/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return login_required(ui_errors(wrapper))


def _settings_context(errors: dict | None = None, values: dict | None = None) -> dict[str, Any]:
    pipelines = selectors.pipeline_list(include_inactive=True)
    for pipeline in pipelines:
        counts = selectors.stage_deal_counts(pipeline)
        pipeline.stage_rows = [
            {"stage": s, "deals": counts.get(s.pk, 0)}
            for s in sorted(pipeline.stages.all(), key=lambda s: (s.position, s.pk))
        ]
        pipeline.deal_count = sum(counts.values())
    return {
        "section": "settings",
        "settings_area": "pipelines",
        "is_admin": True,
        "pipelines": pipelines,
        "reasons": selectors.loss_reason_list(include_inactive=True),
        "errors": errors or {},
        "values": values or {},
    }


@admin_required
@require_http_methods(["GET", "POST"])
def settings_pipelines(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "deals/settings_pipelines.html", _settings_context())
    action = request.POST.get("action", "")
    handler = SETTINGS_ACTIONS.get(action)
    if handler is None:
        messages.error(request, _("Unknown action."))
        return redirect("settings_pipelines")
    try:
        done = handler(request)
    except KlientoError as exc:
        errors = {f"{action}.{k}": v for k, v in exc.fields.items()}
        if not errors:
            messages.error(request, exc.message)
            return redirect("settings_pipelines")
        context = _settings_context(errors, {**request.POST.dict(), "action": action})
        return render(request, "deals/settings_pipelines.html", context, status=422)
    messages.success(request, done)
    anchor = request.POST.get("pipeline", "")
    return redirect(reverse("settings_pipelines") + (f"#pipeline-{anchor}" if anchor else ""))


def _pipeline_of(request: HttpRequest):
    return selectors.pipeline_get(request.POST.get("pipeline", ""))


def _stage_of(request: HttpRequest):
    return selectors.stage_get(request.POST.get("stage", ""))


def _stage_data(request: HttpRequest) -> dict[str, Any]:
    return {
        "name": request.POST.get("name", ""),
        "probability": request.POST.get("probability", "") or 0,
        "expected_days": request.POST.get("expected_days", ""),
    }


def _act_pipeline_create(request):
    names = [n.strip() for n in request.POST.get("stages", "").splitlines() if n.strip()]
    pipeline = services.pipeline_create(
        user=request.user,
        data={"name": request.POST.get("name", ""), "stages": names or [_("New")]},
    )
    return _("Pipeline “%(name)s” created.") % {"name": pipeline.name}


def _act_pipeline_update(request):
    pipeline = services.pipeline_update(
        user=request.user,
        pipeline=_pipeline_of(request),
        data={"name": request.POST.get("name", ""), "active": request.POST.get("active") == "1"},
    )
    return _("Pipeline “%(name)s” saved.") % {"name": pipeline.name}


def _act_pipeline_default(request):
    pipeline = services.pipeline_update(
        user=request.user, pipeline=_pipeline_of(request), data={"is_default": True}
    )
    return _("“%(name)s” is now the default pipeline.") % {"name": pipeline.name}


def _act_pipeline_delete(request):
    pipeline = _pipeline_of(request)
    services.pipeline_delete(user=request.user, pipeline=pipeline)
    return _("Pipeline “%(name)s” deleted.") % {"name": pipeline.name}


def _act_stage_create(request):
    stage = services.stage_create(
        user=request.user, pipeline=_pipeline_of(request), data=_stage_data(request)
    )
    return _("Stage “%(name)s” added.") % {"name": stage.name}


def _act_stage_update(request):
    stage = services.stage_update(
        user=request.user, stage=_stage_of(request), data=_stage_data(request)
    )
    return _("Stage “%(name)s” saved.") % {"name": stage.name}


def _act_stage_delete(request):
    stage = _stage_of(request)
    services.stage_delete(user=request.user, stage=stage)
    return _("Stage “%(name)s” deleted.") % {"name": stage.name}


def _act_stage_move_deals(request):
    stage = _stage_of(request)
    moved = services.stage_move_deals(
        user=request.user, stage=stage, to_stage=request.POST.get("to_stage", "")
    )
    return _("%(n)s deal(s) moved out of “%(name)s”.") % {"n": moved, "name": stage.name}


def _act_stage_shift(request):
    stage = _stage_of(request)
    ids = list(stage.pipeline.stages.order_by("position", "id").values_list("pk", flat=True))
    i = ids.index(stage.pk)
    j = i - 1 if request.POST.get("direction") == "up" else i + 1
    if 0 <= j < len(ids):
        ids[i], ids[j] = ids[j], ids[i]
        services.stage_reorder(user=request.user, pipeline=stage.pipeline, stage_ids=ids)
    return _("Stage order saved.")


def _act_reason_create(request):
    reason = services.loss_reason_create(
        user=request.user, data={"name": request.POST.get("name", "")}
    )
    return _("Loss reason “%(name)s” added.") % {"name": reason.name}


def _reason_of(request):
    reason = LossReason.objects.filter(pk=parse_id(request.POST.get("reason", ""))).first()
    if reason is None:
        raise NotFoundError(_("No such loss reason."))
    return reason


def _act_reason_update(request):
    reason = services.loss_reason_update(
        user=request.user,
        reason=_reason_of(request),
        data={"name": request.POST.get("name", ""), "active": request.POST.get("active") == "1"},
    )
    return _("Loss reason “%(name)s” saved.") % {"name": reason.name}


def _act_reason_delete(request):
    reason = _reason_of(request)
    services.loss_reason_delete(user=request.user, reason=reason)
    return _("Loss reason “%(name)s” deleted.") % {"name": reason.name}


SETTINGS_ACTIONS = {
    "pipeline_create": _act_pipeline_create,
    "pipeline_update": _act_pipeline_update,
    "pipeline_default": _act_pipeline_default,
    "pipeline_delete": _act_pipeline_delete,
    "stage_create": _act_stage_create,
    "stage_update": _act_stage_update,
    "stage_delete": _act_stage_delete,
    "stage_move_deals": _act_stage_move_deals,
    "stage_shift": _act_stage_shift,
    "reason_create": _act_reason_create,
    "reason_update": _act_reason_update,
    "reason_delete": _act_reason_delete,
}
