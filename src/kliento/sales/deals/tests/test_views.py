"""Deal pages over HTTP: the board (and its query count), moves from it, list, detail, forms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kliento.customers.models import Interaction
from kliento.sales.deals.models import Deal, LossReason, Stage, StageChange

JSON_ACCEPT = {"HTTP_ACCEPT": "application/json"}


# --- the board ----------------------------------------------------------------------------


def test_board_shows_columns_counts_totals_and_cards(org, pipeline, stages, login, deal_factory):
    deal_factory(
        owner=org.rep, pipeline=pipeline, stage=stages[2], name="Big one", amount=Decimal("1500000")
    )
    deal_factory(
        owner=org.rep, pipeline=pipeline, stage=stages[2], name="Small", amount=Decimal("500")
    )
    deal_factory(owner=org.other_rep, pipeline=pipeline, stage=stages[2], name="Not mine")
    response = login(org.rep).get("/deals/")
    assert response.status_code == 200
    columns = {c.stage.name: c for c in response.context["columns"]}
    assert (columns["Proposal"].count, columns["Proposal"].total) == (2, Decimal("1500500.00"))
    assert [d.name for d in columns["Proposal"].deals] == ["Big one", "Small"]
    html = response.content.decode()
    assert "1,500,500" in html
    assert "Not mine" not in html


def test_board_marks_a_deal_stale_when_it_sits_longer_than_expected(
    org, pipeline, stages, login, deal_factory
):
    long_ago = timezone.now() - dt.timedelta(days=9)
    deal_factory(
        owner=org.rep, pipeline=pipeline, stage=stages[0], name="Old", stage_entered_at=long_ago
    )
    deal_factory(
        owner=org.rep, pipeline=pipeline, stage=stages[1], name="Fresh", stage_entered_at=long_ago
    )
    html = login(org.rep).get("/deals/").content.decode()
    old = html.split('aria-label="Old"')[0].rsplit("<article", 1)[1]
    fresh = html.split('aria-label="Fresh"')[0].rsplit("<article", 1)[1]
    assert "is-stale" in old  # 9 days > 7 expected in Qualification
    assert "is-stale" not in fresh  # 9 days ≤ 10 expected in Needs analysis
    assert "stale · 9 days" in html


def test_board_filters_by_owner_team_and_period(org, pipeline, stages, login, deal_factory):
    deal_factory(
        owner=org.rep, pipeline=pipeline, name="Rep May", expected_close=dt.date(2030, 5, 10)
    )
    deal_factory(
        owner=org.other_rep,
        pipeline=pipeline,
        name="Kazan May",
        expected_close=dt.date(2030, 5, 12),
    )
    deal_factory(
        owner=org.rep, pipeline=pipeline, name="Rep June", expected_close=dt.date(2030, 6, 10)
    )
    client = login(org.head)

    def names(query):
        columns = client.get(f"/deals/?{query}").context["columns"]
        return sorted(d.name for c in columns for d in c.deals)

    assert names(f"owner={org.rep.pk}") == ["Rep June", "Rep May"]
    assert names(f"team={org.teams['kazan'].pk}") == ["Kazan May"]
    assert names("close_from=2030-05-01&close_to=2030-05-31") == ["Kazan May", "Rep May"]


def test_board_query_count_does_not_grow_with_deals(
    org, pipeline, stages, login, deal_factory, django_assert_num_queries
):
    for stage in stages[:3]:
        for i in range(40):
            deal_factory(owner=org.rep, pipeline=pipeline, stage=stage, amount=Decimal(i))
    client = login(org.admin)
    client.get("/deals/")  # warm the session and caches
    # session, user with their team (the menu's), pipelines + their stages, GROUP BY totals,
    # one card query per non-empty stage (3), org settings (currency), owners, teams, loss
    # reasons.
    with django_assert_num_queries(12):
        response = client.get("/deals/")
    columns = response.context["columns"]
    assert [c.count for c in columns] == [40, 40, 40, 0, 0]
    assert [len(c.deals) for c in columns] == [30, 30, 30, 0, 0]
    assert all(c.has_more for c in columns[:3])


def test_show_more_loads_the_next_cards_of_a_column(org, pipeline, stages, login, deal_factory):
    for i in range(35):
        deal_factory(
            owner=org.rep,
            pipeline=pipeline,
            stage=stages[0],
            name=f"D{i:02d}",
            amount=Decimal(100 - i),
        )
    response = login(org.rep).get(f"/deals/board/{pipeline.pk}/{stages[0].pk}/?offset=30")
    assert response.status_code == 200
    assert [d.name for d in response.context["deals"]] == ["D30", "D31", "D32", "D33", "D34"]
    assert response.context["has_more"] is False


def test_show_more_with_an_invalid_filter_shows_the_cards_unfiltered_like_the_board(
    org, pipeline, stages, login, deal_factory
):
    for i in range(3):
        deal_factory(owner=org.rep, pipeline=pipeline, stage=stages[0], name=f"D{i}")
    url = f"/deals/board/{pipeline.pk}/{stages[0].pk}/?team=abc"

    board = login(org.rep).get(f"/deals/?pipeline={pipeline.pk}&team=abc")
    column = login(org.rep).get(url)

    assert board.status_code == 200 and board.context["filter_errors"]
    assert column.status_code == 200
    assert [d.name for d in column.context["deals"]] == ["D0", "D1", "D2"]


def test_board_with_no_pipeline_invites_the_admin_to_create_one(org, login):
    response = login(org.admin).get("/deals/")
    assert response.status_code == 200
    assert "No pipelines yet" in response.content.decode()


# --- moves from the board -----------------------------------------------------------------


def test_dropping_a_card_moves_it_and_answers_new_totals(
    org, pipeline, stages, login, deal_factory
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, amount=Decimal("700"))
    response = login(org.rep).post(
        f"/deals/{deal.pk}/move/", {"stage": stages[1].pk, "version": 1}, **JSON_ACCEPT
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["stage"]) == (2, stages[1].pk)
    assert body["columns"][str(stages[1].pk)] == {
        "count": 1,
        "total": "700.00",
        "total_display": "700",
    }
    assert body["columns"][str(stages[0].pk)]["count"] == 0


def test_a_stale_drop_is_412_and_moves_nothing(org, pipeline, stages, login, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, version=3)
    response = login(org.rep).post(
        f"/deals/{deal.pk}/move/", {"stage": stages[1].pk, "version": 2}, **JSON_ACCEPT
    )
    assert response.status_code == 412
    assert "changed by someone else" in response.json()["message"]
    assert not StageChange.objects.exists()


def test_a_drop_on_another_pipelines_stage_is_400(
    org, pipeline, other_pipeline, login, deal_factory
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = login(org.rep).post(
        f"/deals/{deal.pk}/move/", {"stage": other_pipeline.stages.first().pk}, **JSON_ACCEPT
    )
    assert response.status_code == 400


def test_a_drop_by_an_analyst_is_403(org, pipeline, stages, login, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    response = login(org.analyst).post(
        f"/deals/{deal.pk}/move/", {"stage": stages[1].pk}, **JSON_ACCEPT
    )
    assert response.status_code == 403
    assert not StageChange.objects.exists()


def test_lost_from_the_board_needs_the_reason(org, pipeline, login, deal_factory, reasons):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    client = login(org.rep)
    refused = client.post(f"/deals/{deal.pk}/lose/", {"version": 1}, **JSON_ACCEPT)
    assert (refused.status_code, list(refused.json()["fields"])) == (422, ["reason"])
    done = client.post(
        f"/deals/{deal.pk}/lose/",
        {"version": 1, "reason": reasons[0].pk, "note": "n"},
        **JSON_ACCEPT,
    )
    assert done.status_code == 200
    deal.refresh_from_db()
    assert (deal.status, deal.loss_reason_id) == ("lost", reasons[0].pk)


# --- detail, list, forms ------------------------------------------------------------------


def test_detail_shows_progress_history_and_timeline(org, pipeline, stages, login, rep_contact):
    from kliento.sales.deals import services

    deal = services.deal_create(user=org.rep, data={"name": "Pilot", "contact": rep_contact.pk})
    services.deal_move(user=org.rep, deal=deal, stage=stages[2])
    response = login(org.rep).get(f"/deals/{deal.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert [row["state"] for row in response.context["progress"]] == [
        "done",
        "done",
        "current",
        "todo",
        "todo",
    ]
    assert "Qualification → Proposal" in html
    assert "Deal Pilot moved: Qualification → Proposal" in html


def test_detail_of_a_hidden_deal_is_404(org, pipeline, login, deal_factory):
    deal = deal_factory(owner=org.other_rep, pipeline=pipeline)
    assert login(org.rep).get(f"/deals/{deal.pk}/").status_code == 404


def test_two_click_logging_lands_on_the_customer_timeline(
    org, pipeline, login, deal_factory, rep_contact
):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, contact=rep_contact)
    response = login(org.rep).post(
        f"/deals/{deal.pk}/log/", {"kind": "call", "subject": "Agreed on price"}
    )
    assert response.status_code == 200
    call = Interaction.objects.get()
    assert (call.kind, call.contact_id, call.related_type, call.related_id) == (
        "call",
        rep_contact.pk,
        "deal",
        deal.pk,
    )


def test_list_shows_totals_and_filters_by_status(org, pipeline, login, deal_factory):
    deal_factory(owner=org.rep, pipeline=pipeline, name="Open one", amount=Decimal("100"))
    deal_factory(
        owner=org.rep, pipeline=pipeline, name="Won one", amount=Decimal("50"), status="won"
    )
    response = login(org.rep).get("/deals/list/?status=won")
    assert [d.name for d in response.context["page"].items] == ["Won one"]
    assert response.context["page"].extra == {"count": 1, "total": Decimal("50.00")}


def test_create_form_prefills_the_contact(org, pipeline, login, rep_contact):
    response = login(org.rep).get(f"/deals/new/?contact={rep_contact.pk}")
    assert response.context["values"]["contact"] == str(rep_contact.pk)
    assert response.context["values"]["name"] == rep_contact.full_name


def test_create_form_posts_a_deal(org, pipeline, stages, login, rep_contact):
    response = login(org.rep).post(
        "/deals/new/",
        {
            "name": "Renewal",
            "stage": stages[1].pk,
            "amount": "1 200,50",
            "contact": rep_contact.pk,
            "owner": org.rep.pk,
        },
    )
    deal = Deal.objects.get()
    assert response.status_code == 302
    assert (deal.stage_id, deal.amount, deal.contact_id) == (
        stages[1].pk,
        Decimal("1200.50"),
        rep_contact.pk,
    )


def test_create_form_shows_field_errors(org, pipeline, login):
    response = login(org.rep).post("/deals/new/", {"name": "", "amount": "-5"})
    assert response.status_code == 422
    assert set(response.context["errors"]) == {"name", "amount"}


def test_edit_with_a_stale_version_shows_the_conflict(org, pipeline, login, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline, name="Before", version=4)
    response = login(org.rep).post(f"/deals/{deal.pk}/edit/", {"name": "After", "version": 3})
    assert response.status_code == 412
    assert "Someone else changed this deal" in response.content.decode()
    deal.refresh_from_db()
    assert deal.name == "Before"


def test_delete_asks_then_deletes(org, pipeline, login, deal_factory):
    deal = deal_factory(owner=org.rep, pipeline=pipeline)
    client = login(org.rep)
    assert client.get(f"/deals/{deal.pk}/delete/").status_code == 200
    assert Deal.objects.exists()
    assert client.post(f"/deals/{deal.pk}/delete/", {"version": 1}).status_code == 302
    assert not Deal.objects.exists()


# --- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["head", "rep", "analyst"])
def test_pipeline_settings_are_for_admins_only(org, pipeline, login, role):
    client = login(getattr(org, role))
    assert client.get("/deals/settings/").status_code == 403
    response = client.post(
        "/deals/settings/", {"action": "stage_create", "pipeline": pipeline.pk, "name": "X"}
    )
    assert response.status_code == 403
    assert pipeline.stages.count() == 5


def test_admin_adds_a_stage_and_a_loss_reason(org, pipeline, login):
    client = login(org.admin)
    client.post(
        "/deals/settings/",
        {
            "action": "stage_create",
            "pipeline": pipeline.pk,
            "name": "Signed",
            "probability": "95",
            "expected_days": "3",
        },
    )
    client.post("/deals/settings/", {"action": "reason_create", "name": "No budget"})
    assert Stage.objects.filter(
        pipeline=pipeline, name="Signed", probability=95, expected_days=3
    ).exists()
    assert list(LossReason.objects.values_list("name", flat=True)) == ["No budget"]


def test_admin_cannot_delete_a_stage_with_deals_from_settings(
    org, pipeline, stages, login, deal_factory
):
    deal_factory(owner=org.rep, pipeline=pipeline, stage=stages[1])
    response = login(org.admin).post(
        "/deals/settings/", {"action": "stage_delete", "stage": stages[1].pk}, follow=True
    )
    assert "move them to another stage first" in response.content.decode()
    assert Stage.objects.filter(pk=stages[1].pk).exists()


def test_board_filters_swap_only_the_board_for_htmx(org, pipeline, login, deal_factory):
    deal_factory(owner=org.rep, pipeline=pipeline, name="Only me")
    response = login(org.rep).get(f"/deals/?owner={org.rep.pk}", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="board"')
    assert "Only me" in html
