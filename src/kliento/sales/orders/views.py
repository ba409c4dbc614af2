"""Web UI of orders: the list with totals, the detail page with status actions, the form with
a lines editor and live totals. Views parse, call a selector or a service, and render; an
htmx request gets the fragment it swaps in.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core.errors import (
    BadCursorError,
    ConflictError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import User
from kliento.core.permissions import can_write, scope_for
from kliento.core.views import ui_errors
from kliento.customers.models import Channel
from kliento.customers.selectors import Page, company_qs, contact_qs, parse_id
from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.catalog.money import company_currency
from kliento.sales.orders import forms, selectors, services
from kliento.sales.orders.models import OrderStatus

PAGE_SIZE = 50
FILTER_KEYS = (
    "q",
    "status",
    "channel",
    "owner_id",
    "date_from",
    "date_to",
    "contact_id",
    "company_id",
)
# Status actions offered on the detail page, in the order a user meets them.
ACTION_LABELS = {
    OrderStatus.PAID: gettext_lazy("Mark paid"),
    OrderStatus.SHIPPED: gettext_lazy("Mark shipped"),
    OrderStatus.CANCELLED: gettext_lazy("Cancel order"),
    OrderStatus.RETURNED: gettext_lazy("Register return"),
}


def _page(request: HttpRequest, template: str, context: dict[str, Any], partial: str = ""):
    if partial and request.htmx and not request.htmx.boosted:
        return render(request, partial, context)
    return render(request, template, context)


def _owners(user: User) -> list[User]:
    scope = scope_for(user)
    qs = User.objects.filter(is_active=True)
    if not scope.read_all:
        qs = qs.filter(pk__in=scope.owner_ids)
    return list(qs.order_by("first_name", "last_name", "username"))


def _sort_links(sort: str) -> list[dict[str, str]]:
    links = []
    for key, label in (("date", _("Date")), ("total", _("Total"))):
        if sort == key:
            target, state = f"-{key}", "asc"
        elif sort == f"-{key}":
            target, state = key, "desc"
        else:
            target, state = f"-{key}", ""
        links.append({"key": key, "label": label, "target": target, "state": state})
    return links


PERIODS = (
    ("this_month", gettext_lazy("This month")),
    ("last_month", gettext_lazy("Last month")),
    ("this_quarter", gettext_lazy("This quarter")),
    ("this_year", gettext_lazy("This year")),
    ("last_year", gettext_lazy("Last year")),
)


def _period_dates(period: str) -> tuple[dt.date | None, dt.date | None]:
    today = timezone.localdate()
    if period == "this_month":
        return today.replace(day=1), today
    if period == "last_month":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return end.replace(day=1), end
    if period == "this_quarter":
        return dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    if period == "this_year":
        return dt.date(today.year, 1, 1), today
    if period == "last_year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    return None, None


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    filters = {
        k: request.GET.get(k, "").strip() for k in FILTER_KEYS if request.GET.get(k, "").strip()
    }
    period = request.GET.get("period", "")
    if period and period != "custom":
        date_from, date_to = _period_dates(period)
        if date_from:
            filters["date_from"], filters["date_to"] = date_from.isoformat(), date_to.isoformat()
    sort = request.GET.get("sort") or "-date"
    errors: dict[str, str] = {}
    notice = ""
    try:
        page = selectors.order_list(
            user=request.user,
            filters=filters,
            sort=sort,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except BadCursorError:
        notice = _("That page link has expired; showing the first page.")
        page = selectors.order_list(user=request.user, filters=filters, sort=sort, limit=PAGE_SIZE)
    except ValidationFailedError as exc:
        errors = exc.fields
        page = Page(items=[], extra={"totals": None})
    context = {
        "section": "orders",
        "page": page,
        "totals": page.extra.get("totals"),
        "filters": filters,
        "period": period,
        "periods": PERIODS,
        "filter_errors": errors,
        "notice": notice,
        "sort": sort,
        "sorts": _sort_links(sort),
        "statuses": OrderStatus.choices,
        "channels": Channel.choices,
        "owners": _owners(request.user),
        "has_filters": bool(filters),
        "currency": company_currency(),
        "can_create": scope_for(request.user).may_write,
    }
    return _page(request, "orders/order_list.html", context, "orders/partials/_order_results.html")


# --- detail -----------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, order, **extra) -> dict[str, Any]:
    writable = can_write(request.user, "order", order)
    actions = [
        {
            "status": s,
            "label": ACTION_LABELS[s],
            "danger": s in {OrderStatus.CANCELLED, OrderStatus.RETURNED},
        }
        for s in services.TRANSITIONS[order.status]
    ]
    margin_percent = (
        (order.margin_company * 100 / order.revenue_company).quantize(Decimal("0.1"))
        if order.revenue_company
        else None
    )
    return {
        "section": "orders",
        "order": order,
        "lines": selectors.order_lines(order),
        "entries": selectors.order_timeline(order),
        "can_edit": writable,
        "actions": actions if writable else [],
        "margin_percent": margin_percent,
        "company_currency": company_currency(),
        "channels": Channel.choices,
        **extra,
    }


@login_required
@ui_errors
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_get_for_user(user=request.user, pk=pk)
    return render(request, "orders/order_detail.html", _detail_context(request, order))


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def order_status(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks "mark this order paid?" (a fragment for htmx); POST changes the status."""
    order = selectors.order_get_for_user(user=request.user, pk=pk, for_write=True)
    wanted = request.POST.get("status") or request.GET.get("to") or ""
    if request.method == "GET":
        confirm = None
        if wanted in services.TRANSITIONS[order.status]:
            confirm = {"status": wanted, "label": OrderStatus(wanted).label}
        context = _detail_context(request, order, confirm=confirm)
        return _page(
            request, "orders/order_detail.html", context, "orders/partials/_status_panel.html"
        )
    try:
        order = services.order_set_status(
            user=request.user,
            order=order,
            status=wanted,
            expected_version=parse_id(request.POST.get("version")),
        )
    except (ConflictError, StaleVersionError, ValidationFailedError) as exc:
        order = selectors.order_get_for_user(user=request.user, pk=pk)
        context = _detail_context(request, order, status_error=exc.message)
        if request.htmx:
            return render(request, "orders/partials/_status_panel.html", context, status=200)
        return render(request, "orders/order_detail.html", context, status=exc.status)
    messages.success(
        request,
        _("Order %(number)s is now %(status)s.")
        % {"number": order.number, "status": OrderStatus(order.status).label.lower()},
    )
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("order_detail", args=[order.pk])
        return response
    return redirect("order_detail", pk=order.pk)


@login_required
@require_POST
@ui_errors
def order_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Note, channel and date of a new order."""
    order = selectors.order_get_for_user(user=request.user, pk=pk, for_write=True)
    data = {
        k: request.POST.get(k, "") for k in ("note", "channel", "ordered_at") if k in request.POST
    }
    try:
        services.order_update(
            user=request.user,
            order=order,
            data=data,
            expected_version=parse_id(request.POST.get("version")),
        )
    except (ConflictError, StaleVersionError, ValidationFailedError) as exc:
        context = _detail_context(request, order, edit_errors=exc.fields, edit_error=exc.message)
        return render(request, "orders/order_detail.html", context, status=exc.status)
    messages.success(request, _("Order saved."))
    return redirect("order_detail", pk=order.pk)


# --- create -----------------------------------------------------------------------------------


def _products() -> list[Product]:
    return list(Product.objects.filter(active=True).order_by("name", "id"))


def _price_lists() -> list[PriceList]:
    today = timezone.localdate()
    return [
        p
        for p in PriceList.objects.filter(active=True).order_by("-is_default", "name")
        if p.is_valid_on(today)
    ]


def _list_prices(price_list_id: Any) -> dict[int, Any]:
    pid = parse_id(price_list_id) if price_list_id else None
    if not pid:
        return {}
    return dict(PriceListItem.objects.filter(price_list_id=pid).values_list("product_id", "price"))


def _initial(request: HttpRequest) -> dict[str, Any]:
    """?contact=&company=&deal= prefill the customer (if the user sees them)."""
    data: dict[str, Any] = {"channel": Channel.OTHER, "lines": []}
    deal_id = parse_id(request.GET.get("deal", ""))
    if deal_id:
        from kliento.core.permissions import record_q
        from kliento.sales.deals.models import Deal

        q = record_q(request.user, "deal")
        deal = (
            (Deal.objects.filter(q) if q is not None else Deal.objects.all())
            .filter(pk=deal_id)
            .first()
        )
        if deal is not None:
            data["deal"] = str(deal.pk)
            if deal.contact_id:
                data["contact"] = str(deal.contact_id)
            if deal.company_id:
                data["company"] = str(deal.company_id)
            if deal.price_list_id:
                data["price_list"] = str(deal.price_list_id)
            data["lines"] = [
                {"product": str(p.product_id), "quantity": f"{p.quantity.normalize():f}"}
                for p in deal.products.filter(product__active=True)
            ]
    for key in ("contact", "company"):
        if parse_id(request.GET.get(key, "")):
            data[key] = request.GET[key]
    if "price_list" not in data:
        default = next((p for p in _price_lists() if p.is_default), None)
        if default:
            data["price_list"] = str(default.pk)
    return data


def _customer_chips(user: User, data: dict[str, Any]) -> dict[str, Any]:
    chips: dict[str, Any] = {}
    if parse_id(data.get("contact", "")):
        chips["contact"] = contact_qs(user).filter(pk=parse_id(data["contact"])).first()
    if parse_id(data.get("company", "")):
        chips["company"] = company_qs(user).filter(pk=parse_id(data["company"])).first()
    if parse_id(data.get("deal", "")):
        from kliento.sales.deals.models import Deal

        chips["deal"] = Deal.objects.filter(pk=parse_id(data["deal"])).first()
    return chips


def _form_context(request: HttpRequest, data: dict[str, Any], errors: dict[str, str] | None = None):
    priced, totals, _line_errors = services.order_preview(data=data)
    rows = forms.line_rows(data, minimum=1)
    for i, row in enumerate(rows):
        row["calc"] = priced[i] if i < len(priced) else None
    return {
        "section": "orders",
        "values": data,
        "errors": errors or {},
        "rows": rows,
        "totals": totals,
        "products": _products(),
        "list_prices": _list_prices(data.get("price_list")),
        "price_lists": _price_lists(),
        "owners": _owners(request.user),
        "channels": Channel.choices,
        "chips": _customer_chips(request.user, data),
        "currency": data.get("currency") or _currency_of(data),
    }


def _currency_of(data: dict[str, Any]) -> str:
    pid = parse_id(data.get("price_list", "")) if data.get("price_list") else None
    if pid:
        plist = PriceList.objects.filter(pk=pid).first()
        if plist:
            return plist.currency
    return company_currency()


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def order_create(request: HttpRequest) -> HttpResponse:
    if not scope_for(request.user).may_write:
        from kliento.core.errors import PermissionDeniedError

        raise PermissionDeniedError(_("Your role can view orders but not change them."))
    if request.method == "GET":
        return render(request, "orders/order_form.html", _form_context(request, _initial(request)))
    data = forms.order_data(request.POST)
    try:
        order = services.order_create(user=request.user, data=data)
    except ValidationFailedError as exc:
        context = _form_context(request, data, exc.fields)
        return render(request, "orders/order_form.html", context, status=422)
    messages.success(request, _("Order %(number)s created.") % {"number": order.number})
    return redirect("order_detail", pk=order.pk)


@login_required
def order_line_row(request: HttpRequest) -> HttpResponse:
    """One empty row for the lines editor."""
    return render(
        request,
        "orders/partials/_line_row.html",
        {
            "row": {},
            "products": _products(),
            "list_prices": _list_prices(request.GET.get("price_list")),
            "errors": {},
        },
    )


@login_required
@require_POST
def order_form_totals(request: HttpRequest) -> HttpResponse:
    """The live totals box (and each line's amount) for what the form holds now."""
    data = forms.order_data(request.POST, keep_empty=True)
    priced, totals, errors = services.order_preview(data=data)
    return render(
        request,
        "orders/partials/_form_totals.html",
        {
            "totals": totals,
            "priced": priced,
            "currency": data.get("currency") or _currency_of(data),
            "errors": errors,
        },
    )


@login_required
def order_customer_pick(request: HttpRequest) -> HttpResponse:
    """Visible contacts and companies whose name (or email) starts with the text typed."""
    q = request.GET.get("customer_q", "").strip()[:100]
    contacts = companies = []
    if q:
        contacts = list(
            contact_qs(request.user)
            .filter(
                Q(last_name__istartswith=q)
                | Q(first_name__istartswith=q)
                | Q(email__istartswith=q.lower())
            )
            .order_by("last_name", "first_name", "id")[:6]
        )
        companies = list(
            company_qs(request.user).filter(name__istartswith=q).order_by("name", "id")[:6]
        )
    return render(
        request,
        "orders/partials/_customer_pick.html",
        {"contacts": contacts, "companies": companies, "q": q},
    )
