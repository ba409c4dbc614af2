"""The sales panels on contact and company pages: deals and orders, through visibility."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kliento.sales.orders import services as order_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(org, contact_factory, company_factory):
    company = company_factory(owner=org.rep, name="Romashka LLC")
    contact = contact_factory(owner=org.rep, first_name="Anna", last_name="Smirnova")
    return contact, company


def test_contact_page_lists_the_clients_deals_and_orders(
    org, login, customer, pipeline, deal_factory, products, price_list
):
    contact, company = customer
    deal_factory(owner=org.rep, pipeline=pipeline, contact=contact, name="Romashka CRM rollout")
    order = order_services.order_create(
        user=org.rep,
        data={
            "contact": contact.pk,
            "price_list": price_list.pk,
            "lines": [{"product": products[0].pk, "quantity": "2"}],
        },
    )

    html = login(org.rep).get(f"/contacts/{contact.pk}/").content.decode()

    deals = html.split('id="customer-deals"', 1)[1].split("</section>", 1)[0]
    assert "Romashka CRM rollout" in deals
    orders = html.split('id="customer-orders"', 1)[1].split("</section>", 1)[0]
    assert order.number in orders


def test_panels_hide_deals_the_viewer_may_not_see(org, login, customer, pipeline, deal_factory):
    contact, _company = customer  # owned by rep
    deal_factory(owner=org.other_rep, pipeline=pipeline, contact=contact, name="Kazan deal")
    deal_factory(owner=org.rep, pipeline=pipeline, contact=contact, name="My own deal")

    html = login(org.rep).get(f"/contacts/{contact.pk}/").content.decode()
    assert "My own deal" in html
    assert "Kazan deal" not in html

    html = login(org.head).get(f"/contacts/{contact.pk}/").content.decode()
    assert "My own deal" in html and "Kazan deal" in html  # the head sees the Sales subtree


def test_company_page_shows_an_empty_orders_panel_with_a_way_to_enter_one(
    org, login, customer, pipeline
):
    _contact, company = customer
    html = login(org.rep).get(f"/companies/{company.pk}/").content.decode()
    assert 'id="customer-deals"' in html
    orders = html.split('id="customer-orders"', 1)[1].split("</section>", 1)[0]
    assert "No orders yet." in orders
    assert f"/orders/new/?company={company.pk}" in orders


@pytest.mark.parametrize(
    ("my_open", "shown", "more"),
    [(2, 3, ""), (9, 8, "and 2 more")],  # every deal on the panel / more than it lists
)
def test_deals_panel_counts_and_sums_only_visible_deals(
    org, login, customer, pipeline, deal_factory, my_open, shown, more
):
    contact, _company = customer
    for _ in range(my_open):
        deal_factory(owner=org.rep, pipeline=pipeline, contact=contact, amount=Decimal("1000"))
    deal_factory(
        owner=org.rep, pipeline=pipeline, contact=contact, status="won", amount=Decimal("500")
    )
    deal_factory(owner=org.other_rep, pipeline=pipeline, contact=contact, amount=Decimal("7000"))

    html = login(org.rep).get(f"/contacts/{contact.pk}/").content.decode()

    panel = " ".join(html.split('id="customer-deals"', 1)[1].split("</section>", 1)[0].split())
    total = my_open + 1
    assert f'<span class="count-pill">{total}</span>' in panel
    assert f"{my_open} open deals · {my_open},000 RUB · 1 won · 500 RUB" in panel
    assert panel.count("<li>") == shown
    assert more in panel
