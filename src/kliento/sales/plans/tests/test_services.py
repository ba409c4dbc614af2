"""Plan services: exact splits, cascades, adjustments, forecasts, roll-ups, plan vs actual."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kliento.core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from kliento.core.models import AuditLog
from kliento.sales.plans import selectors, services
from kliento.sales.plans.models import SalesTarget

from .conftest import MONTH


def _amounts(org, metric="deals_won"):
    rows = SalesTarget.objects.filter(period_start=MONTH, metric=metric)
    named = {}
    for t in rows:
        named[t.team.name if t.team_id else t.user.username] = t.amount
    return named


@pytest.mark.parametrize(
    ("amount", "weights", "expected"),
    [
        ("100.00", ["1", "1", "1"], ["33.34", "33.33", "33.33"]),
        ("100.00", ["1", "2"], ["33.33", "66.67"]),
        ("1000.01", ["2", "1"], ["666.68", "333.33"]),
        ("0.05", ["1", "1", "1"], ["0.03", "0.01", "0.01"]),
        ("90.00", ["0", "0"], ["45.00", "45.00"]),
    ],
)
def test_split_exact_adds_up_to_the_cent(amount, weights, expected):
    shares = services.split_exact(Decimal(amount), [Decimal(w) for w in weights])

    assert shares == [Decimal(e) for e in expected]
    assert sum(shares) == Decimal(amount)


@pytest.mark.parametrize(
    ("kind", "day", "start"),
    [
        ("month", dt.date(2026, 5, 17), dt.date(2026, 5, 1)),
        ("quarter", dt.date(2026, 5, 17), dt.date(2026, 4, 1)),
        ("quarter", dt.date(2026, 12, 31), dt.date(2026, 10, 1)),
        ("year", dt.date(2026, 5, 17), dt.date(2026, 1, 1)),
    ],
)
def test_target_set_normalises_period_start(org, kind, day, start):
    target = services.target_set(
        user=org.head,
        period_kind=kind,
        period_start=day,
        metric="deals_won",
        amount="1000",
        team=org.teams["sales"],
    )

    assert target.period_start == start
    assert AuditLog.objects.filter(entity="sales_target", object_id=target.pk).count() == 1


def test_target_set_twice_replaces_the_amount(org):
    kwargs = dict(
        period_kind="month", period_start=MONTH, metric="orders", team=org.teams["moscow"]
    )
    services.target_set(user=org.head, amount="100", **kwargs)

    target = services.target_set(user=org.head, amount="250.50", **kwargs)

    assert SalesTarget.objects.count() == 1
    assert (target.amount, target.version) == (Decimal("250.50"), 2)


@pytest.mark.parametrize(
    ("who", "team"),
    [("rep", "moscow"), ("head", "company"), ("analyst", "sales"), ("marketer", "sales")],
)
def test_only_heads_of_the_subtree_and_admins_set_team_targets(org, who, team):
    with pytest.raises(PermissionDeniedError):
        services.target_set(
            user=org.users[who],
            period_kind="month",
            period_start=MONTH,
            metric="deals_won",
            amount="100",
            team=org.teams[team],
        )

    assert SalesTarget.objects.count() == 0


def test_negative_target_is_422(org):
    with pytest.raises(ValidationFailedError) as exc:
        services.target_set(
            user=org.admin,
            period_kind="month",
            period_start=MONTH,
            metric="deals_won",
            amount="-1",
            team=org.teams["sales"],
        )

    assert list(exc.value.fields) == ["amount"]


# --- cascades ----------------------------------------------------------------------------------


def test_cascade_even_one_level(org, target):
    sales = target("1000.01", team=org.teams["sales"])

    services.target_cascade(user=org.head, target=sales, method="even")

    assert _amounts(org) == {
        "Sales": Decimal("1000.01"),
        "Kazan": Decimal("500.01"),  # teams go by name; the residue goes to the first largest
        "Moscow": Decimal("500.00"),
    }
    child = SalesTarget.objects.get(team=org.teams["moscow"])
    assert (child.parent_id, child.method) == (sales.pk, "even")


def test_cascade_even_all_levels(org, target):
    sales = target("1000.00", team=org.teams["sales"])

    services.target_cascade(user=org.head, target=sales, method="even", depth="all")

    assert _amounts(org) == {
        "Sales": Decimal("1000.00"),
        "Moscow": Decimal("500.00"),
        "Kazan": Decimal("500.00"),
        "rep": Decimal("250.00"),
        "rep_peer": Decimal("250.00"),
        "other_rep": Decimal("500.00"),
    }


def test_cascade_from_company_skips_teams_without_reps(org, target):
    company = target("900.00", team=org.teams["company"])

    rows = services.target_cascade(user=org.admin, target=company, method="even")

    assert [(t.team.name, t.amount) for t in rows] == [("Sales", Decimal("900.00"))]


def test_cascade_by_weights(org, target):
    sales = target("1000.01", team=org.teams["sales"])
    moscow, kazan = org.teams["moscow"], org.teams["kazan"]

    services.target_cascade(
        user=org.head,
        target=sales,
        method="weights",
        weights={f"team:{moscow.pk}": "2", f"team:{kazan.pk}": "1"},
    )

    assert _amounts(org) == {
        "Sales": Decimal("1000.01"),
        "Moscow": Decimal("666.68"),
        "Kazan": Decimal("333.33"),
    }
    assert SalesTarget.objects.get(team=moscow).weight == Decimal("2")


def test_cascade_by_weights_needs_every_child(org, target):
    sales = target("1000", team=org.teams["sales"])
    moscow, kazan = org.teams["moscow"], org.teams["kazan"]

    with pytest.raises(ValidationFailedError) as exc:
        services.target_cascade(
            user=org.head, target=sales, method="weights", weights={f"team:{moscow.pk}": 1}
        )

    assert list(exc.value.fields) == [f"weights.team:{kazan.pk}"]
    assert SalesTarget.objects.count() == 1


def test_cascade_by_last_years_share(org, target, won):
    won(org.rep, "300", dt.date(2025, 5, 10))
    won(org.other_rep, "100", dt.date(2025, 5, 20))
    won(org.rep_peer, "999", dt.date(2025, 6, 1))  # another month: not counted
    sales = target("1000.00", team=org.teams["sales"])

    services.target_cascade(user=org.head, target=sales, method="last_year", depth="all")

    assert _amounts(org) == {
        "Sales": Decimal("1000.00"),
        "Moscow": Decimal("750.00"),
        "Kazan": Decimal("250.00"),
        "rep": Decimal("750.00"),
        "rep_peer": Decimal("0.00"),
        "other_rep": Decimal("250.00"),
    }
    assert SalesTarget.objects.get(team=org.teams["moscow"]).weight == Decimal("0.7500")


def test_cascade_by_last_year_with_no_sales_is_even(org, target):
    sales = target("1000.00", team=org.teams["sales"])

    services.target_cascade(user=org.head, target=sales, method="last_year")

    assert _amounts(org)["Moscow"] == _amounts(org)["Kazan"] == Decimal("500.00")
    assert SalesTarget.objects.get(team=org.teams["kazan"]).method == "even"


def test_cascade_by_rep_is_forbidden(org, target):
    moscow = target("1000.00", team=org.teams["moscow"])

    with pytest.raises(PermissionDeniedError):
        services.target_cascade(user=org.rep, target=moscow, method="even")

    assert SalesTarget.objects.count() == 1


def test_cascade_preview_saves_nothing(org, target):
    sales = target("10.00", team=org.teams["sales"])

    rows = services.cascade_plan(user=org.head, target=sales, method="even", depth="all")

    assert [(r["name"], r["amount"]) for r in rows] == [
        ("Kazan", Decimal("5.00")),
        ("Moscow", Decimal("5.00")),
    ]
    assert [(r["name"], r["amount"]) for r in rows[1]["children"]] == [
        ("Rep", Decimal("2.50")),
        ("Rep_Peer", Decimal("2.50")),
    ]
    assert SalesTarget.objects.count() == 1


# --- adjustments and forecasts -----------------------------------------------------------------


def test_rep_adjusts_own_target(org, target):
    mine = target("250.00", user=org.rep)

    mine = services.target_update(user=org.rep, target=mine, data={"amount": "300"})

    assert (mine.amount, mine.adjusted, mine.version) == (Decimal("300.00"), True, 2)
    audit = AuditLog.objects.get(entity="sales_target", object_id=mine.pk)
    assert audit.changes["adjusted"] == [False, True]


def test_rep_cannot_change_team_target(org, target):
    moscow = target("1000.00", team=org.teams["moscow"])

    with pytest.raises(PermissionDeniedError):
        services.target_update(user=org.rep, target=moscow, data={"amount": "1"})

    moscow.refresh_from_db()
    assert moscow.amount == Decimal("1000.00")


def test_forecasts_roll_up_the_tree(org, target):
    services.forecast_set(
        user=org.rep, period_kind="month", period_start=MONTH, metric="deals_won", forecast="400"
    )
    services.forecast_set(
        user=org.rep_peer,
        period_kind="month",
        period_start=MONTH,
        metric="deals_won",
        forecast="300.5",
    )
    services.forecast_set(
        user=org.other_rep,
        period_kind="month",
        period_start=MONTH,
        metric="deals_won",
        forecast="50",
    )

    [root] = selectors.plan_vs_actual(
        user=org.admin, period_kind="month", period_start=MONTH, metric="deals_won"
    )

    forecasts = {n.name: n.forecast for n in root.walk()}
    assert forecasts["Acme"] == forecasts["Sales"] == Decimal("750.50")
    assert forecasts["Moscow"] == Decimal("700.50")
    assert forecasts["Kazan"] == Decimal("50.00")


def test_team_forecast_cannot_be_set(org, target):
    moscow = target("1000.00", team=org.teams["moscow"])

    with pytest.raises(ValidationFailedError) as exc:
        services.target_update(user=org.head, target=moscow, data={"forecast": "5"})

    assert list(exc.value.fields) == ["forecast"]


# --- plan vs actual ----------------------------------------------------------------------------


def test_plan_vs_actual_won_deals_roll_up(org, target, won):
    won(org.rep, "500", dt.date(2026, 5, 3))
    won(org.rep_peer, "200", dt.date(2026, 5, 31))
    won(org.other_rep, "100", dt.date(2026, 5, 15))
    won(org.rep, "1000", dt.date(2026, 4, 30))  # April
    won(org.rep, "7000", dt.date(2026, 5, 10), status="lost")
    target("1000.00", team=org.teams["sales"])
    target("400.00", user=org.rep)

    [root] = selectors.plan_vs_actual(
        user=org.admin, period_kind="month", period_start=dt.date(2026, 5, 20), metric="deals_won"
    )

    nodes = {n.name: n for n in root.walk()}
    assert [c.name for c in root.children] == ["Sales"]
    assert {
        k: nodes[k].actual for k in ("Acme", "Sales", "Moscow", "Kazan", "Rep", "Rep_Peer")
    } == {
        "Acme": Decimal("800.00"),
        "Sales": Decimal("800.00"),
        "Moscow": Decimal("700.00"),
        "Kazan": Decimal("100.00"),
        "Rep": Decimal("500.00"),
        "Rep_Peer": Decimal("200.00"),
    }
    assert (nodes["Sales"].percent, nodes["Sales"].gap) == (Decimal("80.0"), Decimal("200.00"))
    assert (nodes["Rep"].percent, nodes["Rep"].gap, nodes["Rep"].bar) == (
        Decimal("125.0"),
        Decimal("-100.00"),
        100,
    )


def test_plan_vs_actual_order_revenue_excludes_cancelled_and_returned(org, ordered):
    ordered(org.rep, "100.10", dt.date(2026, 5, 1))
    ordered(org.rep, "50", dt.date(2026, 5, 2), status="new")
    ordered(org.rep, "1000", dt.date(2026, 5, 3), status="cancelled")
    ordered(org.rep, "2000", dt.date(2026, 5, 4), status="returned")
    ordered(org.other_rep, "30", dt.date(2026, 6, 1))

    [root] = selectors.plan_vs_actual(
        user=org.head, period_kind="quarter", period_start=MONTH, metric="orders"
    )

    nodes = {n.name: n.actual for n in root.walk()}
    assert (root.name, nodes["Rep"], nodes["Kazan"], nodes["Sales"]) == (
        "Sales",
        Decimal("150.10"),
        Decimal("30.00"),
        Decimal("180.10"),
    )


def test_rep_sees_own_line_and_team_totals(org, won):
    won(org.rep, "500", dt.date(2026, 5, 3))
    won(org.rep_peer, "200", dt.date(2026, 5, 4))

    [root] = selectors.plan_vs_actual(
        user=org.rep, period_kind="month", period_start=MONTH, metric="deals_won"
    )

    assert (root.name, root.actual) == ("Moscow", Decimal("700.00"))
    assert [(c.name, c.actual) for c in root.children] == [("Rep", Decimal("500.00"))]


def test_head_cannot_open_a_team_outside_the_subtree(org):
    with pytest.raises(NotFoundError):
        selectors.plan_vs_actual(
            user=org.head,
            period_kind="month",
            period_start=MONTH,
            metric="deals_won",
            team=org.teams["marketing"].pk,
        )


def test_rep_does_not_see_peer_targets(org, target):
    peer = target("100", user=org.rep_peer)

    with pytest.raises(NotFoundError):
        selectors.target_get_for_user(user=org.rep, pk=peer.pk)
