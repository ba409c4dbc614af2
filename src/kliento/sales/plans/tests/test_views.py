"""The plans page over HTTP: the tree, the chart, the editor, cascades and reps' forecasts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from kliento.sales.plans.models import SalesTarget

from .conftest import MONTH

PLAN = "/plans/?period_kind=month&period=2026-05-01&metric=deals_won"


def test_head_sees_the_subtree_with_progress_and_chart(org, login, target, won):
    won(org.rep, "250", dt.date(2026, 5, 3))
    target("1000.00", team=org.teams["sales"])

    response = login(org.head).get(PLAN)

    html = response.content.decode()
    assert response.status_code == 200
    assert "1,000.00" in html and "25.0%" in html
    assert 'id="row-team-{}"'.format(org.teams["moscow"].pk) in html
    assert "<svg" in html and "plan vs actual" in html
    assert "Set and cascade" in html


def test_rep_sees_own_line_and_team_only(org, login, won):
    won(org.rep_peer, "999", dt.date(2026, 5, 3))

    html = login(org.rep).get(PLAN).content.decode()

    assert "Rep_Peer" not in html
    assert "Moscow" in html
    assert "999.00" in html  # the team's total
    assert "My forecast" in html
    assert "Set and cascade" not in html


def test_analyst_sees_everything_but_no_edit_buttons(org, login):
    html = login(org.analyst).get(PLAN).content.decode()

    assert "Acme" in html and "Kazan" in html
    assert "Set and cascade" not in html and "My forecast" not in html


def test_editor_fragment_for_head(org, login, target):
    target("1000.00", team=org.teams["sales"])

    response = login(org.head).get(
        PLAN + f"&edit=team:{org.teams['sales'].pk}", HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert 'value="1000.00"' in html
    assert "Preview the cascade" in html
    assert "Moscow" in html and "Kazan" in html


def test_editor_refused_to_rep_for_team(org, login):
    response = login(org.rep).get(
        PLAN + f"&edit=team:{org.teams['moscow'].pk}", HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 204


def _post(org, **extra):
    data = {
        "period_kind": "month",
        "period": "2026-05-01",
        "metric": "deals_won",
        "action": "apply",
    }
    data.update(extra)
    return data


def test_set_and_cascade_evenly(org, login):
    sales = org.teams["sales"]

    response = login(org.head).post(
        "/plans/target/",
        _post(
            org, node=f"team:{sales.pk}", amount="1000.01", cascade="1", method="even", depth="all"
        ),
    )

    assert response.status_code == 302
    amounts = {
        (t.team.name if t.team_id else t.user.username): t.amount
        for t in SalesTarget.objects.filter(period_start=MONTH)
    }
    assert amounts == {
        "Sales": Decimal("1000.01"),
        "Kazan": Decimal("500.01"),
        "Moscow": Decimal("500.00"),
        "other_rep": Decimal("500.01"),
        "rep": Decimal("250.00"),
        "rep_peer": Decimal("250.00"),
    }


def test_cascade_preview_saves_nothing(org, login):
    sales, moscow, kazan = org.teams["sales"], org.teams["moscow"], org.teams["kazan"]

    response = login(org.head).post(
        "/plans/target/",
        _post(
            org,
            node=f"team:{sales.pk}",
            amount="100",
            cascade="1",
            method="weights",
            action="preview",
            **{f"weight_team:{moscow.pk}": "3", f"weight_team:{kazan.pk}": "1"},
        ),
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Preview: nothing is saved yet" in html
    assert "75.00" in html and "25.00" in html
    assert SalesTarget.objects.count() == 0


def test_bad_amount_shows_inline_error(org, login):
    sales = org.teams["sales"]

    response = login(org.head).post(
        "/plans/target/", _post(org, node=f"team:{sales.pk}", amount="-3")
    )

    assert response.status_code == 422
    assert "negative" in response.content.decode()
    assert SalesTarget.objects.count() == 0


def test_rep_enters_forecast_and_adjusts_target(org, login, target):
    mine = target("300.00", user=org.rep)

    response = login(org.rep).post(
        "/plans/target/",
        _post(
            org,
            node=f"user:{org.rep.pk}",
            amount="350",
            forecast="280.50",
            version=str(mine.version),
        ),
    )

    mine.refresh_from_db()
    assert response.status_code == 302
    assert (mine.amount, mine.forecast, mine.adjusted) == (
        Decimal("350.00"),
        Decimal("280.50"),
        True,
    )


def test_rep_forecast_without_target(org, login):
    login(org.rep).post("/plans/target/", _post(org, node=f"user:{org.rep.pk}", forecast="40"))

    mine = SalesTarget.objects.get(user=org.rep)
    assert (mine.amount, mine.forecast) == (Decimal("0.00"), Decimal("40.00"))


def test_rep_cannot_post_a_peers_target(org, login):
    response = login(org.rep).post(
        "/plans/target/", _post(org, node=f"user:{org.rep_peer.pk}", amount="5")
    )

    assert response.status_code == 403
    assert SalesTarget.objects.count() == 0


def test_analyst_cannot_post(org, login):
    sales = org.teams["sales"]

    response = login(org.analyst).post(
        "/plans/target/", _post(org, node=f"team:{sales.pk}", amount="5")
    )

    assert response.status_code == 403
    assert SalesTarget.objects.count() == 0


def test_bad_period_falls_back_to_this_month(org, login):
    response = login(org.head).get("/plans/?period_kind=decade&period=yesterday")

    assert response.status_code == 200


def test_chart_leaves_room_for_the_longest_value_label(org, login, target, won):
    won(org.rep, "12345678", dt.date(2026, 5, 3))
    target("98765432.00", team=org.teams["sales"])

    html = login(org.head).get(PLAN).content.decode()

    width = int(re.search(r'<svg viewBox="0 0 (\d+) ', html).group(1))
    bars = [float(w) for w in re.findall(r'class="t-bar" x="\d+" y="\d+" width="([\d.]+)"', html)]
    bar_x = int(re.search(r'class="t-bar" x="(\d+)"', html).group(1))
    label = "12,345,678 / 98,765,432"  # about 7px a character at 12px
    assert max(bars) + bar_x + 6 + 7 * len(label) <= width
