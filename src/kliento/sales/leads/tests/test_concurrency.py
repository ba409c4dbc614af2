"""Assignment under concurrent capture: real threads, each with its own database connection."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from kliento.conftest import run_concurrently
from kliento.customers.models import Interaction
from kliento.sales.leads import services
from kliento.sales.leads.models import Lead

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("file_database")]


CLIENTS = 6
EACH = 4


def _flood(web_form, prefix: str) -> list[BaseException]:
    """CLIENTS threads capture EACH leads each, all released at once."""

    def client(n: int) -> None:
        for i in range(EACH):
            services.lead_capture(
                web_form=web_form,
                data={"email": f"{prefix}{n}-{i}@example.com", "first_name": f"C{n}"},
                ip=f"10.0.{n}.{i}",
            )

    return run_concurrently(CLIENTS, client)


def test_round_robin_under_concurrent_capture_loses_no_lead_and_stays_fair(
    org, web_form, rule_factory
):
    rule_factory(kind="round_robin", team=org.teams["moscow"])
    errors = _flood(web_form, "rr")
    assert errors == []
    leads = list(Lead.objects.all())
    assert len(leads) == CLIENTS * EACH
    assert len({lead.email for lead in leads}) == CLIENTS * EACH
    owners = Counter(lead.owner_id for lead in leads)
    assert owners == {org.rep.pk: CLIENTS * EACH // 2, org.rep_peer.pk: CLIENTS * EACH // 2}


def test_load_rule_under_concurrent_capture_balances_open_leads(org, web_form, rule_factory):
    rule_factory(kind="load", team=org.teams["moscow"])
    errors = _flood(web_form, "load")
    assert errors == []
    owners = Counter(Lead.objects.values_list("owner_id", flat=True))
    assert sum(owners.values()) == CLIENTS * EACH
    assert owners == {org.rep.pk: CLIENTS * EACH // 2, org.rep_peer.pk: CLIENTS * EACH // 2}
    assert connection.vendor in {"sqlite", "postgresql"}


def test_simultaneous_submissions_of_one_person_make_one_lead(org, web_form):
    def client(n: int) -> None:
        services.lead_capture(
            web_form=web_form,
            data={"email": "same@example.com", "message": f"Try {n}"},
            ip=f"10.9.0.{n}",
        )

    errors = run_concurrently(CLIENTS, client)
    assert errors == []
    lead = Lead.objects.get()
    inquiries = Interaction.objects.filter(related_type="lead", related_id=lead.pk, kind="webform")
    assert inquiries.count() == CLIENTS
