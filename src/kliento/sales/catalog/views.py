"""Web UI of the catalogue: products, price lists with their prices, and the two company
settings pages (currency rates, discount limits). Reads are open to every user; the services
decide who changes what (admins and heads the catalogue, admins the settings)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core.errors import BadCursorError, StaleVersionError, ValidationFailedError
from kliento.core.models import OrgSettings, Role
from kliento.core.permissions import is_admin
from kliento.core.settings_forms import translate_errors
from kliento.core.views import ui_errors
from kliento.customers.selectors import Page
from kliento.sales.catalog import selectors, services
from kliento.sales.catalog.models import Product

PAGE_SIZE = 50
PRODUCT_FIELDS = ("sku", "name", "category", "unit", "description", "cost", "tax_rate")
PRICE_LIST_FIELDS = ("name", "currency", "segment", "region", "channel", "valid_from", "valid_to")


def _sort_links(sort: str, columns) -> list[dict]:
    links = []
    for key, label in columns:
        if sort == key:
            target, state = f"-{key}", "asc"
        elif sort == f"-{key}":
            target, state = key, "desc"
        else:
            target, state = key, ""
        links.append({"key": key, "label": label, "target": target, "state": state})
    return links


# --- products ------------------------------------------------------------------------------


@login_required
def product_list(request: HttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "").strip() for k in ("q", "category", "active")}
    filters = {k: v for k, v in filters.items() if v}
    sort = request.GET.get("sort", "name") or "name"
    errors: dict[str, str] = {}
    notice = ""
    try:
        page = selectors.product_list(
            user=request.user,
            filters=filters,
            sort=sort,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except BadCursorError:
        notice = _("That page link has expired; showing the first page.")
        page = selectors.product_list(user=request.user, filters=filters, sort=sort)
    except ValidationFailedError as exc:
        errors = translate_errors(exc.fields)
        page = Page(items=[])
    context = {
        "section": "products",
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "notice": notice,
        "sort": sort,
        "sorts": _sort_links(
            sort,
            [("sku", _("SKU")), ("name", _("Name")), ("category", _("Category"))],
        ),
        "categories": selectors.product_categories(),
        "has_filters": bool(filters),
        "can_edit": selectors.catalog_can_edit(request.user),
    }
    template = "catalog/product_list.html"
    if request.htmx and not request.htmx.boosted:
        template = "catalog/partials/_product_results.html"
    return render(request, template, context)


def _product_form(request: HttpRequest, product: Product | None) -> HttpResponse:
    if not selectors.catalog_can_edit(request.user):
        return render(request, "catalog/forbidden.html", status=403)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in PRODUCT_FIELDS}
        values["active"] = request.POST.get("active") == "on"
        try:
            if product is None:
                product = services.product_create(user=request.user, data=values)
                messages.success(request, _("The product is added."))
            else:
                version = request.POST.get("version", "")
                product = services.product_update(
                    user=request.user,
                    product=product,
                    data=values,
                    expected_version=int(version) if version.isdigit() else None,
                )
                messages.success(request, _("The product is saved."))
            return redirect(f"{_url('product_list')}?{urlencode({'q': product.sku})}")
        except StaleVersionError:
            errors = {"form": _("Someone else changed this product meanwhile; reload it.")}
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields)
    elif product is not None:
        values = {k: getattr(product, k) for k in PRODUCT_FIELDS}
        values["active"] = product.active
    else:
        values = {
            "unit": pgettext("unit of measure", "pcs"),
            "cost": "0",
            "tax_rate": OrgSettings.get().default_tax_rate,
            "active": True,
        }
    context = {
        "section": "products",
        "product": product,
        "values": values,
        "errors": errors,
        "categories": selectors.product_categories(),
    }
    return render(request, "catalog/product_form.html", context, status=422 if errors else 200)


def _url(name: str, *args) -> str:
    from django.urls import reverse

    return reverse(name, args=args)


@login_required
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    return _product_form(request, None)


@login_required
@ui_errors
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _product_form(request, selectors.product_get(pk=pk))


@login_required
@ui_errors
@require_POST
def product_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    product = selectors.product_get(pk=pk)
    services.product_update(
        user=request.user, product=product, data={"active": request.POST.get("active") == "on"}
    )
    messages.success(request, _("The product is saved."))
    return redirect("product_list")


# --- price lists -----------------------------------------------------------------------------


@login_required
def price_list_list(request: HttpRequest) -> HttpResponse:
    try:
        page = selectors.price_list_list(cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    except BadCursorError:
        page = selectors.price_list_list(limit=PAGE_SIZE)
    from django.utils import timezone

    today = timezone.localdate()
    for plist in page.items:
        plist.valid_today = plist.is_valid_on(today)
        plist.item_count = plist.items.count()
    context = {
        "section": "products",
        "page": page,
        "can_edit": selectors.catalog_can_edit(request.user),
    }
    return render(request, "catalog/price_list_list.html", context)


def _price_list_values(post) -> dict[str, Any]:
    values = {k: post.get(k, "") for k in PRICE_LIST_FIELDS}
    values["is_default"] = post.get("is_default") == "on"
    values["active"] = post.get("active") == "on"
    return values


@login_required
@require_http_methods(["GET", "POST"])
def price_list_create(request: HttpRequest) -> HttpResponse:
    if not selectors.catalog_can_edit(request.user):
        return render(request, "catalog/forbidden.html", status=403)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"currency": "", "active": True}
    if request.method == "POST":
        values = _price_list_values(request.POST)
        try:
            plist = services.price_list_create(user=request.user, data=values)
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields)
        else:
            messages.success(request, _("The price list is created; now set its prices."))
            return redirect("price_list_detail", plist.pk)
    else:
        from kliento.sales.catalog.money import company_currency

        values["currency"] = company_currency()
    context = {"section": "products", "plist": None, "values": values, "errors": errors}
    return render(request, "catalog/price_list_form.html", context, status=422 if errors else 200)


@login_required
@ui_errors
@require_http_methods(["GET", "POST"])
def price_list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plist = selectors.price_list_get(pk=pk)
    can_edit = selectors.catalog_can_edit(request.user)
    errors: dict[str, str] = {}
    item_errors: dict[str, str] = {}
    values = {k: getattr(plist, k) for k in PRICE_LIST_FIELDS}
    values.update(is_default=plist.is_default, active=plist.active)
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "save":
                values = _price_list_values(request.POST)
                services.price_list_update(user=request.user, price_list=plist, data=values)
                messages.success(request, _("The price list is saved."))
            elif action == "price":
                product = selectors.product_get(pk=request.POST.get("product_id", ""))
                services.price_list_item_set(
                    user=request.user,
                    price_list=plist,
                    product=product,
                    price=request.POST.get("price", ""),
                )
                messages.success(request, _("The price is saved."))
            elif action == "remove":
                product = selectors.product_get(pk=request.POST.get("product_id", ""))
                services.price_list_item_remove(
                    user=request.user, price_list=plist, product=product
                )
            return redirect("price_list_detail", plist.pk)
        except ValidationFailedError as exc:
            if action == "save":
                errors = translate_errors(exc.fields)
            else:
                item_errors = translate_errors(exc.fields)
                item_errors["product_id"] = request.POST.get("product_id", "")
        except Exception as exc:  # noqa: BLE001 - NotFound/Conflict shown on the page
            from kliento.core.errors import KlientoError

            if not isinstance(exc, KlientoError) or exc.status == 403:
                raise
            item_errors = {"price": exc.message}
    q = request.GET.get("q", "").strip()[:100]
    items = list(selectors.price_list_items(price_list=plist, q=q))
    priced = {item.product_id for item in items}
    addable = (
        list(Product.objects.filter(active=True).exclude(pk__in=priced).order_by("name")[:500])
        if can_edit
        else []
    )
    context = {
        "section": "products",
        "plist": plist,
        "values": values,
        "errors": errors,
        "item_errors": item_errors,
        "items": items,
        "addable": addable,
        "q": q,
        "can_edit": can_edit,
    }
    status = 422 if (errors or item_errors) else 200
    return render(request, "catalog/price_list_detail.html", context, status=status)


# --- settings ----------------------------------------------------------------------------------


def _settings(request, template, area, context, status=200):
    return render(
        request,
        template,
        {"section": "settings", "settings_area": area, "is_admin": True, **context},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def settings_currency_rates(request: HttpRequest) -> HttpResponse:
    if not is_admin(request.user):
        return render(request, "core/settings/forbidden.html", status=403)
    from kliento.sales.catalog.money import company_currency

    errors: dict[str, str] = {}
    values = {"currency": "", "rate": "", "valid_from": ""}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            services.currency_rate_create(user=request.user, data=values)
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields)
        else:
            messages.success(request, _("The rate is added."))
            return redirect("settings_currency_rates")
    context = {
        "values": values,
        "errors": errors,
        "current": selectors.current_rates(),
        "history": list(selectors.currency_rate_list()[:300]),
        "company_currency": company_currency(),
    }
    return _settings(
        request, "catalog/currency_rates.html", "currency_rates", context, 422 if errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def settings_discount_limits(request: HttpRequest) -> HttpResponse:
    if not is_admin(request.user):
        return render(request, "core/settings/forbidden.html", status=403)
    errors: dict[str, str] = {}
    rows = selectors.discount_limits()
    if request.method == "POST":
        posted = {role: request.POST.get(f"limit_{role}", "") for role in Role.values}
        for role, value in posted.items():
            try:
                services.discount_limit_set(user=request.user, role=role, max_percent=value)
            except ValidationFailedError as exc:
                errors[role] = next(iter(translate_errors(exc.fields).values()))
        if not errors:
            messages.success(request, _("Discount limits are saved."))
            return redirect("settings_discount_limits")
        for row in rows:
            row["posted"] = posted.get(row["role"], "")
    context = {"rows": rows, "errors": errors}
    return _settings(
        request, "catalog/discount_limits.html", "discount_limits", context, 422 if errors else 200
    )
