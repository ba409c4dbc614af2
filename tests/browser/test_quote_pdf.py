"""End to end in a real browser: a rep prepares a quote from a deal and downloads its PDF."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from kliento.conftest import log_in
from kliento.customers.models import Company, Contact
from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.deals.models import Deal, Pipeline, Stage
from kliento.sales.quotes.models import Quote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def deal(org):
    today = dt.date.today()
    plist = PriceList.objects.create(
        name="Base",
        currency="RUB",
        is_default=True,
        valid_from=today.replace(month=1, day=1),
        valid_to=today.replace(month=12, day=31),
    )
    for sku, name, price in (
        ("CRM-STD", "CRM Standard licence", "1000.00"),
        ("IMPL", "Implementation, hour", "3000.00"),
    ):
        product = Product.objects.create(sku=sku, name=name, tax_rate=Decimal("20"))
        PriceListItem.objects.create(price_list=plist, product=product, price=Decimal(price))
    pipeline = Pipeline.objects.create(name="Sales", is_default=True)
    stage = Stage.objects.create(pipeline=pipeline, name="Proposal", probability=50)
    company = Company.objects.create(name="Romashka", owner=org.rep)
    contact = Contact.objects.create(
        first_name="Anna", last_name="Petrova", emails=["anna@romashka.ru"], owner=org.rep
    )
    return Deal.objects.create(
        name="CRM for Romashka",
        pipeline=pipeline,
        stage=stage,
        currency="RUB",
        owner=org.rep,
        contact=contact,
        company=company,
    )


def test_rep_prepares_a_quote_and_downloads_its_pdf(live_server, org, page, deal, tmp_path):
    base = live_server.url
    log_in(page, base, "rep")

    page.goto(f"{base}/deals/{deal.pk}/")
    page.locator("#quotes").get_by_role("link", name="New quote").click()
    page.get_by_role("button", name="Create quote").click()
    expect(
        page.get_by_role("heading", name=re.compile(r"Quote Q-\d{4}-00001, version 1"))
    ).to_be_visible()
    quote = Quote.objects.get()

    # Pick two products from the price list; the totals update in place.
    page.fill("#product-q", "CRM")
    page.get_by_role("button", name="Add CRM Standard licence").click()
    expect(page.locator("#quote-lines")).to_contain_text("CRM Standard licence")
    # The editor was just swapped in: let its requests settle before searching again.
    page.wait_for_load_state("networkidle")
    page.fill("#product-q", "Impl")
    row = page.locator(".pick-list li", has_text="Implementation, hour")
    expect(page.locator(".pick-list li")).to_have_count(1)
    row.locator("input[name=quantity]").fill("3")
    row.get_by_role("button", name="Add Implementation, hour").click()
    expect(page.locator("#quote-lines")).to_contain_text("Implementation, hour")
    expect(page.locator("#quote-total")).to_have_text("12,000.00 RUB")

    # A 5% line discount on the licence, typed in the table.
    licence = page.locator("#quote-lines tr", has_text="CRM Standard licence")
    licence.locator("input[name=discount_value]").fill("5")
    licence.locator("input[name=discount_value]").press("Enter")
    expect(page.locator("#quote-total")).to_have_text("11,940.00 RUB")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    download = info.value
    assert download.suggested_filename == f"{quote.number}-v1.pdf"
    path = tmp_path / "quote.pdf"
    download.save_as(path)

    text = PdfReader(path).pages[0].extract_text()
    for expected in (
        "Commercial proposal",
        quote.number,
        "Romashka",
        "Anna Petrova",
        "CRM Standard licence",
        "Implementation, hour",
        "11,940.00 RUB",
    ):
        assert expected in text, expected
