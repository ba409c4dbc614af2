"""Quote services: creation from a deal, exact totals, approval, versions, sending, answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from kliento.core.errors import ConflictError, PermissionDeniedError, ValidationFailedError
from kliento.core.models import OrgSettings
from kliento.customers.models import Interaction
from kliento.sales.catalog.models import PriceList
from kliento.sales.quotes import services
from kliento.sales.quotes.models import QuoteApproval, QuoteLine, QuoteStatus

D = Decimal


def test_quote_from_deal_takes_number_customer_currency_validity_and_terms(org, deal, price_list):
    settings_row = OrgSettings.get()
    settings_row.quote_validity_days = 14
    settings_row.quote_terms = "Payment within 10 days."
    settings_row.save()

    quote = services.quote_create(user=org.rep, deal=deal)

    today = timezone.localdate()
    assert quote.number == f"Q-{today.year}-00001"
    assert (quote.revision, quote.status, quote.currency) == (1, "draft", "RUB")
    assert (quote.contact_id, quote.company_id, quote.price_list_id) == (
        deal.contact_id,
        deal.company_id,
        price_list.pk,
    )
    assert quote.valid_until == today + dt.timedelta(days=14)
    assert quote.terms == "Payment within 10 days."
    assert services.quote_create(user=org.rep, deal=deal).number == f"Q-{today.year}-00002"


def test_language_comes_from_the_contact(org, deal):
    deal.contact.language = "ru"
    deal.contact.save()
    assert services.quote_create(user=org.rep, deal=deal).language == "ru"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"valid_to": dt.date(2020, 1, 31)}, "expired on 2020-01-31"),
        ({"valid_from": dt.date(2200, 1, 1), "valid_to": None}, "valid only from 2200-01-01"),
        ({"active": False}, "inactive"),
    ],
)
def test_price_list_not_valid_today_is_a_clear_error(org, deal, price_list, change, words):
    PriceList.objects.filter(pk=price_list.pk).update(**change)

    with pytest.raises(ValidationFailedError) as exc:
        services.quote_create(user=org.rep, deal=deal)

    assert words in exc.value.fields["price_list"]
    assert not deal.quotes.exists()


def test_exact_totals_with_line_and_document_discounts_and_tax(org, priced_quote):
    line1, line2 = priced_quote.lines.order_by("position")
    services.quote_line_update(
        user=org.rep,
        quote=priced_quote,
        line_id=line1.pk,
        data={"discount_kind": "percent", "discount_value": "5"},
    )
    services.quote_line_update(
        user=org.rep,
        quote=priced_quote,
        line_id=line2.pk,
        data={"discount_kind": "amount", "discount_value": "100"},
    )
    # A free line taxed at 10%.
    services.quote_line_add(
        user=org.rep,
        quote=priced_quote,
        data={"description": "Delivery", "quantity": "1", "price": "333.33", "tax_rate": "10"},
    )
    quote = services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "amount", "discount_value": "100"}
    )

    # Lines after their own discounts: 1900, 8900, 333.33 = 11 133.33.
    # The 100 spread: 1900/11133.33×100 = 17.07, 8900/… = 79.94, residue 2.99 on the last.
    lines = list(quote.lines.order_by("position"))
    assert [line.net for line in lines] == [D("1882.93"), D("8820.06"), D("330.34")]
    assert [line.discount_amount for line in lines] == [D("117.07"), D("179.94"), D("2.99")]
    assert [line.tax for line in lines] == [D("376.59"), D("1764.01"), D("33.03")]
    assert (quote.subtotal, quote.discount_total, quote.tax_total, quote.total) == (
        D("11333.33"),
        D("300.00"),
        D("2173.63"),
        D("13206.96"),
    )
    assert quote.discount_percent == D("2.65")


def test_percent_document_discount_spreads_with_the_residue_on_the_last_line(org, quote):
    for price in ("0.10", "0.10", "0.10"):
        services.quote_line_add(
            user=org.rep,
            quote=quote,
            data={"description": "Item", "quantity": "1", "price": price, "tax_rate": "0"},
        )
    quote = services.quote_update(
        user=org.rep, quote=quote, data={"discount_kind": "amount", "discount_value": "0.10"}
    )
    assert [line.discount_amount for line in quote.lines.order_by("position")] == [
        D("0.03"),
        D("0.03"),
        D("0.04"),
    ]
    assert quote.total == D("0.20")


def test_discount_larger_than_the_amount_is_refused_not_clipped(org, priced_quote):
    with pytest.raises(ValidationFailedError) as exc:
        services.quote_update(
            user=org.rep,
            quote=priced_quote,
            data={"discount_kind": "amount", "discount_value": "20000"},
        )
    assert "discount_value" in exc.value.fields
    priced_quote.refresh_from_db()
    assert (priced_quote.discount_kind, priced_quote.total) == ("", D("13200.00"))


def test_inactive_product_cannot_be_added(org, quote, products):
    with pytest.raises(ValidationFailedError) as exc:
        services.quote_line_add(user=org.rep, quote=quote, data={"product_id": products[3].pk})
    assert "inactive" in exc.value.fields["product_id"]
    assert not quote.lines.exists()


def test_product_without_a_price_in_the_list_cannot_be_added(org, quote, product_factory):
    product = product_factory(name="Unpriced")
    with pytest.raises(ValidationFailedError) as exc:
        services.quote_line_add(user=org.rep, quote=quote, data={"product_id": product.pk})
    assert "no price" in exc.value.fields["product_id"]


def test_product_line_takes_price_tax_and_cost_from_the_catalogue(org, quote, products):
    line = services.quote_line_add(user=org.rep, quote=quote, data={"product_id": products[1].pk})
    assert (line.description, line.price, line.tax_rate, line.cost, line.quantity) == (
        "CRM Pro licence",
        D("2000.00"),
        D("20.00"),
        D("500.00"),
        D("1.000"),
    )


def test_discount_above_the_role_limit_waits_for_approval_and_cannot_be_sent(org, priced_quote):
    quote = services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "15"}
    )

    assert quote.status == QuoteStatus.PENDING_APPROVAL
    assert quote.discount_percent == D("15.00")
    request = quote.approvals.get()
    assert (request.decision, request.discount_percent, request.limit_percent, request.user) == (
        "requested",
        D("15.00"),
        D("10.00"),
        org.rep,
    )
    with pytest.raises(ConflictError):
        services.quote_send(user=org.rep, quote=quote)
    assert len(mail.outbox) == 0
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.PENDING_APPROVAL


def test_discount_within_the_limit_needs_no_approval(org, priced_quote):
    quote = services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "10"}
    )
    assert quote.status == QuoteStatus.DRAFT
    assert not quote.approvals.exists()


def test_head_approval_is_recorded_and_allows_sending(org, priced_quote):
    quote = services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "15"}
    )

    quote = services.quote_approve(user=org.head, quote=quote, note="Strategic client")

    assert (quote.status, quote.approved_by, quote.approval_note) == (
        "approved",
        org.head,
        "Strategic client",
    )
    decisions = list(quote.approvals.values_list("decision", "user__username", "discount_percent"))
    assert decisions == [("requested", "rep", D("15.00")), ("approved", "head", D("15.00"))]
    assert services.sendable(quote)


def test_rep_cannot_approve_and_nothing_changes(org, priced_quote):
    quote = services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "15"}
    )
    with pytest.raises(PermissionDeniedError):
        services.quote_approve(user=org.rep, quote=quote)
    quote.refresh_from_db()
    assert quote.status == "pending_approval"
    assert quote.approvals.count() == 1


def test_rejection_returns_the_quote_to_draft_with_the_reason(org, priced_quote):
    quote = services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "30"}
    )
    quote = services.quote_reject(user=org.head, quote=quote, note="Too much")
    assert quote.status == "draft"
    assert quote.approvals.last().decision == QuoteApproval.Decision.REJECTED
    assert not services.sendable(quote)


def test_raising_an_approved_discount_needs_a_new_approval(org, priced_quote):
    quote = services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "15"}
    )
    quote = services.quote_approve(user=org.head, quote=quote)
    quote = services.quote_update(user=org.rep, quote=quote, data={"discount_value": "12"})
    assert quote.status == "approved"
    quote = services.quote_update(user=org.rep, quote=quote, data={"discount_value": "20"})
    assert quote.status == "pending_approval"


def test_new_version_copies_lines_and_supersedes_the_old(org, priced_quote):
    new = services.quote_revise(user=org.rep, quote=priced_quote)

    priced_quote.refresh_from_db()
    assert (new.number, new.revision, new.status) == (priced_quote.number, 2, "draft")
    assert priced_quote.status == "superseded"
    assert new.token != priced_quote.token
    assert list(new.lines.values_list("description", "quantity", "net")) == list(
        priced_quote.lines.values_list("description", "quantity", "net")
    )
    assert new.total == priced_quote.total == D("13200.00")
    with pytest.raises(ConflictError):
        services.quote_line_add(
            user=org.rep, quote=priced_quote, data={"description": "x", "price": "1"}
        )


def test_sent_quote_cannot_be_edited(org, priced_quote):
    services.quote_send(user=org.rep, quote=priced_quote)
    with pytest.raises(ConflictError):
        services.quote_update(user=org.rep, quote=priced_quote, data={"terms": "x"})


def test_send_emails_the_pdf_with_the_link_and_logs_it(
    org, priced_quote, django_capture_on_commit_callbacks, settings
):
    settings.KLIENTO_BASE_URL = "https://crm.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        quote = services.quote_send(user=org.rep, quote=priced_quote)

    assert (quote.status, quote.sent_to) == ("sent", "anna@romashka.ru")
    assert quote.sent_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@romashka.ru"]
    assert f"https://crm.example.com/quotes/p/{quote.token}/" in message.body
    name, content, mimetype = message.attachments[0]
    assert (name, mimetype) == (f"{quote.number}-v1.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    entry = Interaction.objects.get(kind="email", related_type="quote")
    assert (entry.contact_id, entry.company_id, entry.related_id, entry.user) == (
        quote.contact_id,
        quote.company_id,
        quote.pk,
        org.rep,
    )


def test_send_without_any_address_names_the_field(org, priced_quote):
    priced_quote.contact.emails = []
    priced_quote.contact.save()
    with pytest.raises(ValidationFailedError) as exc:
        services.quote_send(user=org.rep, quote=priced_quote)
    assert set(exc.value.fields) == {"to"}


def _sent(org, quote, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.quote_send(user=org.rep, quote=quote)


def test_accept_wins_the_deal_and_creates_an_order(
    org, priced_quote, django_capture_on_commit_callbacks
):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)

    quote = services.quote_accept(quote=quote)

    quote.deal.refresh_from_db()
    assert quote.status == "accepted"
    assert quote.responded_at is not None
    assert quote.deal.status == "won"
    assert Interaction.objects.filter(
        related_type="quote", related_id=quote.pk, subject__contains="accepted"
    ).exists()
    from kliento.sales.orders.models import Order

    assert Order.objects.filter(deal=quote.deal).count() == 1


def test_decline_keeps_the_reason(org, priced_quote, django_capture_on_commit_callbacks):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    quote = services.quote_decline(quote=quote, reason="Too expensive")
    assert (quote.status, quote.decline_reason) == ("declined", "Too expensive")
    entry = Interaction.objects.get(subject__contains="declined")
    assert entry.body == "Too expensive"


def test_answering_twice_is_refused_politely(org, priced_quote, django_capture_on_commit_callbacks):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    services.quote_decline(quote=quote, reason="")
    with pytest.raises(ConflictError) as exc:
        services.quote_accept(quote=quote)
    assert "already declined" in exc.value.message


def test_expired_quote_cannot_be_accepted(org, priced_quote, django_capture_on_commit_callbacks):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    type(quote).objects.filter(pk=quote.pk).update(valid_until=dt.date(2020, 1, 1))
    quote.refresh_from_db()
    with pytest.raises(ConflictError) as exc:
        services.quote_accept(quote=quote)
    assert "expired" in exc.value.message
    quote.refresh_from_db()
    assert quote.status == "sent"


def test_superseded_quote_cannot_be_accepted(org, priced_quote, django_capture_on_commit_callbacks):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    services.quote_revise(user=org.rep, quote=quote)
    quote.refresh_from_db()
    with pytest.raises(ConflictError) as exc:
        services.quote_accept(quote=quote)
    assert "newer version" in exc.value.message


def test_line_removal_recomputes_totals(org, priced_quote):
    line = priced_quote.lines.order_by("position").first()
    quote = services.quote_line_remove(user=org.rep, quote=priced_quote, line_id=line.pk)
    assert (quote.subtotal, quote.total) == (D("9000.00"), D("10800.00"))
    assert QuoteLine.objects.filter(quote=quote).count() == 1
