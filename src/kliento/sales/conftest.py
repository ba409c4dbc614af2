"""Fixtures shared by the sales apps' tests: a pipeline, a catalogue, a price list, deals.

App-specific fixtures live in each app's tests/conftest.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
import pytest

from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.deals.models import Deal, Pipeline, Stage


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "Software"
    unit = "pcs"
    cost = Decimal("40.00")
    tax_rate = Decimal("20.00")


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    name = factory.Sequence(lambda n: f"Deal {n}")
    amount = Decimal("1000.00")
    amount_company = factory.LazyAttribute(lambda o: o.amount)
    currency = "RUB"


@pytest.fixture
def pipeline(db):
    """ "Sales" (the default pipeline): five open stages with probabilities and expected days."""
    pipe = Pipeline.objects.create(name="Sales", position=0, is_default=True)
    for position, (name, probability, days) in enumerate(
        [
            ("Qualification", 10, 7),
            ("Needs analysis", 25, 10),
            ("Proposal", 50, 14),
            ("Negotiation", 75, 10),
            ("Contract", 90, 5),
        ]
    ):
        Stage.objects.create(
            pipeline=pipe,
            name=name,
            position=position,
            probability=probability,
            expected_days=days,
        )
    return pipe


@pytest.fixture
def other_pipeline(db):
    pipe = Pipeline.objects.create(name="Partners", position=1)
    Stage.objects.create(pipeline=pipe, name="Intro", position=0, probability=20)
    Stage.objects.create(pipeline=pipe, name="Agreement", position=1, probability=70)
    return pipe


@pytest.fixture
def product_factory(db):
    return ProductFactory


@pytest.fixture
def deal_factory(db):
    """deal_factory(owner=..., pipeline=..., stage=... optional) -> Deal."""

    def make(**kwargs) -> Deal:
        if "stage" not in kwargs:
            kwargs["stage"] = kwargs["pipeline"].stages.order_by("position").first()
        kwargs.setdefault("pipeline", kwargs["stage"].pipeline)
        return DealFactory(**kwargs)

    return make


@pytest.fixture
def products(db):
    """Three active products and one inactive, with costs and 20% VAT."""
    return [
        ProductFactory(sku="CRM-STD", name="CRM Standard licence", cost=Decimal("300.00")),
        ProductFactory(sku="CRM-PRO", name="CRM Pro licence", cost=Decimal("500.00")),
        ProductFactory(
            sku="IMPL",
            name="Implementation, hour",
            unit="h",
            category="Services",
            cost=Decimal("900.00"),
        ),
        ProductFactory(sku="OLD-1", name="Retired box", active=False),
    ]


@pytest.fixture
def price_list(products):
    """The default RUB price list valid this year, pricing every product."""
    today = dt.date.today()
    plist = PriceList.objects.create(
        name="Base",
        currency="RUB",
        is_default=True,
        valid_from=today.replace(month=1, day=1),
        valid_to=today.replace(month=12, day=31),
    )
    for product, price in zip(
        products,
        [Decimal("1000.00"), Decimal("2000.00"), Decimal("3000.00"), Decimal("10.00")],
        strict=True,
    ):
        PriceListItem.objects.create(price_list=plist, product=product, price=price)
    return plist
