"""Catalogue services: who may change it, validation, price lists and their prices, settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kliento.core.errors import PermissionDeniedError, ValidationFailedError
from kliento.core.models import AuditLog
from kliento.sales.catalog import services
from kliento.sales.catalog.models import CurrencyRate, DiscountLimit, PriceList, Product
from kliento.sales.catalog.selectors import discount_limit_for, price_list_default

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["admin", "head"])
def test_admins_and_heads_create_products(org, role):
    product = services.product_create(
        user=getattr(org, role),
        data={"sku": "A-1", "name": "Widget", "cost": "10.50", "tax_rate": "20"},
    )
    assert (product.sku, product.cost, product.tax_rate, product.unit) == (
        "A-1",
        Decimal("10.50"),
        Decimal("20"),
        "pcs",
    )
    assert AuditLog.objects.filter(entity="product", object_id=product.pk).count() == 1


@pytest.mark.parametrize("role", ["rep", "analyst", "marketer"])
def test_others_cannot_change_the_catalogue(org, role):
    with pytest.raises(PermissionDeniedError):
        services.product_create(user=getattr(org, role), data={"sku": "A-1", "name": "Widget"})
    assert not Product.objects.exists()


def test_product_errors_name_each_field(org):
    services.product_create(user=org.admin, data={"sku": "A-1", "name": "Widget"})
    with pytest.raises(ValidationFailedError) as exc:
        services.product_create(
            user=org.admin, data={"sku": "a-1", "name": "", "cost": "-1", "tax_rate": "120"}
        )
    assert set(exc.value.fields) == {"sku", "name", "cost", "tax_rate"}


def test_deactivate_keeps_the_product(org, products):
    product = services.product_deactivate(user=org.head, product=products[0])
    assert product.active is False
    assert product.version == 2


def test_only_one_default_price_list_per_currency(org, price_list):
    other = services.price_list_create(
        user=org.admin, data={"name": "Partners", "currency": "rub", "is_default": True}
    )
    price_list.refresh_from_db()
    assert (other.currency, other.is_default, price_list.is_default) == ("RUB", True, False)


def test_validity_dates_must_be_in_order(org):
    with pytest.raises(ValidationFailedError) as exc:
        services.price_list_create(
            user=org.admin,
            data={
                "name": "X",
                "currency": "USD",
                "valid_from": "2026-05-01",
                "valid_to": "2026-04-01",
            },
        )
    assert set(exc.value.fields) == {"valid_to"}


def test_item_price_set_and_changed(org, price_list, product_factory):
    product = product_factory()
    services.price_list_item_set(
        user=org.head, price_list=price_list, product=product, price="99.90"
    )
    item = services.price_list_item_set(
        user=org.head, price_list=price_list, product=product, price="89.90"
    )
    assert item.price == Decimal("89.90")
    assert price_list.items.filter(product=product).count() == 1


def test_default_price_list_valid_today(price_list):
    assert price_list_default() == price_list
    PriceList.objects.filter(pk=price_list.pk).update(valid_to=dt.date(2000, 1, 1))
    assert price_list_default() is None


def test_currency_rate_history_is_kept(org):
    services.currency_rate_create(
        user=org.admin, data={"currency": "usd", "rate": "90.5", "valid_from": "2026-01-01"}
    )
    services.currency_rate_create(
        user=org.admin, data={"currency": "USD", "rate": "92.25", "valid_from": "2026-02-01"}
    )
    assert list(CurrencyRate.objects.values_list("rate", flat=True)) == [
        Decimal("92.250000"),
        Decimal("90.500000"),
    ]
    with pytest.raises(ValidationFailedError) as exc:
        services.currency_rate_create(
            user=org.admin, data={"currency": "USD", "rate": "1", "valid_from": "2026-02-01"}
        )
    assert set(exc.value.fields) == {"valid_from"}


def test_rates_and_limits_are_admin_only(org):
    with pytest.raises(PermissionDeniedError):
        services.currency_rate_create(user=org.head, data={"currency": "USD", "rate": "1"})
    with pytest.raises(PermissionDeniedError):
        services.discount_limit_set(user=org.head, role="rep", max_percent="50")
    assert not CurrencyRate.objects.exists()
    assert not DiscountLimit.objects.exists()


def test_discount_limits(org):
    services.discount_limit_set(user=org.admin, role="rep", max_percent="7.5")
    assert discount_limit_for("rep") == Decimal("7.50")
    assert discount_limit_for("head") == Decimal("0")
    assert discount_limit_for("admin") is None
    services.discount_limit_set(user=org.admin, role="rep", max_percent="")
    assert not DiscountLimit.objects.exists()
