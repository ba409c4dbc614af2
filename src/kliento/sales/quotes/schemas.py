"""API schemas of quotes: the quote, its lines, approvals, and the inputs of each action."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field

from kliento.core.schemas import BaseIn, DateIn, Id, Text
from kliento.customers.schemas import BaseFilter, Page
from kliento.sales.catalog.models import MAX_MONEY
from kliento.sales.quotes.models import QuoteStatus

Amount = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, le=Decimal("999999999"), decimal_places=3)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)]
DiscountKindIn = Literal["percent", "amount", ""]


class QuoteLineOut(Schema):
    id: int
    position: int
    product_id: int | None
    description: str
    unit: str
    quantity: Decimal
    price: Decimal
    discount_kind: str
    discount_value: Decimal
    tax_rate: Decimal
    net: Decimal
    discount_amount: Decimal
    tax: Decimal


class QuoteApprovalOut(Schema):
    decision: str
    discount_percent: Decimal
    limit_percent: Decimal
    user_id: int | None
    note: str
    at: datetime


class QuoteListOut(Schema):
    id: int
    number: str
    revision: int
    status: QuoteStatus
    deal_id: int
    contact_id: int | None
    company_id: int | None
    owner_id: int
    currency: str
    total: Decimal
    issued_on: date
    valid_until: date | None
    created_at: datetime


class QuoteOut(QuoteListOut):
    price_list_id: int
    language: str
    terms: str
    discount_kind: str
    discount_value: Decimal
    subtotal: Decimal
    discount_total: Decimal
    tax_total: Decimal
    discount_percent: Decimal
    approved_by_id: int | None
    approved_at: datetime | None
    sent_at: datetime | None
    sent_to: str
    responded_at: datetime | None
    decline_reason: str
    version: int
    lines: list[QuoteLineOut] = Field(validation_alias="line_list")
    approvals: list[QuoteApprovalOut] = Field(validation_alias="approval_list")


class QuotePage(Page):
    items: list[QuoteListOut]


class QuoteFilter(BaseFilter):
    status: QuoteStatus | None = None
    owner_id: Id | None = None
    deal_id: Id | None = None
    q: Text(30) | None = Field(None, description="number prefix")
    latest: bool | None = Field(None, description="leave out superseded versions")


class QuoteIn(BaseIn):
    deal_id: Id
    price_list_id: Id | None = Field(
        None, description="default: the deal's, else the default valid one"
    )


class QuotePatch(BaseIn):
    valid_until: DateIn | None = None
    issued_on: DateIn | None = None
    terms: Text(10000) | None = None
    language: Literal["en", "ru"] | None = None
    discount_kind: DiscountKindIn | None = None
    discount_value: Amount | None = None


class QuoteLineIn(BaseIn):
    product_id: Id | None = Field(None, description="a product priced in the quote's price list")
    description: Text(500) | None = Field(None, description="a free-text line (no product)")
    unit: Text(20) | None = None
    quantity: Quantity = Decimal("1")
    price: Amount | None = Field(None, description="free-text lines only")
    discount_kind: DiscountKindIn | None = None
    discount_value: Amount | None = None
    tax_rate: Percent | None = Field(None, description="free-text lines only")


class QuoteLinePatch(BaseIn):
    description: Text(500) | None = None
    unit: Text(20) | None = None
    quantity: Quantity | None = None
    price: Amount | None = None
    discount_kind: DiscountKindIn | None = None
    discount_value: Amount | None = None
    tax_rate: Percent | None = None
    position: Annotated[int, Field(ge=0, le=100000)] | None = None


class NoteIn(BaseIn):
    note: Text(2000) = ""


class SendIn(BaseIn):
    to: Text(254) = Field("", description="default: the deal contact's first email")
    message: Text(5000) = ""


class DeclineIn(BaseIn):
    reason: Text(2000) = ""


class PublicAnswerOut(Schema):
    number: str
    revision: int
    status: QuoteStatus
