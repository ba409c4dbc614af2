"""The "possible duplicates" panel on a record's page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _panel(html: str) -> str:
    assert 'id="record-duplicates"' in html
    return html.split('id="record-duplicates"', 1)[1].split("</section>", 1)[0]


def test_contact_page_shows_its_open_pair_with_a_link_to_compare(
    org, login, twin_contacts, pair_for
):
    a, b = twin_contacts
    pair = pair_for(a, b, confidence=0.93)

    panel = _panel(login(org.rep).get(f"/contacts/{a.pk}/").content.decode())

    assert "Ivan Petrov" in panel
    assert "93%" in panel
    assert f"/duplicates/{pair.pk}/" in panel
    # and from the other side
    panel = _panel(login(org.rep).get(f"/contacts/{b.pk}/").content.decode())
    assert "Иван Петров" in panel


def test_no_panel_for_decided_pairs_or_records_the_viewer_cannot_see(
    org, login, twin_contacts, pair_for, contact_factory
):
    a, b = twin_contacts
    pair_for(a, b, status="not_duplicate")
    hidden = contact_factory(owner=org.other_rep, first_name="Ivan", last_name="Petroff")
    pair_for(a, hidden, confidence=0.9)

    html = login(org.rep).get(f"/contacts/{a.pk}/").content.decode()
    assert 'id="record-duplicates"' not in html

    # the admin sees the open pair with the Kazan rep's record
    panel = _panel(login(org.admin).get(f"/contacts/{a.pk}/").content.decode())
    assert "Ivan Petroff" in panel
