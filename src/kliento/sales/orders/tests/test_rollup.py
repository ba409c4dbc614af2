"""The product rollup behind P&L by product: exact after every order write, and the report
over a period of whole and partial months equals the same sums taken over the order lines."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from kliento.customers.models import RecordShare
from kliento.sales.orders import rollup, services
from kliento.sales.orders.models import NO_REVENUE_STATUSES, Order, OrderLine, ProductMonth

pytestmark = pytest.mark.django_db


def _rows() -> list[tuple]:
    return sorted(
        ProductMonth.objects.values_list(
            "month", "owner_id", "product_key", "orders", "quantity", "revenue", "cost", "discounts"
        )
    )


def assert_exact() -> None:
    """The rollup as the writes left it equals one rebuilt from the order lines."""
    kept = _rows()
    rollup.rebuild()
    assert kept == _rows()


def _line(product, quantity="1", **extra) -> dict:
    return {"product": product.pk, "quantity": quantity, **extra}


@pytest.fixture
def book(org, contact_factory, products, price_list):
    """Orders of rep and other_rep around February–April 2026, through the order service."""
    mine = contact_factory(owner=org.rep, first_name="Anna", last_name="Smirnova")
    theirs = contact_factory(owner=org.other_rep, first_name="Oleg", last_name="Kazakov")
    std, pro, impl = products[0], products[1], products[2]

    def order(user, contact, day, lines):
        return services.order_create(
            user=user,
            data={
                "contact": contact.pk,
                "price_list": price_list.pk,
                "ordered_at": day,
                "lines": lines,
            },
        )

    book = {
        "feb_10": order(org.rep, mine, "2026-02-10", [_line(std, "2")]),
        "feb_20": order(org.rep, mine, "2026-02-20", [_line(pro), _line(impl, "3")]),
        "mar_01": order(org.rep, mine, "2026-03-01", [_line(std), _line(std, "4")]),
        "mar_15": order(org.other_rep, theirs, "2026-03-15", [_line(pro, "2")]),
        "mar_31": order(
            org.rep,
            mine,
            "2026-03-31",
            [_line(impl, "1.5", discount_kind="percent", discount_value="10")],
        ),
        "apr_02": order(org.other_rep, theirs, "2026-04-02", [_line(std), _line(impl)]),
        "apr_20": order(org.rep, mine, "2026-04-20", [_line(pro, "5")]),
    }
    return book


def expected(owners, date_from: str, date_to: str) -> tuple[dict, int]:
    """P&L by product worked out in Python over the order lines (no SQL aggregates)."""
    import datetime as dt

    from django.utils import timezone

    first, last = dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to)
    rows: dict = defaultdict(lambda: {"orders": set(), "revenue": Decimal(0), "cost": Decimal(0)})
    seen = set()
    for line in OrderLine.objects.select_related("order"):
        o = line.order
        day = timezone.localtime(o.ordered_at).date()
        if o.status in NO_REVENUE_STATUSES or not first <= day <= last:
            continue
        if owners is not None and o.owner_id not in owners:
            continue
        row = rows[line.product_id]
        row["orders"].add(o.pk)
        row["revenue"] += line.revenue_company
        row["cost"] += line.quantity * line.cost
        seen.add(o.pk)
    return {
        pk: (len(r["orders"]), f"{r['revenue']:.2f}", f"{r['cost'].quantize(Decimal('0.01')):.2f}")
        for pk, r in rows.items()
    }, len(seen)


def report(api, user, date_from, date_to) -> tuple[dict, int]:
    response = api(user).get(
        "/api/v1/reports/pnl",
        {"by": "product", "date_from": date_from, "date_to": date_to, "top": 100},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {int(r["key"]): (r["orders"], r["revenue"], r["cost"]) for r in body["rows"]}
    return rows, body["totals"]["orders"]


def test_every_order_write_keeps_the_rollup_exact(org, book, products, price_list):
    assert (
        ProductMonth.objects.filter(product_key=rollup.ALL_PRODUCTS).count() == 5
    )  # (month, owner) pairs
    assert_exact()
    # Cancelling takes the order out; its month's row for all products counts one order less.
    services.order_set_status(user=org.rep, order=book["mar_01"], status="cancelled")
    assert_exact()
    march = ProductMonth.objects.get(
        month="2026-03-01", owner=org.rep, product_key=rollup.ALL_PRODUCTS
    )
    assert march.orders == 1
    # A new order's date moves it to another month: both months are recomputed.
    services.order_update(user=org.rep, order=book["apr_20"], data={"ordered_at": "2026-03-05"})
    assert_exact()
    assert not ProductMonth.objects.filter(month="2026-04-01", owner=org.rep).exists()
    services.order_set_status(user=org.other_rep, order=book["mar_15"], status="paid")
    services.order_set_status(user=org.other_rep, order=book["mar_15"], status="returned")
    assert_exact()
    assert not ProductMonth.objects.filter(month="2026-03-01", owner=org.other_rep).exists()


def test_an_accepted_quote_order_lands_in_the_rollup(org, make_quote):
    order = services.order_create_from_quote(user=org.rep, quote=make_quote(status="accepted"))
    month, owner = rollup.key_of(order)
    rows = ProductMonth.objects.filter(month=month, owner_id=owner)
    assert rows.get(product_key=rollup.ALL_PRODUCTS).orders == 1
    assert sum(r.revenue for r in rows) == order.revenue_company
    assert_exact()


@pytest.mark.parametrize(
    ("date_from", "date_to"),
    [
        ("2026-02-01", "2026-04-30"),  # whole months only
        ("2026-02-15", "2026-04-10"),  # partial months at both ends around March
        ("2026-03-01", "2026-03-31"),  # one whole month
        ("2026-03-02", "2026-03-30"),  # no whole month: the order lines alone
        ("2026-01-01", "2026-12-31"),  # months without orders
        ("2026-02-03", "2026-04-28"),  # partial months read as the rollup minus a few days
        ("2026-03-02", "2026-03-31"),  # within one month: March minus its first day
        ("2026-03-01", "2026-03-14"),  # within one month: its first two weeks' order lines
        ("2026-02-20", "2026-02-20"),  # one day
    ],
)
def test_pnl_by_product_equals_the_order_lines(org, book, api, date_from, date_to):
    services.order_set_status(user=org.rep, order=book["feb_20"], status="cancelled")
    for user, owners in [
        (org.admin, None),
        (org.head, {org.rep.pk, org.rep_peer.pk, org.other_rep.pk, org.head.pk}),
        (org.rep, {org.rep.pk}),
    ]:
        assert report(api, user, date_from, date_to) == expected(owners, date_from, date_to)


def test_the_owner_and_team_filters_narrow_the_rollup(org, book, api):
    rows, orders = report(api, org.head, "2026-02-01", "2026-04-30")
    assert orders == 7
    response = api(org.head).get(
        "/api/v1/reports/pnl",
        {"by": "product", "date_from": "2026-02-01", "date_to": "2026-04-30", "team": "x"},
    )
    assert response.status_code == 422
    kazan = org.teams["kazan"].pk
    for params, owners in [({"owner": org.other_rep.pk}, {org.other_rep.pk}),
                           ({"team": kazan}, {org.other_rep.pk})]:  # fmt: skip
        body = (
            api(org.head)
            .get(
                "/api/v1/reports/pnl",
                {"by": "product", "date_from": "2026-02-01", "date_to": "2026-04-30", **params},
            )
            .json()
        )
        rows = {int(r["key"]): (r["orders"], r["revenue"], r["cost"]) for r in body["rows"]}
        assert (rows, body["totals"]["orders"]) == expected(owners, "2026-02-01", "2026-04-30")


def test_an_order_shared_with_a_rep_counts_in_their_pnl(org, book, api):
    RecordShare.objects.create(
        user=org.rep, entity="order", object_id=book["mar_15"].pk, can_edit=False
    )
    rows, orders = report(api, org.rep, "2026-03-01", "2026-03-31")
    mine = expected({org.rep.pk}, "2026-03-01", "2026-03-31")[1]
    assert orders == mine + 1
    pro = book["mar_15"].lines.get().product_id
    assert rows[pro][0] == 1


def test_the_rebuild_command_repairs_a_rollup_written_around(org, book):
    # Orders written straight into the database (not through the services) leave it behind.
    Order.objects.filter(pk=book["mar_31"].pk).update(status="cancelled")
    stale = _rows()
    call_command("pnl_rollup", verbosity=0)
    assert _rows() != stale
    assert_exact()


def test_each_partial_month_takes_the_cheaper_side(org):
    from datetime import date

    from django.utils import timezone

    from kliento.sales.reports.filters import pnl_filters
    from kliento.sales.reports.selectors import _rollup_plan

    def plan(date_from, date_to):
        f = pnl_filters({"by": "product", "date_from": date_from, "date_to": date_to})
        p = _rollup_plan(org.admin, f)
        return p.months_from, p.months_to, p.plus, p.minus

    # 3 Feb – 28 Apr: February and April whole from the rollup, minus 1–2 Feb and 29–30 Apr.
    assert plan("2026-02-03", "2026-04-28") == (
        date(2026, 2, 1),
        date(2026, 5, 1),
        (),
        ((date(2026, 2, 1), date(2026, 2, 3)), (date(2026, 4, 29), date(2026, 5, 1))),
    )
    # 20 Feb – 10 Apr: the order lines of 20–28 Feb and 1–10 Apr, March from the rollup.
    assert plan("2026-02-20", "2026-04-10") == (
        date(2026, 3, 1),
        date(2026, 4, 1),
        ((date(2026, 2, 20), date(2026, 3, 1)), (date(2026, 4, 1), date(2026, 4, 11))),
        (),
    )
    # Month to date, 1–20 March: March from the rollup minus 21–31 March.
    assert plan("2026-03-01", "2026-03-20") == (
        date(2026, 3, 1),
        date(2026, 4, 1),
        (),
        ((date(2026, 3, 21), date(2026, 4, 1)),),
    )
    # This month to today: this month from the rollup, minus the days after today, if any.
    today = timezone.localdate()
    p = plan(today.replace(day=1).isoformat(), today.isoformat())
    assert (p[0], p[2]) == (today.replace(day=1), ())


@pytest.fixture(params=["UTC", "Europe/Moscow", "America/New_York"])
def company_zone(request, settings) -> ZoneInfo:
    settings.TIME_ZONE = request.param
    return ZoneInfo(request.param)


@pytest.fixture
def ledger(company_zone, org, contact_factory, products, usd_rate, make_quote) -> list[Order]:
    """Orders of three owners from December 2025 to April 2026 in every status, in roubles and
    dollars, some a second either side of a month's first instant in the company time zone,
    one with a line without a product. Statuses are set straight in the database."""
    std, pro, impl = products[0], products[1], products[2]
    contact = contact_factory(owner=org.admin, first_name="Irina", last_name="Volkova")

    def local(text: str) -> dt.datetime:
        return timezone.make_aware(dt.datetime.fromisoformat(text), company_zone)

    def order(owner, moment, lines, status="new", currency="RUB"):
        made = services.order_create(
            user=org.admin,
            data={
                "contact": contact.pk,
                "owner": owner.pk,
                "currency": currency,
                "ordered_at": local(moment),
                "lines": [
                    {"product": p.pk, "quantity": q, "price": price, **extra}
                    for p, q, price, extra in lines
                ],
            },
        )
        Order.objects.filter(pk=made.pk).update(status=status)
        return made

    ten_off = {"discount_kind": "percent", "discount_value": "10"}
    rep, peer, other = org.rep, org.rep_peer, org.other_rep
    ledger = [
        order(rep, "2025-12-31 23:59:59", [(std, "2", "1000.00", {})], "paid"),
        order(rep, "2026-01-01 00:00:00", [(std, "1", "1000.00", {}), (pro, "1", "2000.00", {})]),
        order(peer, "2026-01-15 12:00:00", [(impl, "1.5", "3000.00", ten_off)], "shipped"),
        order(rep, "2026-02-28 23:59:59", [(pro, "3", "1990.00", ten_off)], "cancelled"),
        order(rep, "2026-02-28 23:59:58", [(std, "1", "1000.00", {}), (std, "4", "950.00", {})]),
        order(rep, "2026-03-01 00:00:00", [(impl, "2", "3000.00", {})], "returned"),
        order(rep, "2026-03-01 00:00:01", [(pro, "1", "19.99", ten_off)], "paid", "USD"),
        order(other, "2026-03-14 09:30:00", [(std, "7", "990.00", {}), (impl, "1", "10.00", {})]),
        order(other, "2026-03-31 23:59:59", [(pro, "2", "2000.00", {})], "shipped"),
        order(other, "2026-04-01 00:00:00", [(pro, "1", "2000.00", {})], "cancelled"),
        order(peer, "2026-04-01 00:00:00", [(std, "1", "1000.00", ten_off)], "returned"),
        order(peer, "2026-04-30 23:59:59", [(impl, "1", "3000.00", {})], "new"),
    ]
    from_quote = services.order_create_from_quote(
        user=org.rep, quote=make_quote(status="accepted")
    )  # its second line has no product
    Order.objects.filter(pk=from_quote.pk).update(ordered_at=local("2026-02-01 00:00:00"))
    return [*ledger, from_quote]


def test_the_full_rebuild_equals_the_per_key_recompute(org, products, ledger, company_zone):
    keys = {rollup.key_of(o) for o in Order.objects.all()}
    ProductMonth.objects.all().delete()
    rollup.refresh(keys)
    per_key = _rows()

    assert rollup.rebuild() == len(per_key)

    assert _rows() == per_key
    # The orders counted per (month, owner) are those of the company calendar that bring revenue.
    counted = Counter(
        (timezone.localtime(o.ordered_at, company_zone).date().replace(day=1), o.owner_id)
        for o in Order.objects.exclude(status__in=NO_REVENUE_STATUSES)
    )
    assert {
        (month, owner): orders
        for month, owner, product, orders, *_ in per_key
        if product == rollup.ALL_PRODUCTS
    } == counted
    assert counted == {
        (dt.date(2025, 12, 1), org.rep.pk): 1,
        (dt.date(2026, 1, 1), org.rep.pk): 1,
        (dt.date(2026, 1, 1), org.rep_peer.pk): 1,
        (dt.date(2026, 2, 1), org.rep.pk): 2,
        (dt.date(2026, 3, 1), org.rep.pk): 1,
        (dt.date(2026, 3, 1), org.other_rep.pk): 2,
        (dt.date(2026, 4, 1), org.rep_peer.pk): 1,
    }
    feb = [r for r in per_key if r[:2] == (dt.date(2026, 2, 1), org.rep.pk)]
    assert {r[2]: r[3:5] for r in feb} == {
        rollup.ALL_PRODUCTS: (2, Decimal("0.000")),
        0: (1, Decimal("1.000")),  # the quote's line without a product
        products[0].pk: (2, Decimal("7.000")),  # 1 + 4, and 2 from the quote
    }


def test_the_full_rebuild_takes_the_same_statements_however_many_months(
    ledger, django_assert_num_queries
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite rebuilds month by month: one pass is slower there (rollup.rebuild)")
    # savepoint, delete, first and last order, company currency, two INSERT … SELECT, count,
    # release: the same for five months and for seven years
    with django_assert_num_queries(8):
        rollup.rebuild()
    Order.objects.filter(pk=ledger[0].pk).update(ordered_at=ledger[0].ordered_at.replace(year=2019))
    with django_assert_num_queries(8):
        rollup.rebuild()
    assert ProductMonth.objects.filter(month__year=2019).exists()
