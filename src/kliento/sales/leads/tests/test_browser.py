"""In a real browser: a web-form inquiry becomes a lead a rep finds, works and converts.

Set LEADS_SHOTS=<dir> to also save screenshots of the pages (English and Russian).
"""

from __future__ import annotations

import os
import shutil

import pytest

from kliento.conftest import PASSWORD
from kliento.sales.leads.models import Lead

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("KLIENTO_CHROMIUM", "/usr/bin/chromium")
SHOTS = os.environ.get("LEADS_SHOTS", "")


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


def _shot(page, name: str) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


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
    _shot(page, "01-thank-you")
    lead = Lead.objects.get()
    assert (lead.owner, lead.source, lead.web_form) == (org.rep, "web_form", form)

    _log_in(page, base, "rep")
    page.goto(f"{base}/leads/")
    _shot(page, "02-list-en")
    page.get_by_role("link", name="Olga").click()
    expect(page.get_by_role("heading", name="Olga")).to_be_visible()
    page.fill("#log-subject", "Called, wants a demo")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#lead-timeline")).to_contain_text("Called, wants a demo")
    _shot(page, "03-detail-en")
    page.get_by_text("Convert to contact and deal").click()
    page.fill("#cv-amount", "250000")
    page.get_by_role("button", name="Convert", exact=True).click()
    expect(page.locator(".alert-success")).to_contain_text("is now a contact")
    _shot(page, "04-converted-en")
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.contact.email == "olga@example.com"


def test_screenshots_of_empty_long_error_and_settings(
    live_server, org, page, lead_factory, web_form_factory
):
    if not SHOTS:
        pytest.skip("screenshots only: set LEADS_SHOTS")
    base = live_server.url
    _log_in(page, base, "admin")
    page.goto(f"{base}/leads/")
    _shot(page, "10-empty-en")
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
    _shot(page, "11-long-en")
    page.goto(f"{base}/leads/new/")
    page.fill("#id_email", "not-an-email")
    page.get_by_role("button", name="Create lead").click()
    _shot(page, "12-form-error-en")
    form = web_form_factory(default_owner=org.rep)
    page.goto(f"{base}/leads/settings/web-forms/")
    _shot(page, "13-web-forms-en")
    page.goto(f"{base}/leads/settings/web-forms/{form.pk}/")
    _shot(page, "14-web-form-en")
    page.goto(f"{base}/leads/settings/assignment-rules/")
    page.fill("#r-name", "X")
    page.select_option("#r-kind", "fixed")
    page.get_by_role("button", name="Add rule").click()
    _shot(page, "15-rules-error-en")
    page.goto(f"{base}/leads/settings/scoring-rules/")
    _shot(page, "16-scoring-en")
    org.admin.language = "ru"
    org.admin.save()
    page.goto(f"{base}/leads/")
    _shot(page, "20-list-ru")
    lead = Lead.objects.filter(status="new").first()
    page.goto(f"{base}/leads/{lead.pk}/")
    page.get_by_text("Дисквалифицировать").first.click()
    page.get_by_role("button", name="Дисквалифицировать").click()
    _shot(page, "21-detail-error-ru")
    page.goto(f"{base}/leads/settings/assignment-rules/")
    _shot(page, "22-rules-ru")
    page.goto(f"{base}/leads/settings/web-forms/{form.pk}/")
    _shot(page, "23-web-form-ru")
