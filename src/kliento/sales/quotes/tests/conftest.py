"""Quotes fixtures: a deal of the rep with a contact and a company, and a draft quote on it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kliento.sales.catalog.models import DiscountLimit
from kliento.sales.quotes import services


@pytest.fixture
def limits(db):
    """Reps may give 10% without approval, heads 25%."""
    DiscountLimit.objects.create(role="rep", max_percent=Decimal("10"))
    DiscountLimit.objects.create(role="head", max_percent=Decimal("25"))


@pytest.fixture
def deal(org, pipeline, price_list, contact_factory, company_factory, deal_factory, limits):
    company = company_factory(name="Romashka", owner=org.rep)
    contact = contact_factory(
        first_name="Anna", last_name="Petrova", email="anna@romashka.ru", owner=org.rep
    )
    return deal_factory(
        name="CRM for Romashka",
        owner=org.rep,
        pipeline=pipeline,
        contact=contact,
        company=company,
    )


@pytest.fixture
def quote(org, deal):
    return services.quote_create(user=org.rep, deal=deal)


@pytest.fixture
def priced_quote(org, quote, products):
    """2 × CRM Standard (1000) and 3 × Implementation (3000): subtotal 11 000, VAT 20%."""
    services.quote_line_add(
        user=org.rep, quote=quote, data={"product_id": products[0].pk, "quantity": "2"}
    )
    services.quote_line_add(
        user=org.rep, quote=quote, data={"product_id": products[2].pk, "quantity": "3"}
    )
    quote.refresh_from_db()
    return quote
