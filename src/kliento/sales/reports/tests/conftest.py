"""A hand-built month of sales (March 2026) whose every report number is worked out by hand.

Deals (pipeline "Sales": Qualification 10% · Needs analysis 25% · Proposal 50% ·
Negotiation 75% · Contract 90%), amounts in RUB (the company currency):

    d1 rep        open  Proposal      1 000  close 2026-03-10  commit
    d2 rep        open  Qualification 2 000  close 2026-03-20  pipeline
    d3 rep_peer   open  Negotiation   4 000  close 2026-04-05  best case
    d4 other_rep  open  Contract     10 000  close 2026-03-15  commit
    d5 rep        open  Qualification   500  close 2026-07-01  (outside Mar–May)
    d6 rep        won   Contract      3 000  created 02-10, won 03-12 (30 days)
    d7 rep        lost  Needs analysis  700  created 03-01, lost 03-13 (12 days)
    d8 other_rep  lost  Proposal      5 000  created 02-20, lost 03-20 (28 days)
    d9 rep_peer   won   Negotiation   2 000  created 03-05, won 03-11 (6 days)

Orders in March: o1 (rep, company A, paid), o2 (other_rep, company B, shipped),
o3 (rep, company A, cancelled), o4 (rep, contact only, USD at 90); o5 is in April.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kliento.customers.models import Interaction
from kliento.sales.deals.models import Deal, StageChange
from kliento.sales.orders import rollup
from kliento.sales.orders.models import Order, OrderLine

D = Decimal
DAY = 86400


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


class Data:
    pass


def _order(
    number,
    owner,
    when,
    lines,
    *,
    company=None,
    contact=None,
    status="paid",
    currency="RUB",
    rate=1,
):
    subtotal = sum((q * p for _, q, p, _d in lines), D("0"))
    discount = sum((d for *_, d in lines), D("0"))
    net = subtotal - discount
    cost = sum((q * product.cost for product, q, _p, _d in lines), D("0"))
    order = Order.objects.create(
        number=number,
        status=status,
        ordered_at=at(when),
        owner=owner,
        company=company,
        contact=contact,
        currency=currency,
        subtotal=subtotal,
        discount_total=discount,
        tax_total=D("0"),
        total=net,
        revenue_company=net * D(rate),
        cost_company=cost,
        margin_company=net * D(rate) - cost,
    )
    for i, (product, q, p, d) in enumerate(lines):
        OrderLine.objects.create(
            order=order,
            position=i,
            product=product,
            quantity=q,
            price=p,
            discount=d,
            net=q * p - d,
            cost=product.cost,
            revenue_company=(q * p - d) * D(rate),
        )
    rollup.refresh_orders(order)  # as the order services do
    return order


@pytest.fixture
def sales(org, pipeline, other_pipeline, deal_factory, products, company_factory, contact_factory):
    s = Data()
    s.org = org
    s.pipeline = pipeline
    stages = list(pipeline.stages.order_by("position"))
    s.stages = stages
    q, na, prop, neg, contract = stages

    def deal(owner, stage, amount, **kw):
        kw.setdefault("created_at", at("2026-01-15T09:00:00"))
        return deal_factory(owner=owner, pipeline=pipeline, stage=stage, amount=D(amount), **kw)

    s.d1 = deal(
        org.rep, prop, "1000", expected_close=dt.date(2026, 3, 10), forecast_category="commit"
    )
    s.d2 = deal(org.rep, q, "2000", expected_close=dt.date(2026, 3, 20))
    s.d3 = deal(
        org.rep_peer, neg, "4000", expected_close=dt.date(2026, 4, 5), forecast_category="best_case"
    )
    s.d4 = deal(
        org.other_rep,
        contract,
        "10000",
        expected_close=dt.date(2026, 3, 15),
        forecast_category="commit",
    )
    s.d5 = deal(org.rep, q, "500", expected_close=dt.date(2026, 7, 1))
    s.d6 = deal(
        org.rep,
        contract,
        "3000",
        status="won",
        expected_close=dt.date(2026, 3, 30),
        created_at=at("2026-02-10T00:00:00"),
        closed_at=at("2026-03-12T00:00:00"),
    )
    s.d7 = deal(
        org.rep,
        na,
        "700",
        status="lost",
        created_at=at("2026-03-01T00:00:00"),
        closed_at=at("2026-03-13T00:00:00"),
    )
    s.d8 = deal(
        org.other_rep,
        prop,
        "5000",
        status="lost",
        created_at=at("2026-02-20T00:00:00"),
        closed_at=at("2026-03-20T00:00:00"),
    )
    s.d9 = deal(
        org.rep_peer,
        neg,
        "2000",
        status="won",
        created_at=at("2026-03-05T00:00:00"),
        closed_at=at("2026-03-11T00:00:00"),
    )

    def move(d, frm, to, when, user, seconds, status="open"):
        StageChange.objects.create(
            deal=d,
            pipeline=pipeline,
            from_stage=frm,
            to_stage=to,
            status=status,
            at=at(when),
            user=user,
            seconds_in_from=seconds,
        )

    move(s.d6, None, q, "2026-02-10T00:00:00", org.rep, None)  # created
    move(s.d6, q, na, "2026-02-12T00:00:00", org.rep, 2 * DAY)
    move(s.d6, na, prop, "2026-02-16T00:00:00", org.rep, 4 * DAY)
    move(s.d6, contract, contract, "2026-03-12T00:00:00", org.rep, 1 * DAY, "won")
    move(s.d7, q, na, "2026-03-07T00:00:00", org.rep, 6 * DAY)
    move(s.d7, na, na, "2026-03-13T00:00:00", org.rep, 3 * DAY, "lost")
    move(s.d8, q, na, "2026-02-21T00:00:00", org.other_rep, 1 * DAY)
    move(s.d8, prop, prop, "2026-03-20T00:00:00", org.other_rep, None, "lost")
    move(s.d9, neg, neg, "2026-03-11T00:00:00", org.rep_peer, None, "won")

    # Activity in March (and some that must not count).
    def touch(user, kind, when, **kw):
        return Interaction.objects.create(
            user=user,
            kind=kind,
            channel="other",
            occurred_at=at(when),
            subject=f"{kind} {when}",
            **kw,
        )

    s.company_a = company_factory(name="Alfa LLC", owner=org.rep)
    s.company_b = company_factory(name="Beta JSC", owner=org.other_rep)
    s.contact_c = contact_factory(first_name="Clara", last_name="Smirnova", owner=org.rep)
    touch(org.rep, "call", "2026-03-05T10:00:00", company=s.company_a)
    touch(org.rep, "call", "2026-03-06T10:00:00", contact=s.contact_c)
    touch(org.rep, "meeting", "2026-03-07T10:00:00")
    touch(org.rep, "email", "2026-03-08T10:00:00")
    touch(org.rep, "note", "2026-03-09T10:00:00")
    touch(org.rep, "call", "2026-03-20T10:00:00", planned=True)  # planned, not done
    touch(org.rep, "call", "2026-04-01T10:00:00")  # April
    touch(org.rep_peer, "call", "2026-03-10T10:00:00")
    touch(org.other_rep, "email", "2026-03-11T10:00:00")
    touch(
        org.head,
        "task",
        "2026-03-01T10:00:00",
        planned=True,
        assignee=org.rep,
        done=True,
        done_at=at("2026-03-10T12:00:00"),
    )
    touch(
        org.rep_peer,
        "task",
        "2026-03-02T10:00:00",
        planned=True,
        done=True,
        done_at=at("2026-03-11T12:00:00"),
    )
    touch(org.rep, "task", "2026-03-02T10:00:00", planned=True)  # not done

    std, pro, impl = products[0], products[1], products[2]
    s.o1 = _order(
        "O-1",
        org.rep,
        "2026-03-03T10:00:00",
        [(std, D("2"), D("1000"), D("200")), (impl, D("1"), D("3000"), D("0"))],
        company=s.company_a,
    )
    s.o2 = _order(
        "O-2",
        org.other_rep,
        "2026-03-04T10:00:00",
        [(pro, D("1"), D("2000"), D("0"))],
        company=s.company_b,
        status="shipped",
    )
    s.o3 = _order(
        "O-3",
        org.rep,
        "2026-03-05T10:00:00",
        [(std, D("5"), D("1000"), D("0"))],
        company=s.company_a,
        status="cancelled",
    )
    s.o4 = _order(
        "O-4",
        org.rep,
        "2026-03-06T10:00:00",
        [(pro, D("1"), D("100"), D("10"))],
        contact=s.contact_c,
        currency="USD",
        rate=D("90"),
    )
    s.o5 = _order(
        "O-5",
        org.rep,
        "2026-04-02T10:00:00",
        [(std, D("1"), D("1000"), D("0"))],
        company=s.company_a,
    )
    s.products = products
    assert Deal.objects.count() == 9
    return s


MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
FORECAST = {"month_from": "2026-03", "month_to": "2026-05"}
