"""/api/v1 endpoints for products and price lists, currency rates and discount limits.

Everyone signed in reads; admins and heads of sales change products and price lists; only
admins change rates and discount limits (they are company settings).
"""

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from kliento.api import expected_version, not_modified
from kliento.core.errors import ValidationFailedError
from kliento.core.models import Role
from kliento.core.schemas import Cursor, ErrorOut, Id
from kliento.sales.catalog import selectors, services
from kliento.sales.catalog.schemas import (
    CurrencyRateIn,
    CurrencyRateOut,
    DiscountLimitIn,
    DiscountLimitOut,
    PriceIn,
    PriceListFilter,
    PriceListIn,
    PriceListItemOut,
    PriceListOut,
    PriceListPage,
    PriceListPatch,
    ProductFilter,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
)

router = Router(tags=["products and price lists"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    412: ErrorOut,
    422: ErrorOut,
}


def _check_params(request: HttpRequest, schema) -> None:
    known = set(schema.model_fields) | {"cursor", "limit"}
    unknown = sorted(k for k in request.GET if k not in known)
    if unknown:
        raise ValidationFailedError(fields={k: "Unknown filter." for k in unknown})


def _detail(request, response, obj):
    cached = not_modified(request, obj)
    if cached is not None:
        return cached
    response["ETag"] = obj.etag
    return obj


def _written(response, obj, status=200):
    response["ETag"] = obj.etag
    return Status(status, obj)


# --- products --------------------------------------------------------------------------------


@router.get("/products", response={200: ProductPage, **ERRORS})
def product_list(request: HttpRequest, filters: Query[ProductFilter], page: Query[Cursor]):
    _check_params(request, ProductFilter)
    data = filters.model_dump(exclude_none=True, exclude={"sort"})
    return selectors.product_list(
        user=request.auth, filters=data, sort=filters.sort, cursor=page.cursor, limit=page.limit
    )


@router.post("/products", response={201: ProductOut, **ERRORS})
def product_create(request: HttpRequest, response: HttpResponse, payload: ProductIn):
    product = services.product_create(user=request.auth, data=payload.model_dump())
    response["Location"] = f"/api/v1/products/{product.pk}"
    return _written(response, product, 201)


@router.get("/products/{id}", response={200: ProductOut, **ERRORS})
def product_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    return _detail(request, response, selectors.product_get(pk=id))


@router.patch("/products/{id}", response={200: ProductOut, **ERRORS})
def product_update(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: ProductPatch
):
    product = selectors.product_get(pk=id)
    product = services.product_update(
        user=request.auth,
        product=product,
        data=payload.model_dump(exclude_unset=True),
        expected_version=expected_version(request, product),
    )
    return _written(response, product)


# --- price lists -------------------------------------------------------------------------------


@router.get("/price-lists", response={200: PriceListPage, **ERRORS})
def price_list_list(request: HttpRequest, filters: Query[PriceListFilter], page: Query[Cursor]):
    _check_params(request, PriceListFilter)
    return selectors.price_list_list(
        filters=filters.model_dump(exclude_none=True), cursor=page.cursor, limit=page.limit
    )


@router.post("/price-lists", response={201: PriceListOut, **ERRORS})
def price_list_create(request: HttpRequest, response: HttpResponse, payload: PriceListIn):
    plist = services.price_list_create(user=request.auth, data=payload.model_dump())
    response["Location"] = f"/api/v1/price-lists/{plist.pk}"
    return _written(response, plist, 201)


@router.get("/price-lists/{id}", response={200: PriceListOut, **ERRORS})
def price_list_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    return _detail(request, response, selectors.price_list_get(pk=id))


@router.patch("/price-lists/{id}", response={200: PriceListOut, **ERRORS})
def price_list_update(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: PriceListPatch
):
    plist = selectors.price_list_get(pk=id)
    plist = services.price_list_update(
        user=request.auth,
        price_list=plist,
        data=payload.model_dump(exclude_unset=True),
        expected_version=expected_version(request, plist),
    )
    return _written(response, plist)


@router.get("/price-lists/{id}/items", response={200: list[PriceListItemOut], **ERRORS})
def price_list_items(request: HttpRequest, id: Path[Id]):
    """Every product priced in the list, by product name."""
    return list(selectors.price_list_items(price_list=selectors.price_list_get(pk=id)))


@router.put("/price-lists/{id}/items/{product_id}", response={200: PriceListItemOut, **ERRORS})
def price_list_item_set(request: HttpRequest, id: Path[Id], product_id: Path[Id], payload: PriceIn):
    """Set the product's price in this list (adds the product if it is not there yet)."""
    plist = selectors.price_list_get(pk=id)
    product = selectors.product_get(pk=product_id)
    return services.price_list_item_set(
        user=request.auth, price_list=plist, product=product, price=payload.price
    )


@router.delete("/price-lists/{id}/items/{product_id}", response={204: None, **ERRORS})
def price_list_item_remove(request: HttpRequest, id: Path[Id], product_id: Path[Id]):
    plist = selectors.price_list_get(pk=id)
    product = selectors.product_get(pk=product_id)
    services.price_list_item_remove(user=request.auth, price_list=plist, product=product)
    return Status(204, None)


# --- rates and limits --------------------------------------------------------------------------


@router.get("/currency-rates", response={200: list[CurrencyRateOut], **ERRORS})
def currency_rate_list(request: HttpRequest, currency: str = ""):
    """Every rate by currency, newest first; the rate in force is the newest on or before a day."""
    return list(selectors.currency_rate_list(currency=currency[:3]))


@router.post("/currency-rates", response={201: CurrencyRateOut, **ERRORS})
def currency_rate_create(request: HttpRequest, payload: CurrencyRateIn):
    data = payload.model_dump(exclude_none=True)
    return Status(201, services.currency_rate_create(user=request.auth, data=data))


@router.get("/discount-limits", response={200: list[DiscountLimitOut], **ERRORS})
def discount_limit_list(request: HttpRequest):
    """The maximum discount of each role without approval (null: not set; admins have none)."""
    return [
        {"role": row["role"], "max_percent": row["max_percent"]}
        for row in selectors.discount_limits()
    ]


@router.put("/discount-limits/{role}", response={200: DiscountLimitOut, **ERRORS})
def discount_limit_set(request: HttpRequest, role: Path[Role], payload: DiscountLimitIn):
    services.discount_limit_set(user=request.auth, role=role.value, max_percent=payload.max_percent)
    return {"role": role.value, "max_percent": payload.max_percent}
