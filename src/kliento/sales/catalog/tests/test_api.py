"""The catalogue API over HTTP."""

from __future__ import annotations

import json

import pytest

from kliento.sales.catalog.models import Product

pytestmark = pytest.mark.django_db


def _send(client, method, url, body=None, **headers):
    return getattr(client, method)(
        url, json.dumps(body or {}), content_type="application/json", **headers
    )


def test_products_list_search_filter_and_cursor(api, org, products):
    client = api(org.rep)
    body = client.get("/api/v1/products?limit=2&sort=sku").json()
    assert [p["sku"] for p in body["items"]] == ["CRM-PRO", "CRM-STD"]
    second = client.get(f"/api/v1/products?limit=2&sort=sku&cursor={body['next_cursor']}").json()
    assert [p["sku"] for p in second["items"]] == ["IMPL", "OLD-1"]
    assert [p["sku"] for p in client.get("/api/v1/products?q=crm-s").json()["items"]] == ["CRM-STD"]
    assert [p["sku"] for p in client.get("/api/v1/products?active=false").json()["items"]] == [
        "OLD-1"
    ]
    assert [p["sku"] for p in client.get("/api/v1/products?category=Services").json()["items"]] == [
        "IMPL"
    ]


def test_unknown_filter_is_422(api, org):
    response = api(org.rep).get("/api/v1/products?colour=red")
    assert response.status_code == 422
    assert "colour" in response.json()["fields"]


def test_rep_reads_but_cannot_create(api, org):
    response = _send(api(org.rep), "post", "/api/v1/products", {"sku": "X", "name": "X"})
    assert response.status_code == 403
    assert not Product.objects.exists()


def test_create_and_patch_with_if_match(api, org):
    client = api(org.head)
    created = _send(client, "post", "/api/v1/products", {"sku": "X-1", "name": "Box", "cost": "5"})
    assert created.status_code == 201
    pid = created.json()["id"]
    etag = created["ETag"]
    ok = _send(client, "patch", f"/api/v1/products/{pid}", {"name": "Big box"}, HTTP_IF_MATCH=etag)
    assert ok.status_code == 200
    stale = _send(
        client, "patch", f"/api/v1/products/{pid}", {"name": "Huge box"}, HTTP_IF_MATCH=etag
    )
    assert stale.status_code == 412
    assert Product.objects.get(pk=pid).name == "Big box"


def test_duplicate_sku_is_422_naming_sku(api, org, products):
    response = _send(api(org.admin), "post", "/api/v1/products", {"sku": "CRM-STD", "name": "Copy"})
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"sku"}


def test_price_list_items(api, org, price_list, products, product_factory):
    client = api(org.head)
    items = client.get(f"/api/v1/price-lists/{price_list.pk}/items").json()
    assert [(i["sku"], i["price"]) for i in items][:2] == [
        ("CRM-PRO", "2000.00"),
        ("CRM-STD", "1000.00"),
    ]
    new = product_factory(sku="NEW")
    response = _send(
        client, "put", f"/api/v1/price-lists/{price_list.pk}/items/{new.pk}", {"price": "12.30"}
    )
    assert response.status_code == 200
    assert response.json()["price"] == "12.30"
    assert client.delete(f"/api/v1/price-lists/{price_list.pk}/items/{new.pk}").status_code == 204
    assert not price_list.items.filter(product=new).exists()


def test_price_lists_valid_on(api, org, price_list):
    client = api(org.rep)
    assert [
        p["id"] for p in client.get("/api/v1/price-lists?valid_on=2001-01-01").json()["items"]
    ] == []
    assert len(client.get("/api/v1/price-lists").json()["items"]) == 1


def test_currency_rates_and_discount_limits(api, org):
    admin = api(org.admin)
    created = _send(
        admin,
        "post",
        "/api/v1/currency-rates",
        {"currency": "EUR", "rate": "100.5", "valid_from": "2026-01-01"},
    )
    assert created.status_code == 201
    assert [r["currency"] for r in admin.get("/api/v1/currency-rates").json()] == ["EUR"]
    assert (
        _send(
            api(org.rep), "post", "/api/v1/currency-rates", {"currency": "USD", "rate": "1"}
        ).status_code
        == 403
    )
    assert (
        _send(admin, "put", "/api/v1/discount-limits/rep", {"max_percent": "12.5"}).status_code
        == 200
    )
    limits = {
        row["role"]: row["max_percent"] for row in admin.get("/api/v1/discount-limits").json()
    }
    assert limits["rep"] == "12.50"
    assert (
        _send(admin, "put", "/api/v1/discount-limits/rep", {"max_percent": "150"}).status_code
        == 422
    )


def test_the_largest_price_round_trips_and_one_past_it_is_422(api, org, price_list, products):
    client = api(org.head)
    url = f"/api/v1/price-lists/{price_list.pk}/items/{products[0].pk}"

    largest = _send(client, "put", url, {"price": "9999999999999.99"})
    past = _send(client, "put", url, {"price": 99999999999999.99})

    assert largest.status_code == 200, largest.content
    assert past.status_code == 422
    assert set(past.json()["fields"]) == {"price"}
    # Read back from the database: SQLite keeps 15 significant digits, and this is 15.
    items = client.get(f"/api/v1/price-lists/{price_list.pk}/items").json()
    assert {i["sku"]: i["price"] for i in items}["CRM-STD"] == "9999999999999.99"
