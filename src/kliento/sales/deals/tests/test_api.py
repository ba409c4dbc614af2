"""The deals API over HTTP: CRUD, moves, closing, history, products, pipelines, the board."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kliento.customers.models import RecordShare
from kliento.sales.deals.models import Deal, Pipeline, StageChange

JSON = "application/json"


def _post(client, url, body=None, **headers):
    return client.post(url, body or {}, content_type=JSON, **headers)


# --- deals CRUD ---------------------------------------------------------------------------


def test_create_answers_201_with_location_and_etag(org, pipeline, stages, api, rep_contact):
    response = _post(
        api(org.rep),
        "/api/v1/deals",
        {"name": "Licences", "amount": "1200.00", "contact_id": rep_contact.pk},
    )
    assert response.status_code == 201
    body = response.json()
    deal = Deal.objects.get()
    assert response["Location"] == f"/api/v1/deals/{deal.pk}"
    assert response["ETag"] == f'"{deal.pk}-1"'
    assert (body["stage_id"], body["stage_name"], body["amount"], body["currency"]) == (
        stages[0].pk,
        "Qualification",
        "1200.00",
        "RUB",
    )
    assert (body["owner_id"], body["contact_id"], body["stale"]) == (
        org.rep.pk,
        rep_contact.pk,
        False,
    )


def test_create_with_unknown_fields_is_422_naming_them(org, pipeline, api):
    response = _post(api(org.rep), "/api/v1/deals", {"name": "X", "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.json()["fields"]
    assert not Deal.objects.exists()


def test_create_in_a_currency_without_a_rate_is_422_on_currency(org, pipeline, api):
    response = _post(api(org.rep), "/api/v1/deals", {"name": "X", "currency": "EUR"})
    assert response.status_code == 422
    assert list(response.json()["fields"]) == ["currency"]


def test_an_analyst_reads_but_cannot_create(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    client = api(org.analyst)
    assert client.get(f"/api/v1/deals/{deal.pk}").status_code == 200
    assert _post(client, "/api/v1/deals", {"name": "X"}).status_code == 403
    assert Deal.objects.count() == 1


def test_a_hidden_deal_is_404(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.other_rep, pipeline=pipeline)
    response = api(org.rep).get(f"/api/v1/deals/{deal.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_analyst_patch_is_403_and_changes_nothing(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, name="Before")
    response = api(org.analyst).patch(
        f"/api/v1/deals/{deal.pk}", {"name": "After"}, content_type=JSON
    )
    assert response.status_code == 403
    deal.refresh_from_db()
    assert (deal.name, deal.version) == ("Before", 1)


def test_patch_with_a_stale_if_match_is_412(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, name="Before")
    response = api(org.rep).patch(
        f"/api/v1/deals/{deal.pk}",
        {"name": "After"},
        content_type=JSON,
        HTTP_IF_MATCH=f'"{deal.pk}-7"',
    )
    assert response.status_code == 412
    deal.refresh_from_db()
    assert deal.name == "Before"


def test_patch_with_the_current_etag_saves_and_bumps_it(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = api(org.rep).patch(
        f"/api/v1/deals/{deal.pk}",
        {"next_step": "Send proposal", "expected_close": "2030-03-31"},
        content_type=JSON,
        HTTP_IF_MATCH=deal.etag,
    )
    assert response.status_code == 200
    assert response["ETag"] == f'"{deal.pk}-2"'
    assert (response.json()["next_step"], response.json()["expected_close"]) == (
        "Send proposal",
        "2030-03-31",
    )


def test_get_with_if_none_match_is_304(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = api(org.rep).get(f"/api/v1/deals/{deal.pk}", HTTP_IF_NONE_MATCH=deal.etag)
    assert response.status_code == 304


def test_delete_answers_204(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    assert api(org.rep).delete(f"/api/v1/deals/{deal.pk}").status_code == 204
    assert not Deal.objects.exists()


# --- visibility ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "sees"),
    [
        ("admin", {"rep", "rep_peer", "other_rep"}),
        ("head", {"rep", "rep_peer", "other_rep"}),
        ("analyst", {"rep", "rep_peer", "other_rep"}),
        ("rep", {"rep", "shared"}),
        ("other_rep", {"other_rep"}),
    ],
)
def test_list_visibility_matrix(org, pipeline, api, deal_factory, viewer, sees):
    for owner in ("rep", "rep_peer", "other_rep"):
        deal_factory(owner=getattr(org, owner), pipeline=pipeline, name=owner)
    shared = deal_factory(owner=org.rep_peer, pipeline=pipeline, name="shared")
    RecordShare.objects.create(user=org.rep, entity="deal", object_id=shared.pk)
    response = api(getattr(org, viewer)).get("/api/v1/deals?limit=50")
    assert response.status_code == 200
    names = {row["name"] for row in response.json()["items"]}
    expected = sees | ({"shared"} if viewer in {"admin", "head", "analyst"} else set())
    assert names == expected


def test_a_shared_read_only_deal_is_403_to_write(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep_peer, pipeline=pipeline)
    RecordShare.objects.create(user=org.rep, entity="deal", object_id=deal.pk, can_edit=False)
    client = api(org.rep)
    assert client.get(f"/api/v1/deals/{deal.pk}").status_code == 200
    assert _post(client, f"/api/v1/deals/{deal.pk}/win").status_code == 403
    deal.refresh_from_db()
    assert deal.status == "open"


# --- list filters, sort, cursor -----------------------------------------------------------


def test_list_filters_sort_and_cursor(org, pipeline, stages, api, deal_factory):
    for i, amount in enumerate(["500", "300", "900", "100"]):
        deal_factory(
            owner=org.rep,
            pipeline=pipeline,
            stage=stages[i % 2],
            name=f"D{i}",
            amount=Decimal(amount),
        )
    client = api(org.rep)
    first = client.get(f"/api/v1/deals?stage={stages[0].pk}&sort=-amount&limit=1&totals=true")
    assert first.status_code == 200
    body = first.json()
    assert ([r["name"] for r in body["items"]], body["count"], body["total"]) == (
        ["D2"],
        2,
        "1400.00",
    )
    second = client.get(
        f"/api/v1/deals?stage={stages[0].pk}&sort=-amount&limit=1&cursor={body['next_cursor']}"
    )
    assert [r["name"] for r in second.json()["items"]] == ["D0"]
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "query",
    ["status=maybe", "close_from=yesterday", "sort=colour", "colour=red", "owner=abc"],
)
def test_list_rejects_bad_filters_with_422(org, pipeline, api, query):
    response = api(org.rep).get(f"/api/v1/deals?{query}")
    assert response.status_code == 422


def test_list_by_expected_close_range_and_company(org, pipeline, api, deal_factory, rep_company):
    import datetime as dt

    deal_factory(
        owner=org.rep,
        pipeline=pipeline,
        name="In",
        expected_close=dt.date(2030, 5, 2),
        company=rep_company,
    )
    deal_factory(
        owner=org.rep,
        pipeline=pipeline,
        name="Late",
        expected_close=dt.date(2030, 7, 1),
        company=rep_company,
    )
    deal_factory(owner=org.rep, pipeline=pipeline, name="Other", expected_close=dt.date(2030, 5, 3))
    response = api(org.rep).get(
        f"/api/v1/deals?close_from=2030-05-01&close_to=2030-05-31&company={rep_company.pk}"
    )
    assert [r["name"] for r in response.json()["items"]] == ["In"]


# --- moves and closing --------------------------------------------------------------------


def test_move_answers_the_new_stage_and_etag(org, pipeline, stages, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = _post(
        api(org.rep),
        f"/api/v1/deals/{deal.pk}/move",
        {"stage": stages[3].pk},
        HTTP_IF_MATCH=deal.etag,
    )
    assert response.status_code == 200
    assert (response.json()["stage_id"], response["ETag"]) == (stages[3].pk, f'"{deal.pk}-2"')


def test_move_to_another_pipelines_stage_is_400(org, pipeline, other_pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = _post(
        api(org.rep), f"/api/v1/deals/{deal.pk}/move", {"stage": other_pipeline.stages.first().pk}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert not StageChange.objects.exists()


def test_move_with_a_stale_if_match_is_412(org, pipeline, stages, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = _post(
        api(org.rep),
        f"/api/v1/deals/{deal.pk}/move",
        {"stage": stages[1].pk},
        HTTP_IF_MATCH=f'"{deal.pk}-9"',
    )
    assert response.status_code == 412
    assert not StageChange.objects.exists()


def test_move_of_a_hidden_deal_is_404(org, pipeline, stages, api, deal_factory):
    deal = deal_factory(owner=org.other_rep, pipeline=pipeline)
    response = _post(api(org.rep), f"/api/v1/deals/{deal.pk}/move", {"stage": stages[1].pk})
    assert response.status_code == 404
    assert not StageChange.objects.exists()


def test_move_by_an_analyst_is_403(org, pipeline, stages, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = _post(api(org.analyst), f"/api/v1/deals/{deal.pk}/move", {"stage": stages[1].pk})
    assert response.status_code == 403
    assert not StageChange.objects.exists()


def test_move_pipeline_explicitly(org, pipeline, other_pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    target = other_pipeline.stages.first()
    response = _post(api(org.rep), f"/api/v1/deals/{deal.pk}/move-pipeline", {"stage": target.pk})
    assert response.status_code == 200
    assert (response.json()["pipeline_id"], response.json()["stage_id"]) == (
        other_pipeline.pk,
        target.pk,
    )


def test_lose_without_a_reason_is_422(org, pipeline, api, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = _post(api(org.rep), f"/api/v1/deals/{deal.pk}/lose", {"note": "why"})
    assert response.status_code == 422
    assert "reason" in response.json()["fields"]


def test_win_lose_reopen_and_history(org, pipeline, stages, api, deal_factory, reasons):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    client = api(org.rep)
    assert (
        _post(client, f"/api/v1/deals/{deal.pk}/move", {"stage": stages[1].pk}).status_code == 200
    )
    lost = _post(
        client, f"/api/v1/deals/{deal.pk}/lose", {"reason": reasons[0].pk, "note": "Too dear"}
    )
    assert (lost.status_code, lost.json()["status"], lost.json()["loss_note"]) == (
        200,
        "lost",
        "Too dear",
    )
    assert _post(client, f"/api/v1/deals/{deal.pk}/win").status_code == 409
    assert _post(client, f"/api/v1/deals/{deal.pk}/reopen").json()["status"] == "open"
    assert _post(client, f"/api/v1/deals/{deal.pk}/win").json()["status"] == "won"
    history = client.get(f"/api/v1/deals/{deal.pk}/history").json()
    assert [(h["from_stage_name"], h["to_stage_name"], h["status"]) for h in history] == [
        ("Qualification", "Needs analysis", "open"),
        ("Needs analysis", "Needs analysis", "lost"),
        ("Needs analysis", "Needs analysis", "open"),
        ("Needs analysis", "Needs analysis", "won"),
    ]
    assert history[0]["user_name"] == org.rep.display_name


# --- products -----------------------------------------------------------------------------


def test_deal_products_endpoints(org, pipeline, api, deal_factory, price_list, products):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, price_list=price_list)
    client = api(org.rep)
    added = _post(
        client,
        f"/api/v1/deals/{deal.pk}/products",
        {"product_id": products[2].pk, "quantity": "2", "recompute_amount": True},
    )
    assert added.status_code == 201
    assert (added.json()["price"], added.json()["total"]) == ("3000.00", "6000.00")
    assert client.get(f"/api/v1/deals/{deal.pk}").json()["amount"] == "6000.00"
    listed = client.get(f"/api/v1/deals/{deal.pk}/products").json()
    assert [row["sku"] for row in listed] == ["IMPL"]
    removed = client.delete(f"/api/v1/deals/{deal.pk}/products/{listed[0]['id']}")
    assert removed.status_code == 204
    assert client.get(f"/api/v1/deals/{deal.pk}/products").json() == []


def test_a_negative_product_quantity_is_422(org, pipeline, api, deal_factory, products):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = _post(
        api(org.rep),
        f"/api/v1/deals/{deal.pk}/products",
        {"product_id": products[0].pk, "quantity": "-1"},
    )
    assert response.status_code == 422


# --- pipelines, stages, loss reasons, board ------------------------------------------------


def test_everyone_reads_pipelines_with_ordered_stages(org, pipeline, other_pipeline, api):
    response = api(org.rep).get("/api/v1/pipelines")
    assert response.status_code == 200
    assert [(p["name"], p["is_default"]) for p in response.json()] == [
        ("Sales", True),
        ("Partners", False),
    ]
    assert [s["name"] for s in response.json()[0]["stages"]][:2] == [
        "Qualification",
        "Needs analysis",
    ]


def test_only_admins_write_pipelines(org, pipeline, api):
    body = {"name": "Tenders", "stages": [{"name": "Bid", "probability": 30}]}
    assert _post(api(org.head), "/api/v1/pipelines", body).status_code == 403
    created = _post(api(org.admin), "/api/v1/pipelines", body)
    assert created.status_code == 201
    assert [s["name"] for s in created.json()["stages"]] == ["Bid"]
    assert Pipeline.objects.count() == 2


def test_admin_adds_reorders_and_deletes_stages(org, pipeline, stages, api):
    client = api(org.admin)
    added = _post(
        client, f"/api/v1/pipelines/{pipeline.pk}/stages", {"name": "Signed", "probability": 95}
    )
    assert (added.status_code, added.json()["position"]) == (201, 5)
    order = [added.json()["id"], *[s.pk for s in stages]]
    reordered = client.put(
        f"/api/v1/pipelines/{pipeline.pk}/stages/order", {"stages": order}, content_type=JSON
    )
    assert [s["id"] for s in reordered.json()] == order
    gone = client.delete(f"/api/v1/pipelines/{pipeline.pk}/stages/{added.json()['id']}")
    assert gone.status_code == 204


def test_deleting_a_stage_with_deals_is_409(org, pipeline, stages, api, deal_factory):
    deal_factory(owner=org.rep, pipeline=pipeline, stage=stages[2])
    response = api(org.admin).delete(f"/api/v1/pipelines/{pipeline.pk}/stages/{stages[2].pk}")
    assert response.status_code == 409
    assert pipeline.stages.count() == 5


def test_loss_reasons_crud(org, api):
    client = api(org.admin)
    created = _post(client, "/api/v1/loss-reasons", {"name": "No budget"})
    assert created.status_code == 201
    reason_id = created.json()["id"]
    patched = client.patch(
        f"/api/v1/loss-reasons/{reason_id}", {"active": False}, content_type=JSON
    )
    assert patched.json()["active"] is False
    assert api(org.rep).get("/api/v1/loss-reasons").json() == []
    assert _post(api(org.rep), "/api/v1/loss-reasons", {"name": "X"}).status_code == 403
    assert client.delete(f"/api/v1/loss-reasons/{reason_id}").status_code == 204


def test_board_endpoint_counts_totals_and_first_cards(org, pipeline, stages, api, deal_factory):
    for amount in ("100", "300", "200"):
        deal_factory(owner=org.rep, pipeline=pipeline, stage=stages[1], amount=Decimal(amount))
    deal_factory(owner=org.rep, pipeline=pipeline, stage=stages[1], status="won")
    deal_factory(owner=org.other_rep, pipeline=pipeline, stage=stages[1])
    response = api(org.rep).get(f"/api/v1/pipelines/{pipeline.pk}/board?limit=2")
    assert response.status_code == 200
    column = response.json()["columns"][1]
    assert (column["count"], column["total"], column["has_more"]) == (3, "600.00", True)
    assert [d["amount"] for d in column["deals"]] == ["300.00", "200.00"]
    assert response.json()["columns"][0]["count"] == 0


def test_list_query_count_does_not_grow_with_rows(
    org, pipeline, api, deal_factory, rep_contact, rep_company, django_assert_num_queries
):
    for _ in range(25):
        deal_factory(owner=org.rep, pipeline=pipeline, contact=rep_contact, company=rep_company)
    client = api(org.rep)
    client.get("/api/v1/deals")
    # API key, org settings (team sharing), shares probe, the page with its joins, totals.
    with django_assert_num_queries(QUERIES_DEAL_LIST):
        response = client.get("/api/v1/deals?limit=20&totals=true")
    assert len(response.json()["items"]) == 20


QUERIES_DEAL_LIST = 5


def test_products_adding_up_past_the_largest_amount_are_422(
    org, pipeline, api, deal_factory, products
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    body = {
        "product_id": products[0].pk,
        "quantity": "1000",
        "price": "9999999999999",
        "recompute_amount": True,
    }

    response = _post(api(org.rep), f"/api/v1/deals/{deal.pk}/products", body)

    assert response.status_code == 422, response.content
    assert "amount" in response.json()["fields"]
    assert not deal.products.exists()
