"""Order fixtures: customers owned by reps, a USD rate, a quote built directly in the DB."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

import pytest

from kliento.sales.catalog.models import CurrencyRate
from kliento.sales.orders import services


@pytest.fixture
def contact(org, contact_factory):
    return contact_factory(owner=org.rep, first_name="Anna", last_name="Smirnova")


@pytest.fixture
def company(org, company_factory):
    return company_factory(owner=org.rep, name="Romashka LLC")


@pytest.fixture
def usd_rate(db):
    return CurrencyRate.objects.create(
        currency="USD", rate=Decimal("90.123456"), valid_from=dt.date(2020, 1, 1)
    )


@pytest.fixture
def make_order(org, contact, products, price_list):
    """make_order(user=org.rep, **data) -> Order via the service, one CRM-STD line by default."""

    def make(user=None, **data):
        data.setdefault("contact", contact.pk)
        data.setdefault("price_list", price_list.pk)
        data.setdefault("lines", [{"product": products[0].pk, "quantity": "2"}])
        return services.order_create(user=user or org.rep, data=data)

    return make


@pytest.fixture
def make_quote(org, contact, company, pipeline, deal_factory, price_list, products):
    """make_quote(status="accepted") -> a Quote with two lines, written straight to the DB."""
    from kliento.sales.quotes.models import Quote, QuoteLine

    def make(status="accepted", owner=None, **kwargs):
        owner = owner or org.rep
        deal = deal_factory(
            owner=owner, pipeline=pipeline, contact=contact, company=company, amount=Decimal("0")
        )
        quote = Quote.objects.create(
            deal=deal,
            number=f"Q-2026-{secrets.randbelow(10**6):06d}",
            status=status,
            price_list=price_list,
            currency="RUB",
            contact=contact,
            company=company,
            owner=owner,
            token=secrets.token_hex(16),
            subtotal=Decimal("5000.00"),
            discount_total=Decimal("450.00"),
            tax_total=Decimal("910.00"),
            total=Decimal("5460.00"),
            **kwargs,
        )
        QuoteLine.objects.create(
            quote=quote,
            position=0,
            product=products[0],
            description="CRM Standard licence",
            quantity=Decimal("2"),
            price=Decimal("1000.00"),
            discount_kind="percent",
            discount_value=Decimal("10"),
            tax_rate=Decimal("20"),
            cost=Decimal("300.00"),
            net=Decimal("1800.00"),
            discount_amount=Decimal("200.00"),
            tax=Decimal("360.00"),
        )
        QuoteLine.objects.create(
            quote=quote,
            position=1,
            product=None,
            description="Onboarding workshop",
            quantity=Decimal("1"),
            price=Decimal("3000.00"),
            discount_kind="amount",
            discount_value=Decimal("250.00"),
            tax_rate=Decimal("20"),
            cost=Decimal("1000.00"),
            net=Decimal("2750.00"),
            discount_amount=Decimal("250.00"),
            tax=Decimal("550.00"),
        )
        return quote

    return make
