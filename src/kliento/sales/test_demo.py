"""The sales demo at small scale, on whichever database the suite runs on."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from kliento.core.models import Role, Team, User
from kliento.customers.demo import build_demo
from kliento.customers.models import Contact, Interaction
from kliento.sales.catalog.models import CurrencyRate, PriceList, PriceListItem, Product
from kliento.sales.catalog.money import money
from kliento.sales.deals.models import Deal, DealProduct, Pipeline, Stage, StageChange
from kliento.sales.demo import (
    BOARD_PIPELINE,
    QUOTES_MAX,
    build_sales_demo,
    line_amounts,
    sales_demo_wipe,
)
from kliento.sales.leads.models import AssignmentRule, Lead, LeadStatus, ScoringRule, WebForm
from kliento.sales.orders.models import Order, OrderLine, OrderStatus
from kliento.sales.plans.models import SalesTarget
from kliento.sales.quotes.models import Quote, QuoteLine

PASSWORD = "demo-password-1"
CONTACTS = 300
NOW = dt.datetime(2026, 6, 15, 12, 30, tzinfo=dt.UTC)


@pytest.fixture
def frozen_now(monkeypatch):
    """Both demos place their rows relative to now; a fixed now makes runs comparable."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def _demo(seed: int = 5, *args: str) -> str:
    out = StringIO()
    call_command(
        "demo", f"--contacts={CONTACTS}", f"--seed={seed}", f"--password={PASSWORD}", *args,
        stdout=out, skip_checks=True,
    )  # fmt: skip
    return out.getvalue()


def _snapshot() -> dict[str, list]:
    def rows(model, *fields):
        return list(model.objects.order_by("id").values_list("id", *fields))

    return {
        "products": rows(Product, "sku", "name", "cost", "tax_rate", "active"),
        "prices": rows(PriceListItem, "price_list__name", "product__sku", "price"),
        "rates": rows(CurrencyRate, "currency", "rate", "valid_from"),
        "deals": rows(Deal, "name", "pipeline__name", "stage__name", "status", "amount",
                      "currency", "amount_company", "contact_id", "owner__username",
                      "expected_close", "created_at", "closed_at"),
        "deal_products": rows(DealProduct, "deal_id", "product__sku", "quantity", "price"),
        "stage_changes": rows(StageChange, "deal_id", "from_stage__name", "to_stage__name",
                              "status", "at", "seconds_in_from", "user__username"),
        "orders": rows(Order, "number", "status", "ordered_at", "contact_id", "deal_id",
                       "quote_id", "currency", "total", "revenue_company", "margin_company"),
        "lines": rows(OrderLine, "order_id", "product__sku", "quantity", "price", "discount",
                      "tax", "net"),
        "leads": rows(Lead, "first_name", "last_name", "email", "status", "score",
                      "owner__username", "deal_id", "created_at"),
        "quotes": rows(Quote, "number", "revision", "status", "total", "token"),
        "quote_lines": rows(QuoteLine, "quote_id", "product__sku", "net", "tax"),
        "targets": rows(SalesTarget, "period_kind", "period_start", "team__name",
                        "user__username", "amount", "forecast", "parent_id"),
        "interactions": list(
            Interaction.objects.filter(related_type__in=["deal", "order", "quote"])
            .order_by("id")
            .values_list("related_type", "related_id", "subject", "occurred_at", "contact_id")
        ),
    }  # fmt: skip


@pytest.mark.django_db
def test_same_seed_gives_identical_sales_rows(frozen_now):
    _demo(seed=5)
    first = _snapshot()

    _demo(5, "--reset")

    assert _snapshot() == first
    assert len(first["deals"]) > 0 and len(first["orders"]) > 0


@pytest.mark.django_db
def test_another_seed_gives_other_deals(frozen_now):
    _demo(seed=5)
    first = _snapshot()["deals"]

    _demo(6, "--reset")

    assert _snapshot()["deals"] != first


@pytest.mark.django_db
def test_command_reports_the_sales_side():
    output = _demo()

    assert f"Sales: {Deal.objects.count():,} deals" in output
    assert f"{Order.objects.count():,} orders" in output


@pytest.mark.django_db
def test_reference_data():
    _demo()

    assert Product.objects.count() >= 190
    assert set(Product.objects.values_list("tax_rate", flat=True)) == {
        Decimal("0.00"),
        Decimal("10.00"),
        Decimal("20.00"),
    }
    today = timezone.localdate()
    lists = {p.currency: p for p in PriceList.objects.all() if p.currency != "RUB"}
    assert {p.currency for p in PriceList.objects.all()} == {"RUB", "USD", "EUR"}
    assert PriceList.objects.filter(currency="RUB").count() == 2
    assert not lists["EUR"].is_valid_on(today) and lists["USD"].is_valid_on(today)
    assert PriceList.objects.get(is_default=True).currency == "RUB"
    assert PriceListItem.objects.count() == 4 * Product.objects.count()
    assert set(CurrencyRate.objects.values_list("currency", flat=True)) == {"USD", "EUR"}
    assert [p.name for p in Pipeline.objects.order_by("position")][1] == BOARD_PIPELINE
    assert Stage.objects.filter(expected_days__isnull=True).count() == 0
    assert WebForm.objects.count() == 2
    assert set(AssignmentRule.objects.values_list("kind", flat=True)) == {
        "territory",
        "round_robin",
        "load",
        "fixed",
    }
    assert ScoringRule.objects.count() == 7


@pytest.mark.django_db
def test_order_totals_are_the_exact_sum_of_their_lines():
    _demo()
    rates = defaultdict(list)
    for currency, day, rate in CurrencyRate.objects.order_by("valid_from").values_list(
        "currency", "valid_from", "rate"
    ):
        rates[currency].append((day, rate))
    lines = defaultdict(list)
    for line in OrderLine.objects.all():
        lines[line.order_id].append(line)

    orders = list(Order.objects.all())
    for order in orders:
        mine = lines[order.pk]
        assert 1 <= len(mine) <= 3
        for line in mine:
            assert line.net == money(line.quantity * line.price) - line.discount
            assert line.tax == money(line.net * line.tax_rate / 100)
        assert order.subtotal == sum(money(ln.quantity * ln.price) for ln in mine)
        assert order.discount_total == sum(ln.discount for ln in mine)
        assert order.tax_total == sum(ln.tax for ln in mine)
        assert order.total == order.subtotal - order.discount_total + order.tax_total
        rate = Decimal(1)
        if order.currency != "RUB":
            day = order.ordered_at.date()
            rate = [r for d, r in rates[order.currency] if d <= day][-1]
        for line in mine:
            assert line.revenue_company == money(line.net * rate)
        assert order.revenue_company == sum(ln.revenue_company for ln in mine)
        assert order.cost_company == sum(money(ln.quantity * ln.cost) for ln in mine)
        assert order.margin_company == order.revenue_company - order.cost_company
    assert len(orders) > 0


def test_line_amounts_round_like_money():
    # 3 × 333.33 with 5 % off: 49.9995 → 50.00; VAT 20 % of 949.99 = 189.998 → 190.00.
    assert line_amounts(3, 33333, 5, 2000) == (5000, 94999, 19000)
    assert money(Decimal("999.99") * Decimal("0.05")) == Decimal("50.00")


@pytest.mark.django_db
def test_deal_stage_history_ends_in_the_deals_stage():
    _demo()
    history = defaultdict(list)
    for change in StageChange.objects.order_by("at", "id"):
        history[change.deal_id].append(change)

    deals = list(Deal.objects.select_related("stage"))
    for deal in deals:
        changes = history[deal.pk]
        assert changes[0].from_stage_id is None
        assert (
            changes[0].to_stage_id
            == Stage.objects.filter(pipeline=deal.pipeline_id)
            .order_by("position")
            .values_list("id", flat=True)
            .first()
        )
        assert changes[0].at == deal.created_at
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage_id == before.to_stage_id
            assert after.at > before.at
            assert after.seconds_in_from == (after.at - before.at).total_seconds()
            assert before.status == "open"
        assert all(c.pipeline_id == deal.pipeline_id for c in changes)
        assert changes[-1].to_stage_id == deal.stage_id
        assert changes[-1].status == deal.status
        if deal.status == "open":
            assert deal.closed_at is None and deal.stage_entered_at == changes[-1].at
        else:
            assert deal.closed_at == changes[-1].at
            assert (deal.loss_reason_id is not None) == (deal.status == "lost")
        assert deal.amount == sum(money(p.quantity * p.price) for p in deal.products.all())
    assert {d.status for d in deals} == {"open", "won", "lost"}


@pytest.mark.django_db
def test_counts_come_in_the_expected_ratios():
    _demo()
    contacts = Contact.objects.count()

    deals = Deal.objects.count()
    orders = Order.objects.count()
    assert 0.2 * contacts <= deals <= 0.4 * contacts
    assert 2.4 * contacts <= orders <= 3.6 * contacts
    statuses = Counter(Order.objects.values_list("status", flat=True))
    assert set(statuses) == set(OrderStatus.values)
    assert statuses["shipped"] + statuses["paid"] > 0.75 * orders
    span = Order.objects.order_by("ordered_at").values_list("ordered_at", flat=True)
    assert (span.last() - span.first()).days > 2 * 365
    assert set(Lead.objects.values_list("status", flat=True)) == set(LeadStatus.values)
    converted = Lead.objects.filter(status=LeadStatus.CONVERTED)
    assert not converted.filter(deal=None).exists() and not converted.filter(contact=None).exists()
    assert 0 < Quote.objects.count() <= QUOTES_MAX
    assert Interaction.objects.filter(related_type="deal").count() < StageChange.objects.count()


@pytest.mark.django_db
def test_won_deals_become_orders_and_accepted_quotes_link_them():
    _demo()

    won = Deal.objects.filter(status="won")
    assert set(Order.objects.exclude(deal=None).values_list("deal_id", flat=True)) == set(
        won.values_list("id", flat=True)
    )
    for quote in Quote.objects.filter(status="accepted"):
        assert quote.order.deal_id == quote.deal_id
    for quote in Quote.objects.all():
        lines = list(quote.lines.all())
        assert quote.subtotal == sum(money(ln.quantity * ln.price) for ln in lines)
        assert quote.discount_total == sum(ln.discount_amount for ln in lines)
        assert quote.total == quote.subtotal - quote.discount_total + quote.tax_total
        assert quote.tax_total == sum(ln.tax for ln in lines)


@pytest.mark.django_db
def test_targets_cascade_from_company_to_reps():
    _demo()
    year = timezone.localdate().year
    targets = list(SalesTarget.objects.select_related("team"))
    root = Team.objects.get(name="Vostok Trading", parent=None)

    by_parent = defaultdict(list)
    for t in targets:
        by_parent[t.parent_id].append(t)
        assert t.period_start.year == year
    top = [t for t in targets if t.parent_id is None]
    assert {t.team_id for t in top} == {root.pk}
    assert Counter(t.period_kind for t in top) == {"year": 1, "quarter": 4, "month": 12}
    for t in targets:
        children = by_parent[t.pk]
        if children:
            assert t.amount == sum(c.amount for c in children)
    reps = set(User.objects.filter(role=Role.REP).values_list("id", flat=True))
    assert {t.user_id for t in targets if t.user_id} == reps
    year_total = next(t.amount for t in top if t.period_kind == "year")
    assert year_total == sum(t.amount for t in top if t.period_kind == "month")


@pytest.mark.django_db
def test_bulk_path_rebuilds_indexes_and_keeps_rows_valid():
    def index_names() -> set[str]:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'deals_%%' "
                    "OR tablename LIKE 'orders_%%' OR tablename LIKE 'leads_%%'"
                )
            else:
                cursor.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND (tbl_name LIKE "
                    "'deals_%' OR tbl_name LIKE 'orders_%' OR tbl_name LIKE 'leads_%')"
                )
            return {row[0] for row in cursor.fetchall()}

    before = index_names()
    build_demo(contacts=CONTACTS, seed=3, password=PASSWORD, log=lambda m: None)

    result = build_sales_demo(seed=3, bulk=True, log=lambda m: None)

    assert index_names() == before
    connection.check_constraints()
    assert result.deals == Deal.objects.count()
    assert result.orders == Order.objects.count()
    assert result.order_lines == OrderLine.objects.count()
    timeline = Interaction.objects.filter(related_type__in=["deal", "order", "quote"])
    assert result.interactions == timeline.count() > 0
    assert (
        result.board_open_deals
        == Deal.objects.filter(pipeline__name=BOARD_PIPELINE, status="open").count()
    )
    new = Deal.objects.create(
        name="After the load", pipeline_id=result.board_pipeline_id,
        stage=Stage.objects.filter(pipeline_id=result.board_pipeline_id).first(),
        currency="RUB", owner=User.objects.filter(role=Role.REP).first(),
    )  # fmt: skip
    assert new.pk > Deal.objects.exclude(pk=new.pk).order_by("-id").first().pk


@pytest.mark.django_db
def test_wipe_removes_every_sales_row():
    _demo()

    sales_demo_wipe(log=lambda m: None)

    assert not Deal.objects.exists() and not Order.objects.exists()
    assert not Product.objects.exists() and not Lead.objects.exists()
    assert not Interaction.objects.filter(related_type__in=["deal", "order", "quote"]).exists()
    assert Contact.objects.count() == CONTACTS
