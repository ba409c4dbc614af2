"""A quote that refuses a change says why in a whole, grammatical sentence, in both languages."""

from __future__ import annotations

import json

import pytest

from kliento.sales.quotes import services

pytestmark = pytest.mark.django_db


def _post(client, url, body=None, **headers):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


def _accepted(org, quote, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.quote_send(user=org.rep, quote=quote)
    return services.quote_accept(quote=quote)


@pytest.mark.parametrize(
    ("method", "path", "body", "language", "message"),
    [
        ("patch", "", {"terms": "x"}, "en", "An accepted quote cannot be changed."),
        ("post", "/revise", {}, "en", "An accepted quote cannot get a new version."),
        ("post", "/send", {}, "en", "An accepted quote cannot be sent again."),
        ("patch", "", {"terms": "x"}, "ru", "Принятое предложение нельзя изменить."),
        ("post", "/revise", {}, "ru", "У принятого предложения не может быть новой версии."),
        ("post", "/send", {}, "ru", "Принятое предложение нельзя отправить повторно."),
    ],
)
def test_accepted_quote_refuses_with_a_grammatical_message(
    api,
    org,
    priced_quote,
    django_capture_on_commit_callbacks,
    method,
    path,
    body,
    language,
    message,
):
    quote = _accepted(org, priced_quote, django_capture_on_commit_callbacks)
    client = api(org.rep)

    response = getattr(client, method)(
        f"/api/v1/quotes/{quote.pk}{path}",
        json.dumps(body),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE=language,
    )

    assert response.status_code == 409
    assert response.json()["message"] == message
    quote.refresh_from_db()
    assert (quote.status, quote.terms) == ("accepted", priced_quote.terms)


def test_sent_quote_points_to_a_new_version(api, org, priced_quote):
    services.quote_send(user=org.rep, quote=priced_quote)
    client = api(org.rep)

    changed = client.patch(
        f"/api/v1/quotes/{priced_quote.pk}", json.dumps({"terms": "x"}), "application/json"
    )
    resent = _post(client, f"/api/v1/quotes/{priced_quote.pk}/send")

    assert changed.json()["message"] == "A sent quote cannot be changed; create a new version."
    assert resent.json()["message"] == "A sent quote cannot be sent again; create a new version."


def test_superseded_version_points_to_the_latest(api, org, priced_quote):
    services.quote_revise(user=org.rep, quote=priced_quote)
    client = api(org.rep)

    response = _post(client, f"/api/v1/quotes/{priced_quote.pk}/revise")

    assert response.status_code == 409
    assert response.json()["message"] == (
        "A superseded version cannot get a new version; use the latest one."
    )
