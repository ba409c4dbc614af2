"""Order pages over HTTP: list, detail, status actions, the form with live totals, the partial."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from kliento.sales.orders import selectors, services
from kliento.sales.orders.models import Order


def test_list_shows_visible_orders_with_totals(org, login, make_order):
    order = make_order()

    response = login(org.rep).get("/orders/")

    assert response.status_code == 200
    html = response.content.decode()
    assert order.number in html
    assert "2,400.00" in html  # total, and revenue in the totals row


def test_list_hides_other_reps_orders(org, login, make_order):
    order = make_order()

    html = login(org.other_rep).get("/orders/").content.decode()

    assert order.number not in html
    assert "No orders yet" in html


def test_list_filter_by_status_via_htmx_returns_fragment(org, login, make_order):
    make_order()

    response = login(org.rep).get("/orders/?status=paid", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "No orders match these filters" in html


def test_list_bad_date_filter_shows_error(org, login):
    response = login(org.rep).get("/orders/?date_from=tomorrow")

    assert response.status_code == 200
    assert "Expected a date" in response.content.decode()


def test_list_in_russian(org, login, make_order):
    org.rep.language = "ru"
    org.rep.save(update_fields=["language"])
    make_order()

    html = login(org.rep).get("/orders/").content.decode()

    assert "Заказы" in html


def test_detail_shows_lines_totals_and_actions(org, login, make_order):
    order = make_order()

    response = login(org.rep).get(f"/orders/{order.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "CRM Standard licence" in html
    assert "Mark paid" in html
    assert "1,400.00" in html  # margin: 2,000.00 revenue − 600.00 cost


def test_detail_hidden_is_404(org, login, make_order):
    order = make_order()

    assert login(org.other_rep).get(f"/orders/{order.pk}/").status_code == 404


def test_detail_for_analyst_has_no_actions(org, login, make_order):
    order = make_order()

    html = login(org.analyst).get(f"/orders/{order.pk}/").content.decode()

    assert "Mark paid" not in html


def test_status_asks_then_changes(org, login, make_order):
    order = make_order()
    client = login(org.rep)

    ask = client.get(f"/orders/{order.pk}/status/?to=paid", HTTP_HX_REQUEST="true")
    done = client.post(f"/orders/{order.pk}/status/", {"status": "paid", "version": order.version})

    assert "Yes, change it" in ask.content.decode()
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == "paid"


def test_status_with_stale_version_shows_the_error(org, login, make_order):
    order = make_order()

    response = login(org.rep).post(f"/orders/{order.pk}/status/", {"status": "paid", "version": 9})

    assert response.status_code == 412
    order.refresh_from_db()
    assert order.status == "new"


def test_status_by_analyst_is_403(org, login, make_order):
    order = make_order()

    response = login(org.analyst).post(f"/orders/{order.pk}/status/", {"status": "paid"})

    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == "new"


def test_form_prefills_the_customer(org, login, contact, price_list):
    response = login(org.rep).get(f"/orders/new/?contact={contact.pk}")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Anna Smirnova" in html


def test_form_creates_the_order(org, login, contact, products, price_list):
    response = login(org.rep).post(
        "/orders/new/",
        {
            "contact": contact.pk,
            "price_list": price_list.pk,
            "channel": "phone",
            "owner": org.rep.pk,
            "line_product": [products[0].pk, products[1].pk, ""],
            "line_quantity": ["2", "1", ""],
            "line_price": ["", "1500", ""],
            "line_discount_kind": ["percent", "amount", "percent"],
            "line_discount_value": ["10", "", ""],
        },
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/"
    assert (order.total, order.channel, order.lines.count()) == (Decimal("3960.00"), "phone", 2)


def test_form_shows_line_errors_inline(org, login, contact, products, price_list):
    response = login(org.rep).post(
        "/orders/new/",
        {
            "contact": contact.pk,
            "price_list": price_list.pk,
            "line_product": [products[3].pk],
            "line_quantity": ["-2"],
            "line_price": [""],
            "line_discount_kind": ["percent"],
            "line_discount_value": [""],
        },
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert "no longer sold" in html
    assert "greater than zero" in html
    assert Order.objects.count() == 0


def test_form_quantity_left_empty_looks_empty_and_is_named_in_the_error(
    org, login, contact, products, price_list
):
    client = login(org.rep)
    assert 'placeholder="1"' not in client.get("/orders/new/").content.decode()
    response = client.post(
        "/orders/new/",
        {
            "contact": contact.pk,
            "price_list": price_list.pk,
            "line_product": [products[0].pk],
            "line_quantity": [""],
            "line_price": [""],
            "line_discount_kind": ["percent"],
            "line_discount_value": [""],
        },
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert 'name="line_quantity" value="" aria-label="Quantity"' in html
    assert "Enter a quantity." in html
    assert Order.objects.count() == 0


def test_form_by_analyst_is_403(org, login):
    assert login(org.analyst).get("/orders/new/").status_code == 403


def test_live_totals(org, login, price_list, products):
    response = login(org.rep).post(
        "/orders/new/totals/",
        {
            "price_list": price_list.pk,
            "line_product": [products[0].pk, ""],
            "line_quantity": ["3", ""],
            "line_price": ["", ""],
            "line_discount_kind": ["percent", "percent"],
            "line_discount_value": ["", ""],
        },
    )

    html = response.content.decode()
    assert "3,600.00" in html
    assert 'data-line-amount="3,000.00"' in html
    assert 'data-line-amount="—"' in html


def test_customer_picker_only_lists_visible(org, login, contact, contact_factory):
    contact_factory(owner=org.other_rep, first_name="Anton", last_name="Smirnov")

    html = login(org.rep).get("/orders/new/customers/?customer_q=Smirn").content.decode()

    assert "Anna Smirnova" in html
    assert "Anton" not in html


def test_customer_orders_partial(org, rf, make_order, contact):
    order = make_order()
    services.order_set_status(user=org.rep, order=make_order(), status="cancelled")
    data = selectors.orders_for_customer(user=org.rep, contact=contact)

    html = render_to_string(
        "orders/partials/_customer_orders.html", {"customer_orders": data, "order_currency": "RUB"}
    )

    assert (data["count"], data["revenue"], data["margin"]) == (
        2,
        Decimal("2000.00"),
        Decimal("1400.00"),
    )
    assert order.number in html
    assert "2,000.00" in html


@pytest.mark.parametrize("url", ["/orders/", "/orders/new/"])
def test_pages_need_login(client, url):
    response = client.get(url)

    assert response.status_code == 302


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "orders: 1"), ("ru", "нельзя удалить, пока на эту запись")]
)
def test_deleting_a_contact_with_orders_shows_why_and_keeps_it(
    org, login, make_order, contact, language, expected
):
    org.rep.language = language
    org.rep.save(update_fields=["language"])
    make_order()

    response = login(org.rep).post(f"/contacts/{contact.pk}/delete/", {"version": 1})

    assert response.status_code == 409
    page = response.content.decode()
    assert "Anna Smirnova" in page and expected in page
    assert "btn-danger" not in page  # nothing to confirm: only the way back
    assert f'href="/contacts/{contact.pk}/"' in page
    assert type(contact).objects.filter(pk=contact.pk).exists()
