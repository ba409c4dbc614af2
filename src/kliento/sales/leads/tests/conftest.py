"""Fixtures of the leads app: web forms, leads, rules."""

from __future__ import annotations

import factory
import pytest

from kliento.sales.leads.models import AssignmentRule, Lead, ScoringRule, WebForm


class WebFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebForm

    name = factory.Sequence(lambda n: f"Contact us {n}")
    key = factory.Sequence(lambda n: f"key{n:08d}")
    fields = ["first_name", "last_name", "email", "phone", "company_name", "city", "message"]
    campaign = "spring"
    channel = "web"


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Sequence(lambda n: f"Olga{n}")
    last_name = factory.Sequence(lambda n: f"Smirnova{n}")
    email = factory.Sequence(lambda n: f"olga{n}@example.org")
    phone = factory.Sequence(lambda n: f"+7903{n:07d}")
    source = "manual"


@pytest.fixture
def web_form(db):
    return WebFormFactory()


@pytest.fixture
def web_form_factory(db):
    return WebFormFactory


@pytest.fixture
def lead_factory(db):
    """lead_factory(owner=user, ...) -> Lead."""
    return LeadFactory


@pytest.fixture
def rule_factory(db):
    def make(**kwargs) -> AssignmentRule:
        kwargs.setdefault("name", f"Rule {AssignmentRule.objects.count() + 1}")
        kwargs.setdefault("position", AssignmentRule.objects.count())
        return AssignmentRule.objects.create(**kwargs)

    return make


@pytest.fixture
def scoring_factory(db):
    def make(**kwargs) -> ScoringRule:
        kwargs.setdefault("name", f"Points {ScoringRule.objects.count() + 1}")
        return ScoringRule.objects.create(**kwargs)

    return make


@pytest.fixture
def frozen_minute(monkeypatch):
    """Keep the capture service in one minute, so a rate-limit test never straddles two."""
    from types import SimpleNamespace

    from django.utils import timezone

    from kliento.sales.leads import services

    moment = timezone.now().replace(second=30, microsecond=0)
    monkeypatch.setattr(services, "timezone", SimpleNamespace(now=lambda: moment))
    return moment
