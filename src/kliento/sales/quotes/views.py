"""Web UI of quotes: the list, the editor (lines, discounts, approval, versions, sending), the PDF,
the customer's public page and the company details printed on every quote.

Editor forms post with htmx and swap `#quote-editor` out of the page the view redirects to, so a
change shows the new totals at once; without JavaScript the same forms post and redirect.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core.errors import (
    BadCursorError,
    ConflictError,
    KlientoError,
    NotFoundError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import OrgSettings, User
from kliento.core.permissions import can_write, is_admin
from kliento.core.settings_forms import translate_errors
from kliento.core.views import ui_errors
from kliento.customers.selectors import Page
from kliento.sales.catalog.models import PriceList
from kliento.sales.catalog.money import format_quantity
from kliento.sales.catalog.selectors import price_list_items
from kliento.sales.quotes import selectors, services
from kliento.sales.quotes.models import DiscountKind, QuoteStatus
from kliento.sales.quotes.pdf import quote_pdf_filename, render_quote_pdf

PAGE_SIZE = 50
LIST_FILTERS = ("status", "owner_id", "deal_id", "q")


def _deal_for(user: User, pk: Any, for_write: bool = False):
    from kliento.sales.deals.selectors import deal_get_for_user

    return deal_get_for_user(user=user, pk=pk, for_write=for_write)


# --- list ------------------------------------------------------------------------------------


@login_required
def quote_list(request: HttpRequest) -> HttpResponse:
    filters = {
        k: request.GET.get(k, "").strip() for k in LIST_FILTERS if request.GET.get(k, "").strip()
    }
    errors: dict[str, str] = {}
    notice = ""
    try:
        page = selectors.quote_list(
            user=request.user,
            filters=filters,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except BadCursorError:
        notice = _("That page link has expired; showing the first page.")
        page = selectors.quote_list(user=request.user, filters=filters, limit=PAGE_SIZE)
    except ValidationFailedError as exc:
        errors = translate_errors(exc.fields)
        page = Page(items=[])
    context = {
        "section": "quotes",
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "notice": notice,
        "statuses": QuoteStatus.choices,
        "owners": list(
            User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        ),
        "has_filters": bool(filters),
    }
    template = "quotes/quote_list.html"
    if request.htmx and not request.htmx.boosted:
        template = "quotes/partials/_quote_results.html"
    return render(request, template, context)


# --- create ----------------------------------------------------------------------------------


@login_required
@ui_errors
@require_http_methods(["GET", "POST"])
def quote_create(request: HttpRequest) -> HttpResponse:
    deal_pk = request.GET.get("deal") or request.POST.get("deal")
    if not deal_pk:
        raise Http404(_("Open a deal and create the quote from there."))
    deal = _deal_for(request.user, deal_pk, for_write=True)
    today = timezone.localdate()
    price_lists = [
        p for p in PriceList.objects.filter(active=True).order_by("name") if p.is_valid_on(today)
    ]
    errors: dict[str, str] = {}
    selected = str(deal.price_list_id or "")
    if request.method == "POST":
        selected = request.POST.get("price_list", "")
        plist = PriceList.objects.filter(pk=selected).first() if selected.isdigit() else None
        try:
            quote = services.quote_create(user=request.user, deal=deal, price_list=plist)
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields) or {"price_list": exc.message}
        else:
            messages.success(request, _("Quote %(number)s is created.") % {"number": quote.number})
            return redirect("quote_detail", quote.pk)
    context = {
        "section": "quotes",
        "deal": deal,
        "price_lists": price_lists,
        "selected": selected,
        "errors": errors,
        "existing": selectors.quote_list(
            user=request.user, filters={"deal_id": deal.pk}, limit=20
        ).items,
    }
    return render(request, "quotes/quote_create.html", context, status=422 if errors else 200)


# --- detail and editor -------------------------------------------------------------------------


def _detail_context(request: HttpRequest, quote, **extra) -> dict[str, Any]:
    editable = quote.status in services.EDITABLE and can_write(request.user, "deal", quote.deal)
    org = OrgSettings.get()
    return {
        "section": "quotes",
        "quote": quote,
        "lines": selectors.quote_lines(quote=quote),
        "approvals": selectors.quote_approvals(quote=quote),
        "versions": selectors.quote_versions(quote=quote),
        "editable": editable,
        "can_write": can_write(request.user, "deal", quote.deal),
        "can_approve": services.can_approve(request.user, quote),
        "limit": services.quote_limit(quote),
        "needs_approval": services.needs_approval(quote),
        "sendable": services.sendable(quote),
        "discount_kinds": DiscountKind.choices,
        "send_to": quote.sent_to
        or (quote.contact.emails[0] if quote.contact_id and quote.contact.emails else ""),
        "net_total": quote.subtotal - quote.discount_total,
        "public_url": request.build_absolute_uri(reverse("quote_public", args=[quote.token])),
        "org": org,
        "errors": {},
        "history": _status_history(quote),
        **extra,
    }


def _ui_language() -> str:
    from django.utils import translation

    return "ru" if (translation.get_language() or "").startswith("ru") else "en"


def _status_history(quote) -> list[dict[str, Any]]:
    events = [{"at": quote.created_at, "text": _("Created"), "user": None}]
    for approval in selectors.quote_approvals(quote=quote):
        events.append(
            {
                "at": approval.at,
                "text": _("Discount %(p)s%%: %(decision)s")
                % {
                    "p": format_quantity(approval.discount_percent, _ui_language()),
                    "decision": approval.get_decision_display().lower(),
                },
                "user": approval.user,
                "note": approval.note,
            }
        )
    if quote.sent_at:
        events.append(
            {"at": quote.sent_at, "text": _("Sent to %(to)s") % {"to": quote.sent_to}, "user": None}
        )
    if quote.responded_at:
        events.append(
            {
                "at": quote.responded_at,
                "text": _("Accepted by the customer")
                if quote.status == QuoteStatus.ACCEPTED
                else _("Declined by the customer"),
                "user": None,
                "note": quote.decline_reason,
            }
        )
    return sorted(events, key=lambda e: e["at"])


@login_required
@ui_errors
def quote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.quote_get_for_user(user=request.user, pk=pk)
    return render(request, "quotes/quote_detail.html", _detail_context(request, quote))


def _after_change(request: HttpRequest, quote, error: KlientoError | None = None, form: str = ""):
    """Back to the editor; an error re-renders the page with it (200 for htmx so it swaps)."""
    if error is None:
        return redirect("quote_detail", quote.pk)
    quote = selectors.quote_get_for_user(user=request.user, pk=quote.pk)
    fields = translate_errors(error.fields) if error.fields else {}
    context = _detail_context(
        request,
        quote,
        errors=fields,
        error_message=error.message,
        error_form=form,
        posted=request.POST,
    )
    status = 200 if request.htmx else (422 if isinstance(error, ValidationFailedError) else 409)
    return render(request, "quotes/quote_detail.html", context, status=status)


def _version(request: HttpRequest) -> int | None:
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


def _act(request: HttpRequest, pk: int, action, form: str = "", **kwargs) -> HttpResponse:
    quote = selectors.quote_get_for_user(user=request.user, pk=pk, for_write=True)
    try:
        action(user=request.user, quote=quote, **kwargs)
    except StaleVersionError:
        return _after_change(
            request,
            quote,
            ConflictError(
                _("Someone else changed this quote meanwhile; the page now shows the latest.")
            ),
            form,
        )
    except (ValidationFailedError, ConflictError) as exc:
        return _after_change(request, quote, exc, form)
    return _after_change(request, quote)


@login_required
@ui_errors
@require_POST
def quote_edit(request: HttpRequest, pk: int) -> HttpResponse:
    data = {
        "valid_until": request.POST.get("valid_until", ""),
        "terms": request.POST.get("terms", ""),
        "language": request.POST.get("language", "en"),
        "discount_kind": request.POST.get("discount_kind", ""),
        "discount_value": request.POST.get("discount_value", ""),
    }
    return _act(request, pk, services.quote_update, "header", data=data)


@login_required
@ui_errors
@require_POST
def quote_line_add(request: HttpRequest, pk: int) -> HttpResponse:
    post = request.POST
    if post.get("product_id"):
        data = {"product_id": post["product_id"], "quantity": post.get("quantity") or "1"}
    else:
        data = {
            "description": post.get("description", ""),
            "unit": post.get("unit", ""),
            "quantity": post.get("quantity") or "1",
            "price": post.get("price", ""),
            "tax_rate": post.get("tax_rate") or str(OrgSettings.get().default_tax_rate),
        }
    return _act(request, pk, services.quote_line_add, "add", data=data)


@login_required
@ui_errors
@require_POST
def quote_line_edit(request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
    post = request.POST
    data = {
        "quantity": post.get("quantity", ""),
        "discount_kind": post.get("discount_kind", ""),
        "discount_value": post.get("discount_value", ""),
    }
    if "price" in post:
        data["price"] = post["price"]
    if "description" in post:
        data["description"] = post["description"]
    return _act(
        request, pk, services.quote_line_update, f"line-{line_id}", line_id=line_id, data=data
    )


@login_required
@ui_errors
@require_POST
def quote_line_delete(request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
    return _act(request, pk, services.quote_line_remove, f"line-{line_id}", line_id=line_id)


@login_required
@ui_errors
def quote_products(request: HttpRequest, pk: int) -> HttpResponse:
    """The product picker: active products priced in the quote's price list (htmx)."""
    quote = selectors.quote_get_for_user(user=request.user, pk=pk)
    q = request.GET.get("q", "").strip()[:100]
    items = price_list_items(price_list=quote.price_list, q=q).filter(product__active=True)[:20]
    return render(
        request, "quotes/partials/_product_pick.html", {"quote": quote, "items": items, "q": q}
    )


@login_required
@ui_errors
@require_POST
def quote_approval(request: HttpRequest, pk: int) -> HttpResponse:
    action = request.POST.get("action", "")
    note = request.POST.get("note", "")
    if action == "approve" or action == "reject":
        quote = selectors.quote_get_for_user(user=request.user, pk=pk)
        fn = services.quote_approve if action == "approve" else services.quote_reject
        try:
            fn(user=request.user, quote=quote, note=note)
        except (ValidationFailedError, ConflictError) as exc:
            return _after_change(request, quote, exc, "approval")
        messages.success(request, _("Your decision is recorded."))
        return _after_change(request, quote)
    if action == "request":
        return _act(request, pk, services.quote_request_approval, "approval", note=note)
    raise Http404()


@login_required
@ui_errors
@require_POST
def quote_revise(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.quote_get_for_user(user=request.user, pk=pk, for_write=True)
    try:
        new = services.quote_revise(user=request.user, quote=quote)
    except ConflictError as exc:
        return _after_change(request, quote, exc, "revise")
    messages.success(
        request, _("Version %(n)s is created; the previous one is kept.") % {"n": new.revision}
    )
    response = redirect("quote_detail", new.pk)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("quote_detail", args=[new.pk])
    return response


@login_required
@ui_errors
@require_POST
def quote_send(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.quote_get_for_user(user=request.user, pk=pk, for_write=True)
    try:
        services.quote_send(
            user=request.user,
            quote=quote,
            to=request.POST.get("to", ""),
            message=request.POST.get("message", ""),
            base_url=request.build_absolute_uri("/"),
        )
    except (ValidationFailedError, ConflictError) as exc:
        return _after_change(request, quote, exc, "send")
    messages.success(request, _("The quote is sent."))
    return _after_change(request, quote)


@login_required
@ui_errors
def quote_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.quote_get_for_user(user=request.user, pk=pk)
    return _pdf_response(quote)


def _pdf_response(quote) -> HttpResponse:
    response = HttpResponse(render_quote_pdf(quote), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{quote_pdf_filename(quote)}"'
    return response


# --- the customer's page -------------------------------------------------------------------


def _public_quote(token: str):
    try:
        return selectors.quote_get_by_token(token=token)
    except NotFoundError as exc:
        raise Http404() from exc


def _public_render(
    request: HttpRequest, quote, *, answered: str = "", problem: str = "", status=200
):
    from django.utils import translation

    with translation.override(quote.language):
        context = {
            "quote": quote,
            "lines": selectors.quote_lines(quote=quote),
            "org": OrgSettings.get(),
            "problem": problem or services.answer_problem(quote),
            "answered": answered,
            "net_total": quote.subtotal - quote.discount_total,
        }
        response = render(request, "quotes/quote_public.html", context, status=status)
        response["Content-Language"] = quote.language
        return response


@require_http_methods(["GET"])
def quote_public(request: HttpRequest, token: str) -> HttpResponse:
    return _public_render(request, _public_quote(token))


@require_http_methods(["GET"])
def quote_public_pdf(request: HttpRequest, token: str) -> HttpResponse:
    return _pdf_response(_public_quote(token))


@require_http_methods(["GET"])
def quote_public_logo(request: HttpRequest, token: str) -> HttpResponse:
    _public_quote(token)
    return _logo_response()


@require_POST
def quote_public_answer(request: HttpRequest, token: str, answer: str) -> HttpResponse:
    from django.utils import translation

    quote = _public_quote(token)
    try:
        with translation.override(quote.language):
            if answer == "accept":
                quote = services.quote_accept(quote=quote)
            else:
                quote = services.quote_decline(quote=quote, reason=request.POST.get("reason", ""))
    except KlientoError as exc:
        # Already answered, expired, superseded — or the order could not be made: say so.
        quote = _public_quote(token)
        return _public_render(request, quote, problem=exc.message, status=409)
    return _public_render(request, quote, answered=answer)


# --- company details (settings) ----------------------------------------------------------------

COMPANY_FIELDS = (
    "company_name",
    "legal_name",
    "tax_id",
    "address",
    "phone",
    "email",
    "website",
    "bank_details",
    "currency",
    "default_tax_rate",
    "quote_validity_days",
    "quote_terms",
)


@login_required
@require_http_methods(["GET", "POST"])
def settings_company_details(request: HttpRequest) -> HttpResponse:
    if not is_admin(request.user):
        return render(request, "core/settings/forbidden.html", status=403)
    org = OrgSettings.get()
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in COMPANY_FIELDS}
        upload = request.FILES.get("logo")
        logo = None
        logo_type = ""
        if upload is not None:
            if upload.size > services.LOGO_MAX_BYTES:
                errors["logo"] = _("The logo must be at most 1 MB.")
            else:
                logo = upload.read()
                logo_type = upload.content_type or ""
        if not errors:
            try:
                services.company_details_update(
                    user=request.user,
                    data=values,
                    logo=logo,
                    logo_type=logo_type,
                    remove_logo=request.POST.get("remove_logo") == "on",
                )
            except ValidationFailedError as exc:
                errors = translate_errors(exc.fields)
            else:
                messages.success(request, _("Company details are saved."))
                return redirect("settings_company_details")
    else:
        values = {k: getattr(org, k) for k in COMPANY_FIELDS}
    context = {
        "section": "settings",
        "settings_area": "company_details",
        "is_admin": True,
        "values": values,
        "errors": errors,
        "has_logo": bool(org.logo),
    }
    return render(request, "quotes/company_details.html", context, status=422 if errors else 200)


@login_required
def company_logo(request: HttpRequest) -> HttpResponse:
    return _logo_response()


def _logo_response() -> HttpResponse:
    org = OrgSettings.get()
    if not org.logo:
        raise Http404()
    response = HttpResponse(bytes(org.logo), content_type=org.logo_type or "image/png")
    response["Cache-Control"] = "private, max-age=60"
    return response
