"""/api/v1 endpoints for quotes: list/create from a deal/get/patch, lines, versions, approval,
sending, the PDF, and the customer's public accept/decline (no authentication, the token is
the key)."""

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from kliento.api import expected_version, not_modified
from kliento.core.errors import ValidationFailedError
from kliento.core.schemas import Cursor, ErrorOut, Id, Text
from kliento.sales.catalog.models import PriceList
from kliento.sales.quotes import selectors, services
from kliento.sales.quotes.pdf import quote_pdf_filename, render_quote_pdf
from kliento.sales.quotes.schemas import (
    DeclineIn,
    NoteIn,
    PublicAnswerOut,
    QuoteFilter,
    QuoteIn,
    QuoteLineIn,
    QuoteLineOut,
    QuoteLinePatch,
    QuoteOut,
    QuotePage,
    QuotePatch,
    SendIn,
)

router = Router(tags=["quotes"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    412: ErrorOut,
    422: ErrorOut,
}


def _full(quote):
    quote.line_list = selectors.quote_lines(quote=quote)
    quote.approval_list = selectors.quote_approvals(quote=quote)
    return quote


def _written(response: HttpResponse, quote, status: int = 200):
    quote.refresh_from_db()
    response["ETag"] = quote.etag
    return Status(status, _full(quote))


def _dump(payload) -> dict:
    return {
        k: (str(v) if v is not None and k != "product_id" else v)
        for k, v in payload.model_dump(exclude_unset=True).items()
    }


@router.get("/quotes", response={200: QuotePage, **ERRORS})
def quote_list(request: HttpRequest, filters: Query[QuoteFilter], page: Query[Cursor]):
    """Quotes whose deal you can see, newest first."""
    known = set(QuoteFilter.model_fields) | {"cursor", "limit"}
    unknown = {k for k in request.GET if k not in known}
    if unknown:
        raise ValidationFailedError(fields={k: "Unknown filter." for k in sorted(unknown)})
    data = filters.model_dump(exclude_none=True)
    if "status" in data:
        data["status"] = str(data["status"].value)
    return selectors.quote_list(
        user=request.auth, filters=data, cursor=page.cursor, limit=page.limit
    )


@router.post("/quotes", response={201: QuoteOut, **ERRORS})
def quote_create(request: HttpRequest, response: HttpResponse, payload: QuoteIn):
    """A draft quote from a deal, priced from its price list (or the default valid one)."""
    from kliento.sales.deals.selectors import deal_get_for_user

    deal = deal_get_for_user(user=request.auth, pk=payload.deal_id, for_write=True)
    plist = None
    if payload.price_list_id is not None:
        plist = PriceList.objects.filter(pk=payload.price_list_id).first()
        if plist is None:
            raise ValidationFailedError(fields={"price_list_id": "No such price list."})
    quote = services.quote_create(user=request.auth, deal=deal, price_list=plist)
    response["Location"] = f"{request.path.rstrip('/')}/{quote.pk}"
    return _written(response, quote, 201)


@router.get("/quotes/{id}", response={200: QuoteOut, **ERRORS})
def quote_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    quote = selectors.quote_get_for_user(user=request.auth, pk=id)
    cached = not_modified(request, quote)
    if cached is not None:
        return cached
    response["ETag"] = quote.etag
    return _full(quote)


@router.patch("/quotes/{id}", response={200: QuoteOut, **ERRORS})
def quote_update(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: QuotePatch):
    """Change the conditions or the document discount; send If-Match to avoid lost updates."""
    quote = selectors.quote_get_for_user(user=request.auth, pk=id, for_write=True)
    data = payload.model_dump(exclude_unset=True)
    quote = services.quote_update(
        user=request.auth, quote=quote, data=data, expected_version=expected_version(request, quote)
    )
    return _written(response, quote)


@router.post("/quotes/{id}/lines", response={201: QuoteLineOut, **ERRORS})
def quote_line_add(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: QuoteLineIn
):
    """A product line (price from the price list) or a free-text line (description + price)."""
    quote = selectors.quote_get_for_user(user=request.auth, pk=id, for_write=True)
    line = services.quote_line_add(
        user=request.auth,
        quote=quote,
        data=_dump(payload),
        expected_version=expected_version(request, quote),
    )
    quote.refresh_from_db()
    response["ETag"] = quote.etag
    return Status(201, line)


@router.patch("/quotes/{id}/lines/{line_id}", response={200: QuoteLineOut, **ERRORS})
def quote_line_update(
    request: HttpRequest,
    response: HttpResponse,
    id: Path[Id],
    line_id: Path[Id],
    payload: QuoteLinePatch,
):
    quote = selectors.quote_get_for_user(user=request.auth, pk=id, for_write=True)
    line = services.quote_line_update(
        user=request.auth,
        quote=quote,
        line_id=line_id,
        data=_dump(payload),
        expected_version=expected_version(request, quote),
    )
    quote.refresh_from_db()
    response["ETag"] = quote.etag
    return line


@router.delete("/quotes/{id}/lines/{line_id}", response={204: None, **ERRORS})
def quote_line_delete(
    request: HttpRequest, response: HttpResponse, id: Path[Id], line_id: Path[Id]
):
    quote = selectors.quote_get_for_user(user=request.auth, pk=id, for_write=True)
    quote = services.quote_line_remove(
        user=request.auth,
        quote=quote,
        line_id=line_id,
        expected_version=expected_version(request, quote),
    )
    response["ETag"] = quote.etag
    return Status(204, None)


@router.post("/quotes/{id}/revise", response={201: QuoteOut, **ERRORS})
def quote_revise(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    """A new version (revision + 1) with the same lines; this one becomes superseded."""
    quote = selectors.quote_get_for_user(user=request.auth, pk=id, for_write=True)
    new = services.quote_revise(
        user=request.auth, quote=quote, expected_version=expected_version(request, quote)
    )
    response["Location"] = f"/api/v1/quotes/{new.pk}"
    return _written(response, new, 201)


@router.post("/quotes/{id}/request-approval", response={200: QuoteOut, **ERRORS})
def quote_request_approval(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: NoteIn
):
    quote = selectors.quote_get_for_user(user=request.auth, pk=id, for_write=True)
    quote = services.quote_request_approval(
        user=request.auth,
        quote=quote,
        note=payload.note,
        expected_version=expected_version(request, quote),
    )
    return _written(response, quote)


@router.post("/quotes/{id}/approve", response={200: QuoteOut, **ERRORS})
def quote_approve(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: NoteIn):
    """Heads of sales (for their team) and administrators approve a discount above the limit."""
    quote = selectors.quote_get_for_user(user=request.auth, pk=id)
    quote = services.quote_approve(
        user=request.auth,
        quote=quote,
        note=payload.note,
        expected_version=expected_version(request, quote),
    )
    return _written(response, quote)


@router.post("/quotes/{id}/reject", response={200: QuoteOut, **ERRORS})
def quote_reject(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: NoteIn):
    quote = selectors.quote_get_for_user(user=request.auth, pk=id)
    quote = services.quote_reject(
        user=request.auth,
        quote=quote,
        note=payload.note,
        expected_version=expected_version(request, quote),
    )
    return _written(response, quote)


@router.post("/quotes/{id}/send", response={200: QuoteOut, **ERRORS})
def quote_send(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: SendIn):
    """Email the PDF and the accept/decline link to the contact (or `to`)."""
    quote = selectors.quote_get_for_user(user=request.auth, pk=id, for_write=True)
    quote = services.quote_send(
        user=request.auth,
        quote=quote,
        to=payload.to,
        message=payload.message,
        base_url=request.build_absolute_uri("/"),
        expected_version=expected_version(request, quote),
    )
    return _written(response, quote)


@router.get(
    "/quotes/{id}/pdf",
    response={200: None, **ERRORS},
    openapi_extra={
        "responses": {200: {"description": "application/pdf", "content": {"application/pdf": {}}}}
    },
)
def quote_pdf(request: HttpRequest, id: Path[Id]):
    quote = selectors.quote_get_for_user(user=request.auth, pk=id)
    response = HttpResponse(render_quote_pdf(quote), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{quote_pdf_filename(quote)}"'
    return response


@router.post("/public/quotes/{token}/accept", auth=None, response={200: PublicAnswerOut, **ERRORS})
def public_quote_accept(request: HttpRequest, token: Path[Text(64)]):
    """The customer accepts (the token from the emailed link is the only credential)."""
    return services.quote_accept(quote=selectors.quote_get_by_token(token=token))


@router.post("/public/quotes/{token}/decline", auth=None, response={200: PublicAnswerOut, **ERRORS})
def public_quote_decline(request: HttpRequest, token: Path[Text(64)], payload: DeclineIn):
    return services.quote_decline(
        quote=selectors.quote_get_by_token(token=token), reason=payload.reason
    )
