"""Issue 3's "Done when", end to end in a real browser, every step through the UI.

A visitor fills the web form on the company's site; the rep gets the lead, converts it, drags
the deal on the kanban board, sends a quote PDF; the customer accepts it through the emailed
link; the order lands; the head (in Russian) sees plan vs actual, the forecast and the sales
cycle include the won deal.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from kliento.conftest import log_in
from kliento.customers.models import Company, Contact, Interaction
from kliento.sales.conftest import pipeline, price_list, products  # noqa: F401  (fixtures)
from kliento.sales.deals.models import Deal, StageChange
from kliento.sales.leads.models import Lead
from kliento.sales.leads.settings_services import web_form_create
from kliento.sales.orders.models import Order
from kliento.sales.plans.services import target_set
from kliento.sales.quotes.models import Quote

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The company's own site, where the snippet is pasted: Playwright serves it, Kliento never does.
SITE = "http://www.romashka-shop.test/contact-us"


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 860}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def _nav(page, href: str):
    return page.locator(f'nav.nav a[href="{href}"]')


@pytest.fixture
def sales_org(org, pipeline, price_list):  # noqa: F811  (the imported fixtures)
    """A web form that gives its leads to the rep, and the rep's target for this month."""
    form = web_form_create(
        user=org.admin,
        data={
            "name": "Contact us",
            "fields": ["first_name", "last_name", "company_name", "email", "phone", "message"],
            "default_owner_id": org.rep.pk,
            "success_message": "Thank you, we will call you back within a day.",
        },
    )
    month = timezone.localdate().replace(day=1)
    target = target_set(
        user=org.head,
        period_kind="month",
        period_start=month,
        metric="deals_won",
        amount="10000",
        target_user=org.rep,
    )
    return type("SalesOrg", (), {"form": form, "target": target, "pipeline": pipeline})


def test_lead_to_order_to_the_heads_reports(live_server, org, sales_org, page, browser, tmp_path):
    base = live_server.url
    page.set_default_timeout(30_000)  # the shared CI box can be slow; every wait is explicit
    stages = list(sales_org.pipeline.stages.order_by("position"))

    # 1. The admin copies the embed snippet from the web form's settings page.
    admin = _new_page(browser)
    log_in(admin, base, "admin")
    admin.goto(f"{base}/leads/settings/web-forms/{sales_org.form.pk}/")
    snippet = admin.get_by_role("textbox", name="Embed snippet").input_value()
    assert f'action="{base}/leads/f/{sales_org.form.key}/"' in snippet
    admin.context.close()

    # 2. A visitor fills it on the company's site (UTM tags in the address) → the thank-you page.
    visitor = _new_page(browser)
    visitor.route(
        f"{SITE}*",
        lambda route: route.fulfill(
            content_type="text/html; charset=utf-8",
            body=f"<!doctype html><html><head><title>Romashka · Contact us</title></head>"
            f"<body><h1>Write to us</h1>{snippet}</body></html>",
        ),
    )
    visitor.goto(f"{SITE}?utm_source=google&utm_medium=cpc&utm_campaign=autumn-crm")
    form = visitor.locator("form.kliento-form")
    form.locator("[name=first_name]").fill("Anna")
    form.locator("[name=last_name]").fill("Petrova")
    form.locator("[name=company_name]").fill("Romashka LLC")
    form.locator("[name=email]").fill("anna@romashka.ru")
    form.locator("[name=phone]").fill("8 (916) 555-44-33")
    form.locator("[name=message]").fill("We need a CRM for 10 sales people.")
    form.get_by_role("button", name="Send").click()
    expect(visitor.get_by_role("heading", name="Thank you!")).to_be_visible()
    expect(visitor.get_by_text("we will call you back within a day")).to_be_visible()
    assert visitor.url == f"{base}/leads/f/{sales_org.form.key}/"
    visitor.context.close()
    lead = Lead.objects.get()
    assert (lead.owner_id, lead.source, lead.web_form_id) == (
        org.rep.pk,
        "web_form",
        sales_org.form.pk,
    )
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("google", "cpc", "autumn-crm")

    # 3. The rep finds the lead in the list, opens it and converts it: contact, company, deal.
    log_in(page, base, "rep")
    _nav(page, "/leads/").click()
    page.get_by_role("link", name="Anna Petrova").click()
    expect(page.get_by_role("heading", name="Anna Petrova")).to_be_visible()
    page.get_by_text("Convert to contact and deal").click()
    expect(page.locator("#cv-name")).to_have_value("Romashka LLC")
    page.fill("#cv-amount", "2 000")
    page.locator("#convert-panel").get_by_role("button", name="Convert").click()
    expect(page.get_by_text("Deal “Romashka LLC” created.")).to_be_visible()
    lead.refresh_from_db()
    deal = Deal.objects.get()
    contact, company = Contact.objects.get(), Company.objects.get()
    assert (lead.status, lead.contact_id, lead.company_id, lead.deal_id) == (
        "converted",
        contact.pk,
        company.pk,
        deal.pk,
    )
    assert (deal.owner_id, deal.stage_id, deal.amount, deal.contact_id, deal.company_id) == (
        org.rep.pk,
        stages[0].pk,
        2000,
        contact.pk,
        company.pk,
    )

    # 4. On the kanban board the rep drags the deal to the next stage; the totals follow.
    _nav(page, "/deals/").click()
    first = page.locator(f'.board-col[data-stage="{stages[0].pk}"]')
    second = page.locator(f'.board-col[data-stage="{stages[1].pk}"]')
    expect(first.locator("[data-col-count]")).to_have_text("1")
    expect(first.locator("[data-col-total]")).to_have_text("2,000")
    expect(second.locator("[data-col-total]")).to_have_text("0")
    page.locator(f"#deal-{deal.pk}").drag_to(second.locator("[data-dropzone]"))
    expect(second.locator(f"#deal-{deal.pk}")).to_be_visible()
    expect(second.locator("[data-col-count]")).to_have_text("1")
    expect(second.locator("[data-col-total]")).to_have_text("2,000")
    expect(first.locator("[data-col-count]")).to_have_text("0")
    expect(first.locator("[data-col-total]")).to_have_text("0")
    expect(page.locator(f"#deal-{deal.pk}")).not_to_have_class(re.compile("is-pending"))
    deal.refresh_from_db()
    assert deal.stage_id == stages[1].pk
    assert StageChange.objects.filter(deal=deal, to_stage=stages[1], user=org.rep).count() == 1

    # 5. From the deal's page: a quote with a line from the price list, its PDF, then email it.
    page.locator(f"#deal-{deal.pk} .deal-card-name").click()
    expect(page.get_by_role("heading", name="Romashka LLC")).to_be_visible()
    page.locator("#quotes").get_by_role("link", name="New quote").click()
    page.get_by_role("button", name="Create quote").click()
    expect(
        page.get_by_role("heading", name=re.compile(r"Quote Q-\d{4}-\d+, version 1"))
    ).to_be_visible()
    quote = Quote.objects.get()
    page.fill("#product-q", "CRM Pro")
    page.get_by_role("button", name="Add CRM Pro licence").click()
    expect(page.locator("#quote-lines")).to_contain_text("CRM Pro licence")
    expect(page.locator("#quote-total")).to_have_text("2,400.00 RUB")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    pdf_path = tmp_path / "quote.pdf"
    info.value.save_as(pdf_path)
    text = PdfReader(pdf_path).pages[0].extract_text()
    for expected in (quote.number, "Romashka LLC", "Anna Petrova", "CRM Pro licence", "2,400.00"):
        assert expected in text, expected

    mail.outbox.clear()
    page.locator(".page-head").get_by_role("button", name="Send").click()
    dialog = page.locator("#send-dialog")
    expect(dialog.locator("#id_to")).to_have_value("anna@romashka.ru")
    dialog.locator("#id_message").fill("As discussed on the phone.")
    dialog.get_by_role("button", name="Send").click()
    expect(page.locator("#quote-status")).to_have_text("Sent")
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["anna@romashka.ru"]
    assert quote.number in email.subject
    assert [a[0] for a in email.attachments] == [f"{quote.number}-v1.pdf"]
    link = re.search(r"https?://\S+/quotes/p/[\w-]+/", email.body).group(0)
    assert link.startswith(base)

    # 6. The customer, not logged in, opens the link and accepts the quote.
    customer = _new_page(browser)
    customer.goto(link)
    expect(customer.get_by_role("heading", name="Commercial proposal")).to_be_visible()
    expect(customer.get_by_text("CRM Pro licence")).to_be_visible()
    customer.get_by_role("button", name="Accept the proposal").click()
    expect(customer.get_by_text("You have accepted this proposal")).to_be_visible()
    customer.context.close()
    quote.refresh_from_db()
    order = Order.objects.get()
    assert (quote.status, order.quote_id, order.deal_id, order.contact_id) == (
        "accepted",
        quote.pk,
        deal.pk,
        contact.pk,
    )
    assert order.total == 2400

    # 7. The rep sees the deal won with its order, the order list, and the contact's timeline.
    page.goto(f"{base}/deals/{deal.pk}/")
    expect(page.locator(".page-head .deal-status")).to_have_text("Won")
    expect(page.locator("#quotes")).to_contain_text("Accepted")
    page.locator("#orders").get_by_role("link", name=re.compile(order.number)).click()
    expect(page.get_by_role("heading", name=re.compile(order.number))).to_be_visible()
    _nav(page, "/orders/").click()
    expect(page.get_by_role("link", name=re.compile(order.number))).to_be_visible()
    page.goto(f"{base}/contacts/{contact.pk}/")
    expect(page.locator("#timeline")).to_contain_text(f"Order {order.number}")
    expect(page.locator("#timeline")).to_contain_text("Lead converted")
    # The sales panels on the customer's page: the won deal and the order.
    expect(page.locator("#customer-deals")).to_contain_text("Romashka LLC")
    expect(page.locator("#customer-deals")).to_contain_text("won")
    expect(page.locator("#customer-orders")).to_contain_text(order.number)
    assert Interaction.objects.filter(
        contact=contact, related_type="order", related_id=order.pk
    ).exists()

    # 8. The head, in Russian, sees plan vs actual, the forecast and the sales cycle.
    head = _new_page(browser)
    log_in(head, base, "head")
    head.get_by_label("Account menu").click()
    head.get_by_role("button", name="Русский").click()
    expect(_nav(head, "/leads/")).to_have_text("Лиды")
    org.head.refresh_from_db()
    assert org.head.language == "ru"

    _nav(head, "/plans/").click()
    expect(head.get_by_role("heading", name="Планы продаж")).to_be_visible()
    expect(head.get_by_role("columnheader", name="Факт")).to_be_visible()
    rep_row = head.locator(f"#row-user-{org.rep.pk}")
    expect(rep_row.locator("td").nth(1)).to_have_text(re.compile(r"^10[\s\u00a0,]?000[,.]00$"))
    expect(rep_row.locator("td").nth(3)).to_have_text(re.compile(r"^2[\s\u00a0,]?000[,.]00$"))
    expect(rep_row).to_contain_text("20,0%")

    _nav(head, "/reports/").click()
    head.get_by_role("link", name=re.compile("Прогноз")).click()
    expect(head.get_by_role("heading", name="Прогноз")).to_be_visible()
    won = head.locator(".kpi-won")
    expect(won).to_contain_text("Уже выиграно")
    expect(won.locator(".kpi-value")).to_have_text(re.compile(r"^2[\s\u00a0,]?000$"))
    expect(won.locator(".kpi-sub")).to_have_text("1 сделка")

    _nav(head, "/reports/").click()
    head.get_by_role("link", name=re.compile("Цикл сделки")).click()
    expect(head.get_by_role("heading", name="Цикл сделки")).to_be_visible()
    kpis = head.locator(".kpis")
    expect(kpis.locator(".kpi").first.locator(".kpi-value")).to_have_text("1")
    expect(kpis.locator(".kpi-won .kpi-value")).to_have_text(re.compile(r"^100([,.]0)?\s?%$"))
    funnel, by_owner = (
        head.locator("table.report-table").nth(0),
        head.locator("table.report-table").nth(1),
    )
    moved_to = funnel.get_by_role("row", name=re.compile(stages[1].name))
    expect(moved_to.locator("td").nth(1)).to_have_text("1")  # reached by the deal
    rep_cycle = by_owner.locator("tbody").get_by_role("row", name=re.compile("Rep"))
    expect(rep_cycle).to_contain_text(re.compile(r"1\s*1\s*0\s*100,0%\s*2[\s\u00a0]000"))
    head.context.close()
