"""/api/v1 endpoints for orders: list with filters and cursor, create, read with ETag, patch
with If-Match, status changes, creation from an accepted quote, and exact facts for analytics.

Handlers parse input, pass the gate (hidden → 404, read-only → 403), call one selector or
service and serialise.
"""

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from kliento.api import expected_version, not_modified
from kliento.core.errors import NotFoundError, ValidationFailedError
from kliento.core.permissions import record_q
from kliento.core.schemas import Cursor, ErrorOut, Id
from kliento.sales.catalog.money import company_currency
from kliento.sales.orders import selectors, services
from kliento.sales.orders.schemas import (
    FactsPage,
    FactsQuery,
    OrderFilter,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderPatch,
    StatusIn,
)

router = Router(tags=["orders"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    412: ErrorOut,
    422: ErrorOut,
}


def _known_params(request: HttpRequest, allowed: set[str]) -> None:
    unknown = {k: _("Unknown filter.") for k in request.GET if k not in allowed}
    if unknown:
        raise ValidationFailedError(_("Invalid filters."), fields=unknown)


def _written(response: HttpResponse, order, status: int = 200):
    response["ETag"] = order.etag
    return Status(status, order)


@router.get("/orders", response={200: OrderPage, **ERRORS})
def order_list(request: HttpRequest, filters: Query[OrderFilter], page: Query[Cursor]):
    """Orders you can see, newest first; `totals` sums the whole filtered list."""
    _known_params(request, set(OrderFilter.model_fields) | {"cursor", "limit"})
    data = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in filters.model_dump(exclude_none=True, exclude={"sort"}).items()
    }
    result = selectors.order_list(
        user=request.auth, filters=data, sort=filters.sort, cursor=page.cursor, limit=page.limit
    )
    return {
        "items": result.items,
        "next_cursor": result.next_cursor,
        "prev_cursor": result.prev_cursor,
        "totals": result.extra["totals"],
    }


@router.post("/orders", response={201: OrderOut, **ERRORS})
def order_create(request: HttpRequest, response: HttpResponse, payload: OrderIn):
    data = payload.model_dump(exclude_unset=True)
    data["lines"] = [line.model_dump(exclude_unset=True) for line in payload.lines]
    order = services.order_create(user=request.auth, data=data)
    response["Location"] = f"{request.path.rstrip('/')}/{order.pk}"
    return _written(response, order, 201)


@router.get("/orders/facts", response={200: FactsPage, **ERRORS})
def order_facts(request: HttpRequest, query: Query[FactsQuery]):
    """Visible orders dated within [date_from, date_to], oldest first, with exact amounts,
    per-line revenue, cost and margin in the company currency (for analytics)."""
    _known_params(request, set(FactsQuery.model_fields))
    page = selectors.order_facts(
        user=request.auth,
        date_from=query.date_from,
        date_to=query.date_to,
        statuses=[s for s in (query.status or "").split(",") if s],
        include_lines=query.lines,
        cursor=query.cursor,
        limit=query.limit,
    )
    return {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
        "currency": company_currency(),
    }


@router.post("/orders/from-quote/{quote_id}", response={200: OrderOut, 201: OrderOut, **ERRORS})
def order_from_quote(request: HttpRequest, response: HttpResponse, quote_id: Path[Id]):
    """The order of an accepted quote: 201 when created, 200 when it already existed."""
    from kliento.sales.quotes.models import Quote

    qs = Quote.objects.all()
    q = record_q(request.auth, "quote")
    quote = (qs.filter(q) if q is not None else qs).filter(Q(pk=quote_id)).first()
    if quote is None:
        raise NotFoundError(_("No quote with id %(id)s.") % {"id": quote_id})
    existed = selectors.order_qs(request.auth).filter(quote_id=quote.pk).exists()
    order = services.order_create_from_quote(user=request.auth, quote=quote)
    return _written(response, order, 200 if existed else 201)


@router.get("/orders/{id}", response={200: OrderOut, **ERRORS})
def order_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    order = selectors.order_get_for_user(user=request.auth, pk=id)
    cached = not_modified(request, order)
    if cached is not None:
        return cached
    response["ETag"] = order.etag
    return order


@router.patch("/orders/{id}", response={200: OrderOut, **ERRORS})
def order_update(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: OrderPatch):
    """Change note, channel or date of a new order; send If-Match to avoid lost updates."""
    order = selectors.order_get_for_user(user=request.auth, pk=id, for_write=True)
    data = payload.model_dump(exclude_unset=True)
    for key in ("channel", "ordered_at"):
        if key in data and data[key] is None:
            raise ValidationFailedError(fields={key: _("This field can't be empty.")})
    order = services.order_update(
        user=request.auth,
        order=order,
        data=data,
        expected_version=expected_version(request, order),
    )
    return _written(response, order)


@router.post("/orders/{id}/status", response={200: OrderOut, **ERRORS})
def order_set_status(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: StatusIn):
    """new → paid → shipped; new/paid → cancelled; paid/shipped → returned (others 409)."""
    order = selectors.order_get_for_user(user=request.auth, pk=id, for_write=True)
    order = services.order_set_status(
        user=request.auth,
        order=order,
        status=payload.status,
        expected_version=expected_version(request, order),
    )
    return _written(response, order)
