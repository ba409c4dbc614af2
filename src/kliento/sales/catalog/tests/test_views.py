"""Catalogue pages: lists, forms with inline errors, settings pages (admins only)."""

from __future__ import annotations

import pytest

from kliento.core.models import OrgSettings
from kliento.sales.catalog.models import CurrencyRate, DiscountLimit, Product

pytestmark = pytest.mark.django_db


def test_product_list_shows_products(login, org, products):
    response = login(org.rep).get("/catalog/products/?q=CRM")
    assert response.status_code == 200
    assert b"CRM Standard licence" in response.content
    assert b"Implementation" not in response.content


def test_product_list_empty_state(login, org):
    assert b"No products yet" in login(org.rep).get("/catalog/products/").content


def test_product_form_inline_errors(login, org):
    response = login(org.admin).post(
        "/catalog/products/new/", {"sku": "", "name": "", "unit": "pcs", "cost": "abc"}
    )
    assert response.status_code == 422
    assert b"This field is required." in response.content
    assert b"Enter a number." in response.content
    assert not Product.objects.exists()


def test_product_create_from_form(login, org):
    response = login(org.head).post(
        "/catalog/products/new/",
        {
            "sku": "W-1",
            "name": "Widget",
            "unit": "pcs",
            "cost": "1",
            "tax_rate": "20",
            "active": "on",
        },
    )
    assert response.status_code == 302
    assert Product.objects.get().name == "Widget"


def test_rep_gets_403_on_the_product_form(login, org):
    assert login(org.rep).get("/catalog/products/new/").status_code == 403


def test_price_list_detail_sets_a_price(login, org, price_list, product_factory):
    product = product_factory(sku="NEW")
    client = login(org.head)
    response = client.post(
        f"/catalog/price-lists/{price_list.pk}/",
        {"action": "price", "product_id": product.pk, "price": "5.5"},
    )
    assert response.status_code == 302
    assert price_list.items.get(product=product).price == 5.5
    assert b"NEW" in client.get(f"/catalog/price-lists/{price_list.pk}/").content


def test_price_list_list(login, org, price_list):
    response = login(org.rep).get("/catalog/price-lists/")
    assert b"Base" in response.content and b"Valid today" in response.content


def test_currency_rates_page(login, org):
    client = login(org.admin)
    assert client.get("/catalog/settings/currency-rates/").status_code == 200
    response = client.post("/catalog/settings/currency-rates/", {"currency": "US", "rate": "x"})
    assert response.status_code == 422
    response = client.post(
        "/catalog/settings/currency-rates/",
        {"currency": "USD", "rate": "91.2", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 302
    assert CurrencyRate.objects.get().currency == "USD"


@pytest.mark.parametrize(
    "url", ["/catalog/settings/currency-rates/", "/catalog/settings/discount-limits/"]
)
def test_settings_are_admin_only(login, org, url):
    assert login(org.head).get(url).status_code == 403


def test_discount_limits_page(login, org):
    client = login(org.admin)
    response = client.post(
        "/catalog/settings/discount-limits/", {"limit_rep": "10", "limit_head": "25"}
    )
    assert response.status_code == 302
    assert dict(DiscountLimit.objects.values_list("role", "max_percent")) == {"rep": 10, "head": 25}
    response = client.post("/catalog/settings/discount-limits/", {"limit_rep": "120"})
    assert response.status_code == 422


def test_new_price_list_form_opens_with_the_company_currency(login, org):
    response = login(org.head).get("/catalog/price-lists/new/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="currency" value="RUB"' in html
    assert 'name="valid_from" value=""' in html


def test_new_product_form_starts_from_the_company_tax_rate_in_the_users_language(login, org):
    settings_row = OrgSettings.get()
    settings_row.default_tax_rate = 20
    settings_row.save()
    org.head.language = "ru"
    org.head.save(update_fields=["language"])
    html = login(org.head).get("/catalog/products/new/").content.decode()
    assert 'name="unit" value="шт"' in html
    assert 'placeholder="шт, ч, кг"' in html
    assert 'name="tax_rate" value="20' in html


def test_currency_rate_history_shows_the_rate_without_trailing_zeros(login, org):
    client = login(org.admin)
    client.post(
        "/catalog/settings/currency-rates/",
        {"currency": "USD", "rate": "91.2", "valid_from": "2026-01-01"},
    )
    html = client.get("/catalog/settings/currency-rates/").content.decode()
    assert ">91.2</td>" in html and "91.200000" not in html
    assert "1 Jan 2026" in html
