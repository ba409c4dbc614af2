"""API schemas of orders: input bodies forbid unknown fields; money is exact (JSON strings)."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from kliento.core.schemas import BaseIn, DateIn, DateTimeIn, Id, Text
from kliento.customers.models import Channel
from kliento.customers.schemas import BaseFilter, Page
from kliento.sales.orders.models import OrderStatus

Quantity = Annotated[Decimal, Field(max_digits=12, decimal_places=3)]
Amount = Annotated[Decimal, Field(max_digits=16, decimal_places=2)]


class OrderLineIn(BaseIn):
    product: Id
    quantity: Quantity = Field(description="greater than zero")
    price: Amount | None = Field(None, description="unit price; from the price list if absent")
    discount_kind: Literal["", "percent", "amount"] = ""
    discount_value: Amount = Decimal("0")
    description: Text(500) = ""


class OrderIn(BaseIn):
    contact: Id | None = None
    company: Id | None = None
    owner: Id | None = Field(None, description="defaults to you")
    deal: Id | None = None
    ordered_at: DateTimeIn | DateIn | None = Field(None, description="defaults to now")
    channel: Channel = Channel.OTHER
    currency: Text(3) = Field("", description="the price list's or the company currency")
    price_list: Id | None = None
    note: Text(5000) = ""
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=500)]


class OrderPatch(BaseIn):
    """Editable while the order is new."""

    note: Text(5000) | None = None
    channel: Channel | None = None
    ordered_at: DateTimeIn | DateIn | None = None


class StatusIn(BaseIn):
    status: OrderStatus


class Ref(Schema):
    id: int
    name: str


class OrderLineOut(Schema):
    id: int
    position: int
    product_id: int | None
    description: str
    quantity: Decimal
    price: Decimal
    discount: Decimal
    net: Decimal
    tax_rate: Decimal
    tax: Decimal
    cost: Decimal = Field(description="unit cost, company currency")
    revenue_company: Decimal


class OrderListOut(Schema):
    id: int
    number: str
    status: OrderStatus
    ordered_at: datetime
    channel: str
    contact_id: int | None
    company_id: int | None
    owner_id: int
    deal_id: int | None
    quote_id: int | None
    currency: str
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    revenue_company: Decimal
    cost_company: Decimal
    margin_company: Decimal
    version: int


class OrderOut(OrderListOut):
    price_list_id: int | None
    note: str
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineOut]

    @staticmethod
    def resolve_lines(obj):
        return list(obj.lines.order_by("position", "id"))


class Totals(Schema):
    count: int
    revenue: Decimal
    cost: Decimal
    margin: Decimal


class OrderPage(Page):
    items: list[OrderListOut]
    totals: Totals = Field(description="the whole filtered list, company currency")


OrderSort = Literal["date", "-date", "total", "-total"]


class OrderFilter(BaseFilter):
    status: Text(100) | None = Field(None, description="one status or several, comma-separated")
    channel: Channel | None = None
    owner_id: Id | None = None
    contact_id: Id | None = None
    company_id: Id | None = None
    deal_id: Id | None = None
    q: Text(100) | None = Field(None, description="number, contact or company name starts with")
    date_from: DateIn | None = None
    date_to: DateIn | None = None
    sort: OrderSort = "-date"


class FactsQuery(BaseFilter):
    date_from: DateIn
    date_to: DateIn
    status: Text(100) | None = Field(None, description="comma-separated statuses")
    lines: bool = True
    cursor: str | None = Field(None, max_length=500)
    limit: int = Field(200, ge=1, le=200)


class LineFact(Schema):
    id: int
    product_id: int | None
    sku: str
    description: str
    quantity: Decimal
    price: Decimal
    discount: Decimal
    net: Decimal
    tax_rate: Decimal
    tax: Decimal
    unit_cost: Decimal
    revenue_company: Decimal
    cost_company: Decimal
    margin_company: Decimal


class OrderFact(Schema):
    id: int
    number: str
    ordered_at: datetime
    status: str
    counted: bool = Field(description="false for cancelled and returned orders")
    channel: str
    contact_id: int | None
    company_id: int | None
    owner_id: int
    deal_id: int | None
    quote_id: int | None
    currency: str
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal
    revenue_company: Decimal
    cost_company: Decimal
    margin_company: Decimal
    lines: list[LineFact]


class FactsPage(Page):
    items: list[OrderFact]
    currency: str = Field(description="the company currency of *_company amounts")


__all__ = ["date"]
