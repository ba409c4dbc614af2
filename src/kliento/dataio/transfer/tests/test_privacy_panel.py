"""The "personal data" panel on a contact's page: download for readers, erase for admins."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _panel(html: str) -> str:
    return html.split('id="personal-data"', 1)[1].split("</section>", 1)[0]


def test_rep_can_download_but_not_erase(org, login, contact_factory):
    contact = contact_factory(owner=org.rep, first_name="Anna", last_name="Petrova")
    panel = _panel(login(org.rep).get(f"/contacts/{contact.pk}/").content.decode())
    assert f"/data/contacts/{contact.pk}/personal-data/" in panel
    assert "/erase/" not in panel


def test_admin_erases_from_the_panel_and_the_panel_says_so(org, login, contact_factory):
    contact = contact_factory(owner=org.rep, first_name="Anna", last_name="Petrova")
    client = login(org.admin)
    panel = _panel(client.get(f"/contacts/{contact.pk}/").content.decode())
    assert f"/data/contacts/{contact.pk}/erase/" in panel

    response = client.post(f"/data/contacts/{contact.pk}/erase/")
    assert response.status_code == 302

    panel = _panel(client.get(f"/contacts/{contact.pk}/").content.decode())
    assert "Erased on" in panel
    assert "/erase/" not in panel


def test_company_pages_have_no_personal_data_panel(org, login, company_factory):
    company = company_factory(owner=org.rep, name="Romashka")
    html = login(org.rep).get(f"/companies/{company.pk}/").content.decode()
    assert 'id="personal-data"' not in html
