"""Orders over HTTP: list/filters/cursor/totals, create, ETag/If-Match, status, quotes, facts."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kliento.sales.orders import services
from kliento.sales.orders.models import Order

QUERIES_LIST = 6  # authentication, the head's visibility, the page and its totals
QUERIES_FACTS = 5  # authentication, the orders, their lines (one query), the currency


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def patch(client, url, body, **headers):
    return client.patch(url, json.dumps(body), content_type="application/json", **headers)


def test_create_answers_201_with_exact_amounts(org, api, contact, products, price_list):
    response = post(
        api(org.rep),
        "/api/v1/orders",
        {
            "contact": contact.pk,
            "price_list": price_list.pk,
            "channel": "web",
            "lines": [
                {
                    "product": products[0].pk,
                    "quantity": "2",
                    "discount_kind": "percent",
                    "discount_value": "5",
                },
                {"product": products[2].pk, "quantity": 1.5, "price": "2000.10"},
            ],
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert response["ETag"] == f'"{body["id"]}-1"'
    assert (body["subtotal"], body["discount_total"], body["tax_total"], body["total"]) == (
        "5000.15",
        "100.00",
        "980.03",
        "5880.18",
    )
    assert (body["revenue_company"], body["cost_company"], body["margin_company"]) == (
        "4900.15",
        "1950.00",
        "2950.15",
    )
    assert [line["net"] for line in body["lines"]] == ["1900.00", "3000.15"]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": "-1"}, "lines.0.quantity"),
        ({"quantity": "0"}, "lines.0.quantity"),
        ({"quantity": "1", "price": "-1"}, "lines.0.price"),
        ({"quantity": "1.0001"}, "lines.0.quantity"),
    ],
)
def test_create_bad_line_is_422_naming_the_field(
    org, api, contact, products, price_list, line, field
):
    response = post(
        api(org.rep),
        "/api/v1/orders",
        {
            "contact": contact.pk,
            "price_list": price_list.pk,
            "lines": [{"product": products[0].pk, **line}],
        },
    )

    assert response.status_code == 422
    assert list(response.json()["fields"]) == [field]
    assert Order.objects.count() == 0


def test_create_with_inactive_product_is_422(org, api, contact, products, price_list):
    response = post(
        api(org.rep),
        "/api/v1/orders",
        {
            "contact": contact.pk,
            "price_list": price_list.pk,
            "lines": [{"product": products[3].pk, "quantity": 1}],
        },
    )

    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["lines.0.product"]


def test_create_with_unknown_field_is_422(org, api, contact, products, price_list):
    response = post(
        api(org.rep),
        "/api/v1/orders",
        {
            "contact": contact.pk,
            "total": "1",
            "lines": [{"product": products[0].pk, "quantity": 1}],
        },
    )

    assert response.status_code == 422
    assert "total" in response.json()["fields"]


def test_analyst_cannot_create(org, api, contact, products, price_list):
    response = post(
        api(org.analyst),
        "/api/v1/orders",
        {
            "contact": contact.pk,
            "price_list": price_list.pk,
            "lines": [{"product": products[0].pk, "quantity": 1}],
        },
    )

    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_get_has_etag_and_honours_if_none_match(org, api, make_order):
    order = make_order()
    client = api(org.rep)

    first = client.get(f"/api/v1/orders/{order.pk}")
    again = client.get(f"/api/v1/orders/{order.pk}", HTTP_IF_NONE_MATCH=first["ETag"])

    assert (first.status_code, first.json()["number"], again.status_code) == (
        200,
        order.number,
        304,
    )


@pytest.mark.parametrize("who", ["other_rep", "rep_peer"])
def test_hidden_order_is_404(org, api, make_order, who):
    order = make_order()

    assert api(org.users[who]).get(f"/api/v1/orders/{order.pk}").status_code == 404


@pytest.mark.parametrize("who", ["head", "admin", "analyst"])
def test_order_visible_to_head_admin_analyst(org, api, make_order, who):
    order = make_order()

    assert api(org.users[who]).get(f"/api/v1/orders/{order.pk}").status_code == 200


def test_patch_with_stale_if_match_is_412(org, api, make_order):
    order = make_order()

    response = patch(
        api(org.rep), f"/api/v1/orders/{order.pk}", {"note": "x"}, HTTP_IF_MATCH=f'"{order.pk}-9"'
    )

    assert response.status_code == 412
    order.refresh_from_db()
    assert order.note == ""


def test_patch_changes_note(org, api, make_order):
    order = make_order()

    response = patch(
        api(org.rep),
        f"/api/v1/orders/{order.pk}",
        {"note": "Leave at reception"},
        HTTP_IF_MATCH=order.etag,
    )

    assert response.status_code == 200
    assert (response.json()["note"], response["ETag"]) == ("Leave at reception", f'"{order.pk}-2"')


def test_patch_by_analyst_is_403(org, api, make_order):
    order = make_order()

    response = patch(api(org.analyst), f"/api/v1/orders/{order.pk}", {"note": "x"})

    assert response.status_code == 403


def test_status_transition_and_conflict(org, api, make_order):
    order = make_order()
    client = api(org.rep)

    paid = post(client, f"/api/v1/orders/{order.pk}/status", {"status": "paid"})
    back = post(client, f"/api/v1/orders/{order.pk}/status", {"status": "new"})

    assert (paid.status_code, paid.json()["status"]) == (200, "paid")
    assert back.status_code == 409
    assert "paid" in back.json()["message"]


def test_status_unknown_value_is_422(org, api, make_order):
    order = make_order()

    response = post(api(org.rep), f"/api/v1/orders/{order.pk}/status", {"status": "lost"})

    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["status"]


def test_status_with_stale_if_match_is_412(org, api, make_order):
    order = make_order()

    response = post(
        api(org.rep),
        f"/api/v1/orders/{order.pk}/status",
        {"status": "paid"},
        HTTP_IF_MATCH=f'"{order.pk}-5"',
    )

    assert response.status_code == 412


def test_list_filters_totals_and_cursor(org, api, make_order, products):
    for quantity in ("1", "2", "3"):
        make_order(lines=[{"product": products[0].pk, "quantity": quantity}])
    cancelled = make_order()
    services.order_set_status(user=org.rep, order=cancelled, status="cancelled")
    client = api(org.rep)

    first = client.get("/api/v1/orders?limit=2&sort=-total&status=new")
    second = client.get(
        f"/api/v1/orders?limit=2&sort=-total&status=new&cursor={first.json()['next_cursor']}"
    )
    everything = client.get("/api/v1/orders")

    assert [o["total"] for o in first.json()["items"]] == ["3600.00", "2400.00"]
    assert [o["total"] for o in second.json()["items"]] == ["1200.00"]
    assert first.json()["totals"] == {
        "count": 3,
        "revenue": "6000.00",
        "cost": "1800.00",
        "margin": "4200.00",
    }
    assert everything.json()["totals"]["count"] == 4
    assert everything.json()["totals"]["revenue"] == "6000.00"


def test_list_unknown_filter_is_422(org, api):
    response = api(org.rep).get("/api/v1/orders?colour=red")

    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["colour"]


def test_list_only_shows_visible_orders(
    org, api, make_order, contact_factory, products, price_list
):
    mine = make_order()
    theirs = services.order_create(
        user=org.other_rep,
        data={
            "contact": contact_factory(owner=org.other_rep).pk,
            "price_list": price_list.pk,
            "lines": [{"product": products[0].pk, "quantity": 1}],
        },
    )

    ids_rep = [o["id"] for o in api(org.rep).get("/api/v1/orders").json()["items"]]
    ids_head = {o["id"] for o in api(org.head).get("/api/v1/orders").json()["items"]}

    assert ids_rep == [mine.pk]
    assert ids_head == {mine.pk, theirs.pk}


def test_from_quote_creates_then_returns_the_same_order(org, api, make_quote):
    quote = make_quote()
    client = api(org.rep)

    first = client.post(f"/api/v1/orders/from-quote/{quote.pk}")
    second = client.post(f"/api/v1/orders/from-quote/{quote.pk}")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["quote_id"] == quote.pk
    assert first.json()["total"] == "5460.00"


def test_from_hidden_quote_is_404(org, api, make_quote):
    quote = make_quote(owner=org.other_rep)

    assert api(org.rep).post(f"/api/v1/orders/from-quote/{quote.pk}").status_code == 404
    assert Order.objects.count() == 0


def test_from_draft_quote_is_409(org, api, make_quote):
    quote = make_quote(status="draft")

    assert api(org.rep).post(f"/api/v1/orders/from-quote/{quote.pk}").status_code == 409


def test_facts_give_exact_line_margins(org, api, make_order, products):
    order = make_order(
        lines=[
            {
                "product": products[0].pk,
                "quantity": "2",
                "discount_kind": "amount",
                "discount_value": "100",
            },
            {"product": products[1].pk, "quantity": "1"},
        ]
    )
    today = dt.date.today().isoformat()

    response = api(org.analyst).get(f"/api/v1/orders/facts?date_from={today}&date_to={today}")

    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "RUB"
    [fact] = body["items"]
    assert (fact["id"], fact["counted"], fact["revenue_company"], fact["margin_company"]) == (
        order.pk,
        True,
        "3900.00",
        "2800.00",
    )
    assert [
        (x["sku"], x["revenue_company"], x["cost_company"], x["margin_company"])
        for x in fact["lines"]
    ] == [
        ("CRM-STD", "1900.00", "600.00", "1300.00"),
        ("CRM-PRO", "2000.00", "500.00", "1500.00"),
    ]


def test_facts_need_a_date_range(org, api):
    response = api(org.analyst).get("/api/v1/orders/facts?date_from=2026-01-01")

    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["date_to"]


def test_facts_hide_other_reps_orders(org, api, make_order):
    make_order()
    today = dt.date.today().isoformat()

    response = api(org.other_rep).get(f"/api/v1/orders/facts?date_from={today}&date_to={today}")

    assert response.json()["items"] == []


def test_list_query_count_is_flat(org, api, make_order, django_assert_num_queries):
    client = api(org.head)
    client.get("/api/v1/orders")  # warm the auth path
    for _ in range(5):
        make_order()

    with django_assert_num_queries(QUERIES_LIST):
        response = client.get("/api/v1/orders")

    assert len(response.json()["items"]) == 5


def test_facts_query_count_is_flat(org, api, make_order, django_assert_num_queries):
    client = api(org.analyst)
    today = dt.date.today().isoformat()
    for _ in range(4):
        make_order()

    with django_assert_num_queries(QUERIES_FACTS):
        response = client.get(f"/api/v1/orders/facts?date_from={today}&date_to={today}")

    assert len(response.json()["items"]) == 4


@pytest.mark.parametrize("entity", ["contact", "company"])
def test_deleting_a_customer_with_orders_is_409_naming_them_and_keeps_everything(
    org, api, make_order, contact, company, entity
):
    order = make_order(company=company.pk)
    obj = contact if entity == "contact" else company
    path = f"/api/v1/{'contacts' if entity == 'contact' else 'companies'}/{obj.pk}"

    response = api(org.rep).delete(path)

    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "conflict"
    assert "orders: 1" in body["message"]
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert Order.objects.filter(pk=order.pk).exists()
    assert api(org.rep).get(path).status_code == 200  # nothing half-deleted: still readable


def test_multipart_body_without_a_boundary_is_400(org, api):
    response = api(org.admin).post(
        "/api/v1/imports", b"garbage", content_type="multipart/form-data"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "bad_request"


def test_line_total_beyond_the_largest_amount_is_422(org, api, contact, products, price_list):
    response = post(
        api(org.rep),
        "/api/v1/orders",
        {
            "contact": contact.pk,
            "lines": [{"product": products[0].pk, "quantity": "999999999", "price": "99999"}],
        },
    )

    assert response.status_code == 422, response.content
    assert "lines.0" in " ".join(response.json()["fields"])
    assert not Order.objects.exists()
