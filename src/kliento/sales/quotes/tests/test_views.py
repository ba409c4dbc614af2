"""Quote pages: list, creation from a deal, the editor, PDF download, the customer's page and
the company details settings."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from kliento.core.models import OrgSettings
from kliento.customers.models import Interaction
from kliento.sales.quotes import services
from kliento.sales.quotes.models import Quote

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_list_shows_visible_quotes_only(login, org, priced_quote):
    assert priced_quote.number.encode() in login(org.rep).get("/quotes/").content
    assert priced_quote.number.encode() not in login(org.other_rep).get("/quotes/").content


def test_list_filters_by_status(login, org, priced_quote):
    assert b"No quotes match" in login(org.rep).get("/quotes/?status=sent").content


def test_create_from_deal_page(login, org, deal):
    client = login(org.rep)
    assert client.get(f"/quotes/new/?deal={deal.pk}").status_code == 200
    response = client.post(f"/quotes/new/?deal={deal.pk}", {"deal": deal.pk, "price_list": ""})
    quote = Quote.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/quotes/{quote.pk}/"


def test_create_for_a_hidden_deal_is_404(login, org, deal):
    assert login(org.other_rep).get(f"/quotes/new/?deal={deal.pk}").status_code == 404


def test_detail_of_a_hidden_quote_is_404(login, org, priced_quote):
    assert login(org.other_rep).get(f"/quotes/{priced_quote.pk}/").status_code == 404


def test_add_product_line_with_htmx_returns_the_editor(login, org, quote, products):
    response = login(org.rep).post(
        f"/quotes/{quote.pk}/lines/",
        {"product_id": products[1].pk, "quantity": "2"},
        HTTP_HX_REQUEST="true",
        follow=True,
    )
    assert response.status_code == 200
    assert b'id="quote-editor"' in response.content
    quote.refresh_from_db()
    assert quote.total == Decimal("4800.00")


def test_inactive_product_line_shows_the_error(login, org, quote, products):
    response = login(org.rep).post(f"/quotes/{quote.pk}/lines/", {"product_id": products[3].pk})
    assert response.status_code == 422
    assert b"no longer sold" in response.content
    assert not quote.lines.exists()


def test_line_edit_applies_a_discount(login, org, priced_quote):
    line = priced_quote.lines.order_by("position").first()
    login(org.rep).post(
        f"/quotes/{priced_quote.pk}/lines/{line.pk}/",
        {"quantity": "2", "discount_kind": "percent", "discount_value": "10"},
    )
    line.refresh_from_db()
    assert (line.discount_amount, line.net) == (Decimal("200.00"), Decimal("1800.00"))


def test_head_approves_from_the_page(login, org, priced_quote):
    services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "20"}
    )
    client = login(org.head)
    assert b"Approve" in client.get(f"/quotes/{priced_quote.pk}/").content
    client.post(f"/quotes/{priced_quote.pk}/approval/", {"action": "approve", "note": "ok"})
    priced_quote.refresh_from_db()
    assert priced_quote.status == "approved"


def test_send_from_the_page(login, org, priced_quote, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(org.rep).post(
            f"/quotes/{priced_quote.pk}/send/", {"to": "boss@romashka.ru", "message": "Hi"}
        )
    assert response.status_code == 302
    assert mail.outbox[0].to == ["boss@romashka.ru"]
    assert f"http://testserver/quotes/p/{priced_quote.token}/" in mail.outbox[0].body
    assert Interaction.objects.filter(kind="email", related_type="quote").count() == 1


def test_pdf_download(login, org, priced_quote):
    response = login(org.rep).get(f"/quotes/{priced_quote.pk}/pdf/")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{priced_quote.number}-v1.pdf"'
    assert "CRM Standard licence" in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


def _sent(org, quote, capture):
    with capture(execute=True):
        return services.quote_send(user=org.rep, quote=quote)


def test_public_page_shows_the_quote_without_login(
    org, priced_quote, django_capture_on_commit_callbacks
):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    response = Client().get(f"/quotes/p/{quote.token}/")
    assert response.status_code == 200
    assert b"Accept the proposal" in response.content
    assert b"13,200.00" in response.content


def test_public_accept_needs_csrf(org, priced_quote, django_capture_on_commit_callbacks):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    response = Client(enforce_csrf_checks=True).post(f"/quotes/p/{quote.token}/accept/")
    assert response.status_code == 403
    quote.refresh_from_db()
    assert quote.status == "sent"


def test_public_accept_and_answer_twice(org, priced_quote, django_capture_on_commit_callbacks):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    client = Client()
    response = client.post(f"/quotes/p/{quote.token}/accept/")
    assert b"You have accepted this proposal" in response.content
    again = client.post(f"/quotes/p/{quote.token}/decline/", {"reason": "No"})
    assert again.status_code == 409
    assert b"already accepted" in again.content
    quote.refresh_from_db()
    quote.deal.refresh_from_db()
    assert (quote.status, quote.deal.status) == ("accepted", "won")


def test_public_decline_in_russian(org, priced_quote, django_capture_on_commit_callbacks):
    services.quote_update(user=org.rep, quote=priced_quote, data={"language": "ru"})
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    response = Client().post(f"/quotes/p/{quote.token}/decline/", {"reason": "Дорого"})
    assert "Вы отклонили это предложение".encode() in response.content
    quote.refresh_from_db()
    assert (quote.status, quote.decline_reason) == ("declined", "Дорого")


def test_public_bad_token_is_404():
    assert Client().get("/quotes/p/not-a-token/").status_code == 404


def test_company_details_saved_with_logo(login, org):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = login(org.admin).post(
        "/quotes/settings/company-details/",
        {
            "company_name": "Acme",
            "legal_name": "ООО «Акме»",
            "tax_id": "7700000000",
            "currency": "RUB",
            "default_tax_rate": "20",
            "quote_validity_days": "14",
            "quote_terms": "Prepayment 50%",
            "logo": SimpleUploadedFile("logo.png", PNG, content_type="image/png"),
        },
    )
    assert response.status_code == 302
    row = OrgSettings.get()
    assert (row.legal_name, row.quote_validity_days, row.default_tax_rate) == (
        "ООО «Акме»",
        14,
        Decimal("20"),
    )
    assert bytes(row.logo) == PNG
    assert row.logo_type == "image/png"


def test_company_details_refuses_a_non_image(login, org):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = login(org.admin).post(
        "/quotes/settings/company-details/",
        {
            "company_name": "Acme",
            "currency": "RUB",
            "default_tax_rate": "0",
            "quote_validity_days": "30",
            "logo": SimpleUploadedFile("logo.png", b"GIF89a", content_type="image/png"),
        },
    )
    assert response.status_code == 422
    assert b"Upload a PNG or JPEG image." in response.content
    assert OrgSettings.get().logo is None


def test_company_details_is_admin_only(login, org):
    assert login(org.head).get("/quotes/settings/company-details/").status_code == 403


def test_pdf_prints_the_logo(org, priced_quote):
    row = OrgSettings.get()
    row.logo, row.logo_type = PNG, "image/png"
    row.save()
    from kliento.sales.quotes.pdf import render_quote_pdf

    reader = PdfReader(io.BytesIO(render_quote_pdf(priced_quote)))
    assert len(reader.pages[0].images) == 1


def test_list_page_query_count_is_bounded(login, org, deal, django_assert_max_num_queries):
    for _ in range(5):
        services.quote_create(user=org.rep, deal=deal)
    client = login(org.rep)
    with django_assert_max_num_queries(14):
        response = client.get("/quotes/")
    assert response.content.count(b"Q-20") >= 5


def test_approval_box_names_the_approver_and_the_day(login, org, priced_quote):
    services.quote_update(
        user=org.rep, quote=priced_quote, data={"discount_kind": "percent", "discount_value": "20"}
    )
    priced_quote.refresh_from_db()
    services.quote_approve(user=org.head, quote=priced_quote, note="ok")
    priced_quote.refresh_from_db()
    html = login(org.rep).get(f"/quotes/{priced_quote.pk}/").content.decode()
    day = priced_quote.approved_at.astimezone(timezone.get_current_timezone())
    assert f"Approved by {org.head.display_name}, {day:%-d %b %Y, %H:%M}." in html


def test_approved_quote_without_an_approver_has_no_empty_sentence(login, org, priced_quote):
    Quote.objects.filter(pk=priced_quote.pk).update(status="approved")
    html = login(org.rep).get(f"/quotes/{priced_quote.pk}/").content.decode()
    assert "Approved by ," not in html
    assert "Within the limit: no approval needed." in html


def test_public_page_heads_the_offer_facts_apart_from_the_terms(
    org, priced_quote, django_capture_on_commit_callbacks
):
    quote = _sent(org, priced_quote, django_capture_on_commit_callbacks)
    Quote.objects.filter(pk=quote.pk).update(language="ru", terms="Предоплата 100%")
    html = Client().get(f"/quotes/p/{quote.token}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Параметры предложения" in html and html.count(">Условия<") == 1
