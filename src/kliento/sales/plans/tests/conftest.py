"""Plan fixtures: won deals and orders at given dates, targets for a month."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from kliento.sales.plans.models import SalesTarget

MONTH = dt.date(2026, 5, 1)
_numbers = itertools.count(1)


def at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


@pytest.fixture
def won(org, pipeline, deal_factory):
    """won(owner, amount, day, status="won") -> a closed deal counted on `day`."""

    def make(owner, amount, day, status="won"):
        return deal_factory(
            owner=owner,
            pipeline=pipeline,
            status=status,
            amount=Decimal(amount),
            amount_company=Decimal(amount),
            closed_at=at(day),
        )

    return make


@pytest.fixture
def ordered(org):
    """ordered(owner, revenue, day, status="paid") -> an order row with that revenue."""
    from kliento.sales.orders.models import Order

    def make(owner, revenue, day, status="paid"):
        revenue = Decimal(revenue)
        return Order.objects.create(
            number=f"O-T-{next(_numbers):06d}",
            status=status,
            ordered_at=at(day),
            owner=owner,
            currency="RUB",
            subtotal=revenue,
            total=revenue,
            revenue_company=revenue,
        )

    return make


@pytest.fixture
def target(org):
    """target(team=... or user=..., amount=..., metric="deals_won") for May 2026."""

    def make(amount, metric="deals_won", period_kind="month", period_start=MONTH, **owner):
        return SalesTarget.objects.create(
            period_kind=period_kind,
            period_start=period_start,
            metric=metric,
            amount=Decimal(amount),
            set_by=org.admin,
            **owner,
        )

    return make
