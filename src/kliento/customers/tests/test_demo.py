"""The demo company loader, at small scale, on whichever database the suite runs on."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from kliento.core.models import Role, Team, User
from kliento.customers.demo import DEMO_ROOT_TEAM, HEAVY_TAG, build_demo
from kliento.customers.models import (
    Company,
    Consent,
    Contact,
    ContactCompany,
    Interaction,
    RecordShare,
    SearchEntry,
    SearchWord,
)
from kliento.customers.search import company_text, contact_text, search
from kliento.customers.selectors import my_tasks

PASSWORD = "demo-password-1"


def _demo(contacts: int = 200, seed: int = 7, *args: str) -> str:
    out = StringIO()
    call_command(
        "demo", f"--contacts={contacts}", f"--seed={seed}", f"--password={PASSWORD}", *args,
        stdout=out, skip_checks=True,
    )  # fmt: skip
    return out.getvalue()


def _first_contacts(n: int = 25) -> list[tuple]:
    return list(
        Contact.objects.order_by("id").values_list(
            "id", "first_name", "middle_name", "last_name", "email", "phones", "lifecycle_stage",
            "owner__username", "city", "birth_date", "tags",
        )[:n]
    )  # fmt: skip


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename LIKE 'customers_%%'")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger') "
                "AND tbl_name LIKE 'customers_%'"
            )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_demo_builds_a_company_of_the_requested_size():
    output = _demo()

    assert Contact.objects.count() == 200
    assert Company.objects.count() == 25
    reported = int(re.search(r"([\d,]+) interactions", output).group(1).replace(",", ""))
    assert Interaction.objects.count() == reported
    assert 8 * 200 <= reported <= 12 * 200
    assert not Contact.objects.annotate(n=Count("interactions")).filter(n=0).exists()
    assert ContactCompany.objects.exists()
    assert Consent.objects.exists()
    assert RecordShare.objects.exists()
    assert SearchWord.objects.exists()
    kinds = set(Interaction.objects.values_list("kind", flat=True).distinct())
    assert {"call", "email", "meeting", "webform", "chat", "purchase", "note"} <= kinds


@pytest.mark.django_db
def test_demo_creates_every_role_but_admin_with_the_given_password():
    output = _demo()

    roles = dict(
        User.objects.filter(team__path__startswith=Team.objects.get(name=DEMO_ROOT_TEAM).path)
        .values_list("role")
        .annotate(n=Count("id"))
    )
    assert roles == {Role.HEAD: 5, Role.REP: 8, Role.MARKETER: 2, Role.SUPPORT: 2, Role.ANALYST: 1}
    assert not User.objects.filter(role=Role.ADMIN).exists()
    assert User.objects.get(username="n.orlova").check_password(PASSWORD)
    assert f"Password: {PASSWORD}" in output


@pytest.mark.django_db
def test_same_seed_gives_the_same_contacts_and_another_seed_does_not():
    _demo(seed=7)
    first = _first_contacts()
    first_companies = list(Company.objects.order_by("id").values_list("name", "tax_id")[:10])

    _demo(200, 7, "--reset")
    assert _first_contacts() == first
    assert list(Company.objects.order_by("id").values_list("name", "tax_id")[:10]) == (
        first_companies
    )

    _demo(200, 8, "--reset")
    assert _first_contacts() != first
    assert Contact.objects.count() == 200


@pytest.mark.django_db
def test_refuses_to_load_over_existing_customer_data_without_reset():
    _demo()

    with pytest.raises(CommandError, match="--reset"):
        _demo()

    assert Contact.objects.count() == 200


@pytest.mark.django_db
def test_every_contact_and_company_is_indexed_as_the_services_would_index_it():
    _demo()

    entries = {(e.entity, e.object_id): e for e in SearchEntry.objects.all()}
    assert len(entries) == 200 + 25
    for contact in Contact.objects.prefetch_related("companies"):
        entry = entries["contact", contact.pk]
        assert (entry.title, entry.owner_id) == (contact.full_name, contact.owner_id)
        assert entry.text == contact_text(contact)
    for company in Company.objects.all():
        entry = entries["company", company.pk]
        assert (entry.title, entry.owner_id, entry.text) == (
            company.name, company.owner_id, company_text(company)
        )  # fmt: skip


@pytest.mark.django_db
def test_reps_have_overdue_today_and_upcoming_tasks():
    _demo()

    buckets = {"overdue": 0, "today": 0, "upcoming": 0}
    for rep in User.objects.filter(role=Role.REP):
        tasks = my_tasks(user=rep)
        assert sum(len(v) for v in tasks.values()) > 0, rep.username
        for name, items in tasks.items():
            buckets[name] += len(items)
    assert all(buckets.values()), buckets


@pytest.mark.django_db
def test_phones_are_e164_and_emails_lowercase():
    _demo()

    for phones, emails in Contact.objects.values_list("phones", "emails"):
        assert all(re.fullmatch(r"\+(7|44|1)\d{9,10}", p) for p in phones), phones
        assert all(e == e.lower() and "@" in e for e in emails), emails


@pytest.mark.django_db
def test_bulk_path_rebuilds_indexes_and_the_search_index():
    before = _index_names()

    result = build_demo(contacts=300, seed=3, password=PASSWORD, bulk=True, log=lambda m: None)

    assert _index_names() == before
    assert result.contacts == Contact.objects.count() == 300
    assert Interaction.objects.count() == result.interactions
    contact = Contact.objects.order_by("id").first()
    analyst = User.objects.get(role=Role.ANALYST)
    hits = search(user=analyst, q=contact.last_name)
    assert ("contact", contact.pk) in {(h.entity, h.id) for h in hits}


@pytest.mark.django_db
def test_heavy_contact_only_at_benchmark_scale():
    _demo()

    assert not Contact.objects.filter(tags__contains=f",{HEAVY_TAG},").exists()
