"""The customer's acceptance acts as the system: staff permissions never block it, and the
deal's amount follows the accepted quote."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.test import Client

from kliento.core.models import AuditLog
from kliento.core.services import user_update
from kliento.customers.models import Interaction
from kliento.sales.catalog.models import CurrencyRate, PriceList, PriceListItem
from kliento.sales.deals.services import deal_update
from kliento.sales.orders.models import Order
from kliento.sales.quotes import services

pytestmark = pytest.mark.django_db


def _sent(org, quote, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.quote_send(user=org.rep, quote=quote)


def _reassign_deal(org, deal):
    """The head gives the deal to a rep of another team: the quote's owner can no longer edit it."""
    deal_update(user=org.head, deal=deal, data={"owner": org.other_rep.pk})


def _deactivate_owner(org, deal):
    user_update(actor=org.admin, user=org.rep, is_active=False)


@pytest.mark.parametrize("change", [_reassign_deal, _deactivate_owner], ids=["reassigned", "left"])
def test_accept_over_the_api_when_the_owner_may_no_longer_edit_the_deal(
    org, priced_quote, change, django_capture_on_commit_callbacks
):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    change(org, quote.deal)

    response = Client().post(
        f"/api/v1/public/quotes/{quote.token}/accept", "{}", content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    quote.refresh_from_db()
    quote.deal.refresh_from_db()
    assert (quote.status, quote.deal.status) == ("accepted", "won")
    order = Order.objects.get(quote=quote)
    assert (order.deal_id, order.total) == (quote.deal.pk, D("13200.00"))
    # The system acted, on the customer's behalf: no staff user is recorded for it.
    win = AuditLog.objects.get(entity="deal", object_id=quote.deal.pk, changes__has_key="status")
    assert (win.user_id, win.changes["status"]) == (None, ["open", "won"])
    assert AuditLog.objects.get(entity="order", object_id=order.pk).user_id is None


def test_accept_on_the_public_page_when_the_deal_was_reassigned(
    org, priced_quote, django_capture_on_commit_callbacks
):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    _reassign_deal(org, quote.deal)

    response = Client().post(f"/quotes/p/{quote.token}/accept/")

    assert response.status_code == 200
    assert b"You have accepted this proposal" in response.content
    quote.refresh_from_db()
    quote.deal.refresh_from_db()
    assert (quote.status, quote.deal.status) == ("accepted", "won")
    # The order belongs to whoever owns the deal now, not to the quote's former owner.
    assert Order.objects.get(quote=quote).owner_id == org.other_rep.pk


def test_accepted_quote_sets_the_deal_amount_before_tax(
    org, priced_quote, django_capture_on_commit_callbacks
):
    """11 000 of lines, 5% off (550), 20% VAT on the rest (2 090): the deal is worth 10 450,
    what the order books as revenue; the customer pays 12 540."""
    services.quote_update(
        user=org.rep,
        quote=priced_quote,
        data={"discount_kind": "percent", "discount_value": "5"},
    )
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    assert (quote.net, quote.tax_total, quote.total) == (D("10450.00"), D("2090.00"), D("12540.00"))
    deal = quote.deal
    assert (deal.amount, deal.amount_company) == (D("1000.00"), D("1000.00"))

    response = Client().post(
        f"/api/v1/public/quotes/{quote.token}/accept", "{}", content_type="application/json"
    )

    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.amount, deal.currency, deal.amount_company) == (
        D("10450.00"),
        "RUB",
        D("10450.00"),
    )
    assert Order.objects.get(quote=quote).revenue_company == deal.amount_company
    entry = AuditLog.objects.get(entity="deal", object_id=deal.pk, changes__has_key="quote")
    assert entry.user_id is None
    assert entry.changes == {
        "amount": ["1000.00", "10450.00"],
        "quote": [None, f"{quote.number} v1"],
    }
    note = Interaction.objects.get(
        related_type="deal", related_id=deal.pk, subject__contains="amount"
    )
    assert note.subject == f"Deal amount set from quote {quote.number} v1: 10450.00 RUB"
    # The win is recorded at the new amount.
    won = Interaction.objects.get(
        related_type="deal", related_id=deal.pk, subject__startswith="Deal won"
    )
    assert won.subject.endswith("10450.00 RUB")


def test_accepted_quote_in_another_currency_converts_the_deal_amount(
    org, deal, products, django_capture_on_commit_callbacks
):
    import datetime as dt

    CurrencyRate.objects.create(currency="EUR", valid_from=dt.date(2020, 1, 1), rate=D("100.0000"))
    euro = PriceList.objects.create(name="Euro", currency="EUR")
    PriceListItem.objects.create(price_list=euro, product=products[0], price=D("10.00"))
    quote = services.quote_create(user=org.rep, deal=deal, price_list=euro)
    services.quote_line_add(
        user=org.rep, quote=quote, data={"product_id": products[0].pk, "quantity": "3"}
    )
    quote.refresh_from_db()
    quote = _sent(org, quote, django_capture_on_commit_callbacks)

    response = Client().post(f"/quotes/p/{quote.token}/accept/")

    assert response.status_code == 200
    deal.refresh_from_db()
    assert (deal.amount, deal.currency, deal.amount_company) == (D("30.00"), "EUR", D("3000.00"))
    entry = AuditLog.objects.get(entity="deal", object_id=deal.pk, changes__has_key="quote")
    assert entry.changes["currency"] == ["RUB", "EUR"]


def test_unchanged_amount_writes_no_extra_history(
    org, priced_quote, django_capture_on_commit_callbacks
):
    deal_update(user=org.rep, deal=priced_quote.deal, data={"amount": "11000.00"})
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)

    services.quote_accept(quote=quote)

    assert not AuditLog.objects.filter(
        entity="deal", object_id=quote.deal_id, changes__has_key="quote"
    ).exists()
    quote.deal.refresh_from_db()
    assert (quote.deal.amount, quote.deal.status) == (D("11000.00"), "won")
