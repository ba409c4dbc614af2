"""The timeline's fast renderer (kliento_ui.timeline_items) matches the item template exactly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone, translation

from kliento.core.templatetags.kliento_ui import timeline_items
from kliento.customers.models import Interaction


def _norm(html: str) -> str:
    html = re.sub(r"\s+", " ", html)
    return re.sub(r"\s*(<|>)\s*", r"\1", html).strip()


@pytest.fixture
def entries(org, contact_factory, company_factory, interaction_factory):
    company = company_factory(owner=org.rep)
    contact = contact_factory(owner=org.rep)
    now = timezone.now()
    return [
        interaction_factory(
            contact=contact,
            company=company,
            user=org.rep,
            body="Talked <b>prices</b>\n" * 200,
            outcome="Call back",
            duration_seconds=3725,
            occurred_at=now - timedelta(hours=1),
        ),
        interaction_factory(
            kind="task",
            channel="other",
            direction="internal",
            contact=contact,
            planned=True,
            due_at=now - timedelta(days=1),
            assignee=org.rep_peer,
            subject="",
        ),
        interaction_factory(
            kind="task",
            channel="other",
            contact=contact,
            planned=True,
            done=True,
            due_at=now + timedelta(days=1),
            related_type="deal",
            related_id=17,
        ),
        interaction_factory(
            kind="email",
            channel="web",
            direction="in",
            contact=contact,
            planned=True,
            due_at=now + timedelta(days=2),
            related_type="unknown",
            related_id=3,
        ),
    ]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("entity", ["contact", "company"])
@pytest.mark.parametrize("writable_all", [True, False])
def test_fast_timeline_matches_the_item_template(entries, entity, writable_all, language):
    items = list(
        Interaction.objects.filter(pk__in=[e.pk for e in entries])
        .select_related("user", "assignee", "contact")
        .order_by("id")
    )
    writable = {i.pk for i in items} if writable_all else {items[0].pk}
    with translation.override(language):
        fast = timeline_items(items, entity, writable)
        slow = "".join(
            render_to_string(
                "customers/partials/_timeline_item.html",
                {"i": i, "entity": entity, "writable": writable},
            )
            for i in items
        )
    assert _norm(fast) == _norm(slow)
    assert fast.count('class="tl-item') == 4
