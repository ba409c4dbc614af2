"""Dates on the deal pages and the customer's timeline as each language writes them: English
"20 Jan 2024", Russian with the month lowercase in the genitive, "20 января 2024" (never the
capitalised nominative abbreviation "20 Янв 2024" mid-sentence)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import translation

import kliento
from kliento.sales.deals import services

CREATED = dt.datetime(2024, 1, 20, 9, 5, tzinfo=dt.UTC)
CLOSED = dt.datetime(2024, 5, 3, 14, 30, tzinfo=dt.UTC)

SHOWN = {
    "en": ["20 Jan 2024", "3 May 2024, 14:30", "20 Jan 2024, 09:05", "31 May 2024"],
    "ru": ["20 января 2024", "3 мая 2024, 14:30", "20 января 2024, 09:05", "31 мая 2024"],
}
# A capitalised Russian month name right after a day number.
RU_CAPITALISED = re.compile(r"\d (Янв|Фев|Мар|Апр|Май|Мая|Июн|Июл|Авг|Сен|Окт|Ноя|Дек)")


@pytest.fixture(autouse=True)
def _language_reset():
    """The user's language, activated by the middleware, stays on the thread: not after us."""
    yield
    translation.deactivate()


@pytest.fixture
def won_deal(org, pipeline, rep_contact):
    deal = services.deal_create(
        user=org.rep,
        data={"name": "Licences", "contact": rep_contact.pk, "expected_close": "2024-05-31"},
        created_at=CREATED,
    )
    return services.deal_win(user=org.rep, deal=deal, closed_at=CLOSED)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_deal_page_and_list_show_dates_in_the_users_language(org, login, won_deal, language):
    org.rep.language = language
    org.rep.save(update_fields=["language"])
    client = login(org.rep)

    detail = client.get(f"/deals/{won_deal.pk}/").content.decode()
    listing = client.get("/deals/list/?status=won").content.decode()

    created, won, changed, expected = SHOWN[language]
    assert created in detail  # "Created"
    assert won in detail  # the "Won" banner
    assert changed in detail  # the stage history
    assert expected in detail and expected in listing  # "Expected close"
    assert not RU_CAPITALISED.search(detail + listing)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_customers_timeline_dates_the_deal_notes_in_the_users_language(
    org, login, rep_contact, won_deal, language
):
    org.rep.language = language
    org.rep.save(update_fields=["language"])

    page = login(org.rep).get(f"/contacts/{rep_contact.pk}/").content.decode()

    _created, won, changed, _expected = SHOWN[language]
    assert changed in page and won in page  # "Deal created" and "Deal won", when they happened
    assert not RU_CAPITALISED.search(page)


def test_no_template_spells_a_date_with_month_letters():
    """Dates are shown with the named formats (kliento/formats), which differ per language;
    a pattern such as "j M Y" shows "20 Янв 2024" in Russian."""
    root = Path(kliento.__file__).parent
    pattern = re.compile(r"""\|date:["'][^"']*\b[MNbF]\b[^"']*["']""")
    offenders = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in sorted(root.rglob("*.html"))
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
