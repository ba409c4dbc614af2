"""The quotes API over HTTP: visibility, lines, approval, versions, sending, public answers."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core import mail
from pypdf import PdfReader

from kliento.sales.quotes.models import Quote

pytestmark = pytest.mark.django_db


def _post(client, url, body=None, **headers):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


def _patch(client, url, body, **headers):
    return client.patch(url, json.dumps(body), content_type="application/json", **headers)


def test_create_from_deal_and_add_lines(api, org, deal, products):
    client = api(org.rep)

    response = _post(client, "/api/v1/quotes", {"deal_id": deal.pk})
    assert response.status_code == 201
    quote_id = response.json()["id"]
    response = _post(
        client, f"/api/v1/quotes/{quote_id}/lines", {"product_id": products[0].pk, "quantity": "3"}
    )
    assert response.status_code == 201
    assert response.json()["net"] == "3000.00"

    body = client.get(f"/api/v1/quotes/{quote_id}").json()
    assert (body["subtotal"], body["tax_total"], body["total"]) == ("3000.00", "600.00", "3600.00")
    assert [line["description"] for line in body["lines"]] == ["CRM Standard licence"]


def test_inactive_product_is_422_naming_the_field(api, org, quote, products):
    response = _post(
        api(org.rep), f"/api/v1/quotes/{quote.pk}/lines", {"product_id": products[3].pk}
    )
    assert response.status_code == 422
    assert "product_id" in response.json()["fields"]
    assert not quote.lines.exists()


def test_expired_price_list_is_422_naming_price_list(api, org, deal, price_list):
    price_list.valid_to = price_list.valid_from
    price_list.valid_from = price_list.valid_from.replace(year=2000)
    price_list.valid_to = price_list.valid_to.replace(year=2000, month=12, day=31)
    price_list.save()

    response = _post(api(org.rep), "/api/v1/quotes", {"deal_id": deal.pk})

    assert response.status_code == 422
    assert "expired" in response.json()["fields"]["price_list"]
    assert not Quote.objects.exists()


def test_quote_is_visible_only_with_its_deal(api, org, priced_quote):
    assert api(org.other_rep).get(f"/api/v1/quotes/{priced_quote.pk}").status_code == 404
    assert api(org.head).get(f"/api/v1/quotes/{priced_quote.pk}").status_code == 200
    assert api(org.analyst).get(f"/api/v1/quotes/{priced_quote.pk}").status_code == 200
    listed = api(org.other_rep).get("/api/v1/quotes").json()["items"]
    assert listed == []
    assert [q["id"] for q in api(org.rep).get("/api/v1/quotes").json()["items"]] == [
        priced_quote.pk
    ]


def test_analyst_cannot_change_a_quote(api, org, priced_quote):
    response = _patch(api(org.analyst), f"/api/v1/quotes/{priced_quote.pk}", {"terms": "x"})
    assert response.status_code == 403
    priced_quote.refresh_from_db()
    assert priced_quote.terms == ""


def test_stale_if_match_is_412(api, org, priced_quote):
    response = _patch(
        api(org.rep),
        f"/api/v1/quotes/{priced_quote.pk}",
        {"terms": "x"},
        HTTP_IF_MATCH=f'"{priced_quote.pk}-1"',
    )
    assert response.status_code == 412


def test_unknown_field_is_422(api, org, priced_quote):
    response = _patch(api(org.rep), f"/api/v1/quotes/{priced_quote.pk}", {"total": "1"})
    assert response.status_code == 422
    assert "total" in response.json()["fields"]


def test_approval_flow_over_the_api(api, org, priced_quote):
    rep, head = api(org.rep), api(org.head)
    body = _patch(
        rep,
        f"/api/v1/quotes/{priced_quote.pk}",
        {"discount_kind": "percent", "discount_value": "20"},
    ).json()
    assert body["status"] == "pending_approval"
    assert _post(rep, f"/api/v1/quotes/{priced_quote.pk}/send").status_code == 409
    assert _post(rep, f"/api/v1/quotes/{priced_quote.pk}/approve").status_code == 403

    body = _post(head, f"/api/v1/quotes/{priced_quote.pk}/approve", {"note": "ok"}).json()

    assert body["status"] == "approved"
    assert [a["decision"] for a in body["approvals"]] == ["requested", "approved"]


def test_revise_and_send(api, org, priced_quote, django_capture_on_commit_callbacks):
    client = api(org.rep)
    new = _post(client, f"/api/v1/quotes/{priced_quote.pk}/revise").json()
    assert (new["revision"], new["number"]) == (2, priced_quote.number)
    with django_capture_on_commit_callbacks(execute=True):
        sent = _post(client, f"/api/v1/quotes/{new['id']}/send", {"to": "buyer@example.com"})
    assert sent.status_code == 200
    assert sent.json()["sent_to"] == "buyer@example.com"
    assert mail.outbox[0].to == ["buyer@example.com"]


def test_pdf_endpoint(api, org, priced_quote):
    response = api(org.rep).get(f"/api/v1/quotes/{priced_quote.pk}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert priced_quote.number in text


def test_public_accept_and_second_answer(
    client, org, priced_quote, django_capture_on_commit_callbacks
):
    from kliento.sales.quotes import services

    with django_capture_on_commit_callbacks(execute=True):
        services.quote_send(user=org.rep, quote=priced_quote)
    url = f"/api/v1/public/quotes/{priced_quote.token}"

    response = _post(client, f"{url}/accept")
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    again = _post(client, f"{url}/decline", {"reason": "changed mind"})
    assert again.status_code == 409
    priced_quote.refresh_from_db()
    assert (priced_quote.status, priced_quote.decline_reason) == ("accepted", "")


def test_public_unknown_token_is_404(client, org):
    assert _post(client, "/api/v1/public/quotes/nope/accept").status_code == 404


def test_list_query_count_does_not_grow_with_quotes(api, org, deal, django_assert_max_num_queries):
    from kliento.sales.quotes import services

    for _ in range(5):
        services.quote_create(user=org.rep, deal=deal)
    client = api(org.rep)
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/quotes?limit=50")
    assert len(response.json()["items"]) == 5


def test_a_line_past_the_largest_amount_is_422_and_not_added(api, org, quote, products):
    quote.price_list.items.filter(product=products[0]).update(price=Decimal("9999999999999"))

    response = _post(
        api(org.rep),
        f"/api/v1/quotes/{quote.pk}/lines",
        {"product_id": products[0].pk, "quantity": "1000"},
    )

    assert response.status_code == 422, response.content
    assert "lines.0.quantity" in response.json()["fields"]
    assert not quote.lines.exists()
