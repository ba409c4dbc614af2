"""Fixtures of the duplicates tests: two records of one person, a stored pair."""

from __future__ import annotations

import pytest

from kliento.dataio.dedup.models import DuplicatePair


@pytest.fixture
def twin_contacts(org, contact_factory):
    """Ivan Petrov twice: once in Cyrillic, once in Latin with the phone and email variants."""
    a = contact_factory(
        owner=org.rep,
        first_name="Иван",
        last_name="Петров",
        email="ivan.petrov@gmail.com",
        emails=["ivan.petrov@gmail.com"],
        phone="+79161234567",
        phones=["+79161234567"],
        city="Москва",
    )
    b = contact_factory(
        owner=org.rep,
        first_name="Ivan",
        last_name="Petrov",
        email="ivanpetrov@gmail.com",
        emails=["ivanpetrov@gmail.com", "ivan@work.example"],
        phone="+79161234567",
        phones=["+79161234567"],
        city="",
        custom={"source": "expo"},
    )
    return a, b


@pytest.fixture
def pair_for(db):
    def make(a, b, entity="contact", confidence=0.99, status="open") -> DuplicatePair:
        lo, hi = sorted([a.pk, b.pk])
        return DuplicatePair.objects.create(
            entity=entity,
            a_id=lo,
            b_id=hi,
            confidence=confidence,
            evidence=[{"feature": "email", "level": "exact", "weight": 11.0, "a": "x", "b": "x"}],
            status=status,
        )

    return make
