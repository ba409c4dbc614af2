"""The order form in a real browser: pick a customer, add lines, watch totals, create."""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal

import pytest

from kliento.conftest import PASSWORD
from kliento.sales.orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("KLIENTO_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Playwright's sync API runs an event loop in this thread; the ORM calls around it are sync.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def page():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(30_000)
        # The first request of a live server on a busy machine can take a while.
        page.set_default_navigation_timeout(90_000)
        yield page
        context.close()
        browser.close()


def test_order_form_live_totals_and_create(live_server, org, contact, products, price_list, page):
    from playwright.sync_api import expect

    base = live_server.url
    page.goto(f"{base}/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.goto(f"{base}/orders/new/")

    page.fill("#customer-q", "Smirn")
    page.get_by_role("button", name=re.compile("Anna Smirnova")).click()
    expect(page.locator("#chip-contact")).to_contain_text("Anna Smirnova")

    page.locator("select[name=line_product]").first.select_option(str(products[0].pk))
    page.locator("input[name=line_quantity]").first.fill("3")
    expect(page.locator("#order-totals")).to_contain_text("3,600.00")
    page.get_by_role("button", name="Add a line").click()
    page.locator("select[name=line_product]").nth(1).select_option(str(products[1].pk))
    page.locator("input[name=line_quantity]").nth(1).fill("1")
    page.locator("input[name=line_discount_value]").nth(1).fill("10")
    expect(page.locator("#order-totals")).to_contain_text("5,760.00")
    expect(page.locator("#lines-body tr").nth(1).locator(".line-amount")).to_have_text("1,800.00")

    page.get_by_role("button", name="Create order").click()
    expect(page.get_by_role("heading", name=re.compile("Order O-"))).to_be_visible()
    order = Order.objects.get()
    assert (order.contact_id, order.total, order.lines.count()) == (
        contact.pk,
        Decimal("5760.00"),
        2,
    )

    page.get_by_role("link", name="Mark paid").click()
    page.get_by_role("button", name="Yes, change it").click()
    expect(page.locator(".record-head .badge")).to_have_text("Paid")
    order.refresh_from_db()
    assert order.status == "paid"
