"""API schemas of the catalogue: products, price lists and their prices, rates, discount limits."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import Field

from kliento.core.models import Role
from kliento.core.schemas import BaseIn, DateIn, Text, patch_schema
from kliento.customers.schemas import BaseFilter, Page
from kliento.sales.catalog.models import MAX_MONEY

Amount = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, decimal_places=2)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
Currency = Annotated[Text(3), Field(pattern=r"^[A-Za-z]{3}$")]


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    category: str
    unit: str
    description: str
    cost: Decimal
    tax_rate: Decimal
    active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class ProductPage(Page):
    items: list[ProductOut]


class ProductFilter(BaseFilter):
    q: Text(100) | None = Field(None, description="SKU prefix or part of the name")
    category: Text(100) | None = None
    active: bool | None = None
    sort: Text(20) = Field("name", description="name, sku, category, created; '-' for descending")


class ProductIn(BaseIn):
    sku: Text(64, min_length=1)
    name: Text(255, min_length=1)
    category: Text(100) = ""
    unit: Text(20, min_length=1) = "pcs"
    description: Text(5000) = ""
    cost: Amount = Decimal("0")
    tax_rate: Percent = Decimal("0")
    active: bool = True


ProductPatch = patch_schema(ProductIn, "ProductPatch")


class PriceListOut(Schema):
    id: int
    name: str
    currency: str
    segment: str
    region: str
    channel: str
    valid_from: date | None
    valid_to: date | None
    is_default: bool
    active: bool
    version: int


class PriceListPage(Page):
    items: list[PriceListOut]


class PriceListFilter(BaseFilter):
    q: Text(100) | None = None
    currency: Currency | None = None
    active: bool | None = None
    valid_on: DateIn | None = Field(None, description="only lists valid (and active) on this day")


class PriceListIn(BaseIn):
    name: Text(200, min_length=1)
    currency: Currency
    segment: Text(100) = ""
    region: Text(100) = ""
    channel: Text(20) = ""
    valid_from: DateIn | None = None
    valid_to: DateIn | None = None
    is_default: bool = False
    active: bool = True


PriceListPatch = patch_schema(PriceListIn, "PriceListPatch")


class PriceListItemOut(Schema):
    product_id: int
    sku: str = Field(validation_alias="product.sku")
    name: str = Field(validation_alias="product.name")
    unit: str = Field(validation_alias="product.unit")
    active: bool = Field(validation_alias="product.active")
    price: Decimal


class PriceIn(BaseIn):
    price: Amount


class CurrencyRateOut(Schema):
    id: int
    currency: str
    rate: Decimal
    valid_from: date


class CurrencyRateIn(BaseIn):
    currency: Currency
    rate: Annotated[Decimal, Field(gt=0, le=Decimal("999999999999"), decimal_places=6)]
    valid_from: DateIn | None = None


class DiscountLimitOut(Schema):
    role: Role
    max_percent: Decimal | None


class DiscountLimitIn(BaseIn):
    max_percent: Percent | None = Field(description="null removes the limit row")
