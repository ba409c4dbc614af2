"""Sales plans over HTTP: targets CRUD with ETag/If-Match, cascades, plan vs actual."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kliento.sales.plans.models import SalesTarget


def send(client, method, url, body=None, **headers):
    return getattr(client, method)(
        url, json.dumps(body or {}), content_type="application/json", **headers
    )


def test_create_target_normalises_period_and_answers_etag(org, api):
    response = send(
        api(org.head),
        "post",
        "/api/v1/targets",
        {
            "period_kind": "quarter",
            "period_start": "2026-05-17",
            "metric": "orders",
            "team": org.teams["sales"].pk,
            "amount": "1500000.50",
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["period_start"], body["amount"], body["team_id"]) == (
        "2026-04-01",
        "1500000.50",
        org.teams["sales"].pk,
    )
    assert response["ETag"] == f'"{body["id"]}-1"'


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"period_kind": "week"}, "period_kind"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_target_bad_input_is_422(org, api, body, field):
    payload = {
        "period_kind": "month",
        "period_start": "2026-05-01",
        "team": org.teams["sales"].pk,
        "amount": "10",
        **body,
    }

    response = send(api(org.head), "post", "/api/v1/targets", payload)

    assert response.status_code == 422
    assert field in response.json()["fields"]
    assert SalesTarget.objects.count() == 0


@pytest.mark.parametrize("who", ["analyst", "rep"])
def test_create_team_target_forbidden(org, api, who):
    response = send(
        api(org.users[who]),
        "post",
        "/api/v1/targets",
        {
            "period_kind": "month",
            "period_start": "2026-05-01",
            "team": org.teams["moscow"].pk,
            "amount": "10",
        },
    )

    assert response.status_code == 403
    assert SalesTarget.objects.count() == 0


def test_get_target_etag_and_304(org, api, target):
    t = target("100", team=org.teams["sales"])
    client = api(org.head)

    first = client.get(f"/api/v1/targets/{t.pk}")
    second = client.get(f"/api/v1/targets/{t.pk}", HTTP_IF_NONE_MATCH=first["ETag"])

    assert (first.status_code, second.status_code) == (200, 304)


def test_hidden_target_is_404(org, api, target):
    t = target("100", user=org.rep_peer)

    assert api(org.other_rep).get(f"/api/v1/targets/{t.pk}").status_code == 404


def test_rep_adjusts_own_target_with_if_match(org, api, target):
    t = target("100", user=org.rep)
    client = api(org.rep)

    stale = send(
        client, "patch", f"/api/v1/targets/{t.pk}", {"amount": "120"}, HTTP_IF_MATCH=f'"{t.pk}-9"'
    )
    fresh = send(
        client,
        "patch",
        f"/api/v1/targets/{t.pk}",
        {"amount": "120", "forecast": "90"},
        HTTP_IF_MATCH=t.etag,
    )

    assert stale.status_code == 412
    assert fresh.status_code == 200
    assert (fresh.json()["amount"], fresh.json()["forecast"], fresh.json()["adjusted"]) == (
        "120.00",
        "90.00",
        True,
    )


def test_analyst_cannot_patch(org, api, target):
    t = target("100", team=org.teams["sales"])

    response = send(api(org.analyst), "patch", f"/api/v1/targets/{t.pk}", {"amount": "1"})

    assert response.status_code == 403
    t.refresh_from_db()
    assert str(t.amount) == "100.00"


def test_delete_target(org, api, target):
    t = target("100", team=org.teams["moscow"])

    response = api(org.head).delete(f"/api/v1/targets/{t.pk}")

    assert response.status_code == 204
    assert SalesTarget.objects.count() == 0


def test_list_targets_by_period(org, api, target):
    t = target("100", team=org.teams["sales"])
    target("5", team=org.teams["sales"], period_start=dt.date(2026, 6, 1))

    response = api(org.head).get("/api/v1/targets?period_kind=month&period_start=2026-05-09")

    assert [x["id"] for x in response.json()] == [t.pk]


def test_cascade_preview_then_apply(org, api, target):
    t = target("1000.00", team=org.teams["sales"])
    client = api(org.head)
    moscow, kazan = org.teams["moscow"].pk, org.teams["kazan"].pk
    body = {"method": "weights", "weights": {f"team:{moscow}": 3, f"team:{kazan}": 1}}

    preview = send(client, "post", f"/api/v1/targets/{t.pk}/cascade", {**body, "preview": True})
    count_after_preview = SalesTarget.objects.count()
    applied = send(client, "post", f"/api/v1/targets/{t.pk}/cascade", body)

    assert preview.status_code == 200
    assert [(r["name"], r["amount"]) for r in preview.json()["rows"]] == [
        ("Kazan", "250.00"),
        ("Moscow", "750.00"),
    ]
    assert count_after_preview == 1
    assert applied.json()["applied"] is True
    assert SalesTarget.objects.get(team_id=moscow).amount == 750


def test_cascade_bad_method_is_422(org, api, target):
    t = target("1000.00", team=org.teams["sales"])

    response = send(api(org.head), "post", f"/api/v1/targets/{t.pk}/cascade", {"method": "random"})

    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["method"]


def test_plan_vs_actual_over_http(org, api, target, won):
    won(org.rep, "300.00", dt.date(2026, 5, 5))
    target("1000.00", team=org.teams["sales"])

    response = api(org.head).get(
        "/api/v1/plan-vs-actual?period_kind=month&period_start=2026-05-20&metric=deals_won"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["period_start"], body["period_end"], body["currency"]) == (
        "2026-05-01",
        "2026-05-31",
        "RUB",
    )
    [sales] = body["nodes"]
    assert (sales["name"], sales["target"], sales["actual"], sales["percent"], sales["gap"]) == (
        "Sales",
        "1000.00",
        "300.00",
        "30.0",
        "700.00",
    )
    assert [c["name"] for c in sales["children"]] == ["Kazan", "Moscow"]


def test_plan_vs_actual_hidden_team_is_404(org, api):
    response = api(org.rep).get(f"/api/v1/plan-vs-actual?team={org.teams['kazan'].pk}")

    assert response.status_code == 404


def test_plan_vs_actual_bad_metric_is_422(org, api):
    response = api(org.rep).get("/api/v1/plan-vs-actual?metric=calls")

    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["metric"]
