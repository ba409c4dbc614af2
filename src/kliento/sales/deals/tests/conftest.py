"""Fixtures for the deals tests: customers of the rep, loss reasons."""

from __future__ import annotations

import pytest

from kliento.sales.deals.models import LossReason


@pytest.fixture
def reasons(db):
    """Two active loss reasons: price, competitor."""
    return [
        LossReason.objects.create(name="Price too high", position=0),
        LossReason.objects.create(name="Chose a competitor", position=1),
    ]


@pytest.fixture
def stages(pipeline):
    """The default pipeline's five stages in order."""
    return list(pipeline.stages.order_by("position"))


@pytest.fixture
def rep_contact(org, contact_factory):
    return contact_factory(owner=org.rep, first_name="Anna", last_name="Smirnova")


@pytest.fixture
def rep_company(org, company_factory):
    return company_factory(owner=org.rep, name="Romashka LLC")
