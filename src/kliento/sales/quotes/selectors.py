"""Reads of quotes. A quote is visible exactly when its deal is visible; it is editable when the
deal is editable (and its status allows it — see services)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from kliento.core.models import User
from kliento.core.permissions import can_read, can_write, record_q
from kliento.customers.selectors import Page, keyset_page, parse_id
from kliento.sales.quotes.models import Quote, QuoteStatus

QUOTE_FILTERS = {"status", "owner_id", "deal_id", "q", "latest"}


def quote_qs(user: User, *, for_write: bool = False) -> QuerySet[Quote]:
    q = record_q(user, "deal", prefix="deal__", for_write=for_write)
    qs = Quote.objects.all()
    return qs.filter(q) if q is not None else qs


def quote_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> Quote:
    pk_int = parse_id(pk)
    obj = (
        Quote.objects.select_related(
            "deal", "price_list", "contact", "company", "owner", "approved_by"
        )
        .filter(pk=pk_int)
        .first()
        if pk_int
        else None
    )
    if obj is None or not can_read(user, "deal", obj.deal):
        raise NotFoundError(_("No quote with id %(id)s.") % {"id": pk})
    if for_write and not can_write(user, "deal", obj.deal):
        raise PermissionDeniedError(_("You can view this quote but not change it."))
    return obj


def quote_get_by_token(*, token: str) -> Quote:
    """The quote behind a customer's link; any bad token is simply not found."""
    if not token or len(token) > 64:
        raise NotFoundError()
    obj = (
        Quote.objects.select_related("deal", "contact", "company", "owner", "price_list")
        .filter(token=token)
        .first()
    )
    if obj is None:
        raise NotFoundError()
    return obj


def quote_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = set(filters) - QUOTE_FILTERS
    if unknown:
        raise ValidationFailedError(fields={k: _("Unknown filter.") for k in sorted(unknown)})
    qs = quote_qs(user).select_related("deal", "contact", "company", "owner")
    if "status" in filters:
        if filters["status"] not in QuoteStatus.values:
            raise ValidationFailedError(fields={"status": _("Unknown status.")})
        qs = qs.filter(status=filters["status"])
    for key in ("owner_id", "deal_id"):
        if key in filters:
            value = parse_id(filters[key])
            if value is None:
                raise ValidationFailedError(fields={key: _("Expected an id.")})
            qs = qs.filter(**{key: value})
    if "q" in filters:
        qs = qs.filter(number__istartswith=str(filters["q"]).strip())
    if str(filters.get("latest", "")).lower() in {"1", "true", "yes"}:
        qs = qs.exclude(status=QuoteStatus.SUPERSEDED)
    return keyset_page(qs, [("created_at", True, "dt"), ("id", True, "int")], cursor, limit)


def quote_versions(*, quote: Quote) -> list[Quote]:
    return list(Quote.objects.filter(number=quote.number).order_by("-revision"))


def quote_lines(*, quote: Quote):
    return list(quote.lines.select_related("product").order_by("position", "id"))


def quote_approvals(*, quote: Quote):
    return list(quote.approvals.select_related("user").order_by("at", "id"))
