"""In a real browser: a web-form inquiry becomes a lead a rep finds, works and converts.

Set KLIENTO_SCREENSHOTS=<dir> to also save screenshots of the pages (English and Russian).
"""

from __future__ import annotations

import os
import shutil

import pytest

from kliento.conftest import log_in, shot
from kliento.sales.leads.models import Lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("KLIENTO_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("KLIENTO_SCREENSHOTS", "")


@pytest.fixture
def page():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1366, "height": 860})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        yield tab
        browser.close()


def test_web_form_lead_is_worked_and_converted(live_server, org, page, web_form_factory, pipeline):
    from playwright.sync_api import expect

    base = live_server.url
    form = web_form_factory(
        default_owner=org.rep, fields=["first_name", "email", "company_name", "message"]
    )
    # A visitor fills the embedded form on the company's site (here: a page with the snippet).
    from kliento.sales.leads.forms import embed_snippet

    page.set_content(f"<html><body>{embed_snippet(form, base)}</body></html>")
    page.fill("input[name=first_name]", "Olga")
    page.fill("input[name=email]", "olga@example.com")
    page.fill("input[name=company_name]", "Romashka")
    page.fill("textarea[name=message]", "We need 40 licences")
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    shot(page, "01-thank-you")
    lead = Lead.objects.get()
    assert (lead.owner, lead.source, lead.web_form) == (org.rep, "web_form", form)

    log_in(page, base, "rep")
    page.goto(f"{base}/leads/")
    shot(page, "02-list-en")
    page.get_by_role("link", name="Olga").click()
    expect(page.get_by_role("heading", name="Olga")).to_be_visible()
    page.fill("#log-subject", "Called, wants a demo")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#lead-timeline")).to_contain_text("Called, wants a demo")
    shot(page, "03-detail-en")
    page.get_by_text("Convert to contact and deal").click()
    page.fill("#cv-amount", "250000")
    page.get_by_role("button", name="Convert", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("is now a contact")
    shot(page, "04-converted-en")
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.contact.email == "olga@example.com"


def test_screenshots_of_empty_long_error_and_settings(
    live_server, org, page, lead_factory, web_form_factory
):
    if not SHOTS:
        pytest.skip("screenshots only: set KLIENTO_SCREENSHOTS")
    base = live_server.url
    log_in(page, base, "admin")
    page.goto(f"{base}/leads/")
    shot(page, "10-empty-en")
    for i in range(60):
        lead_factory(
            owner=[org.rep, org.rep_peer, org.other_rep][i % 3],
            score=(i * 7) % 90,
            company_name=f"Company {i}",
            campaign="spring" if i % 2 else "",
            source=["web_form", "api", "manual"][i % 3],
            status=["new", "working", "qualified", "converted"][i % 4],
        )
    page.goto(f"{base}/leads/?sort=score")
    page.locator("input[name=lead_ids]:not([disabled])").nth(0).check()
    page.locator("input[name=lead_ids]:not([disabled])").nth(1).check()
    shot(page, "11-long-en")
    page.goto(f"{base}/leads/new/")
    page.fill("#id_email", "not-an-email")
    page.get_by_role("button", name="Create lead").click()
    shot(page, "12-form-error-en")
    form = web_form_factory(default_owner=org.rep)
    page.goto(f"{base}/leads/settings/web-forms/")
    shot(page, "13-web-forms-en")
    page.goto(f"{base}/leads/settings/web-forms/{form.pk}/")
    shot(page, "14-web-form-en")
    page.goto(f"{base}/leads/settings/assignment-rules/")
    page.fill("#r-name", "X")
    page.select_option("#r-kind", "fixed")
    page.get_by_role("button", name="Add rule").click()
    shot(page, "15-rules-error-en")
    page.goto(f"{base}/leads/settings/scoring-rules/")
    shot(page, "16-scoring-en")
    org.admin.language = "ru"
    org.admin.save()
    page.goto(f"{base}/leads/")
    shot(page, "20-list-ru")
    lead = Lead.objects.filter(status="new").first()
    page.goto(f"{base}/leads/{lead.pk}/")
    page.get_by_text("Дисквалифицировать").first.click()
    page.get_by_role("button", name="Дисквалифицировать").click()
    shot(page, "21-detail-error-ru")
    page.goto(f"{base}/leads/settings/assignment-rules/")
    shot(page, "22-rules-ru")
    page.goto(f"{base}/leads/settings/web-forms/{form.pk}/")
    shot(page, "23-web-form-ru")
