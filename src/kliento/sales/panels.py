"""The sales panels on a contact's or company's page: their deals, leads and orders.

Registered with kliento.core.panels from DealsConfig.ready(); each panel applies the
viewer's visibility (record_q) before it counts or lists anything.
"""

from __future__ import annotations

from django.db.models import Count, Q, Sum

from kliento.core import panels
from kliento.core.permissions import record_q

LIMIT = 8


def _visible(qs, user, entity: str):
    # One customer's records are few: the share clause costs nothing there, and leaving out
    # the "has this user any shares?" probe saves a query per panel.
    q = record_q(user, entity, probe_shares=False)
    return qs.filter(q) if q is not None else qs


def _deals_summary(deals) -> dict:
    """The aggregate below, from the deals themselves when the panel already holds them all."""
    from kliento.sales.deals.models import DealStatus

    def amounts(status):
        values = [d.amount_company for d in deals if d.status == status]
        return len(values), (sum(values[1:], values[0]) if values else None)

    open_count, open_amount = amounts(DealStatus.OPEN)
    won_count, won_amount = amounts(DealStatus.WON)
    return {
        "open_count": open_count,
        "open_amount": open_amount,
        "won_count": won_count,
        "won_amount": won_amount,
        "total": len(deals),
    }


def deals_panel(user, entity: str, obj):
    from kliento.sales.deals.models import Deal, DealStatus

    qs = _visible(Deal.objects.filter(**{entity: obj}), user, "deal")
    deals = list(
        qs.select_related("stage", "owner").order_by("status", "-updated_at", "-id")[: LIMIT + 1]
    )
    if len(deals) <= LIMIT:
        # Most customers have a few deals: all of them are here, so no aggregate query.
        summary = _deals_summary(deals)
    else:
        deals = deals[:LIMIT]
        summary = qs.aggregate(
            open_count=Count("id", filter=Q(status=DealStatus.OPEN)),
            open_amount=Sum("amount_company", filter=Q(status=DealStatus.OPEN)),
            won_count=Count("id", filter=Q(status=DealStatus.WON)),
            won_amount=Sum("amount_company", filter=Q(status=DealStatus.WON)),
            total=Count("id"),
        )
    if summary["open_amount"] or summary["won_amount"]:
        from kliento.sales.catalog.money import company_currency

        summary["currency"] = company_currency()  # the amounts are in the company currency
    return {
        "template": "sales/_customer_deals.html",
        "deals": deals,
        "deals_summary": summary,
        "deals_more": max(summary["total"] - len(deals), 0),
    }


def leads_panel(user, entity: str, obj):
    from kliento.sales.leads.models import Lead

    qs = _visible(Lead.objects.filter(**{entity: obj}), user, "lead")
    leads = list(qs.order_by("-created_at", "-id")[:LIMIT])
    if not leads:
        return None
    return {"template": "sales/_customer_leads.html", "leads": leads}


def orders_panel(user, entity: str, obj):
    from kliento.sales.catalog.money import company_currency
    from kliento.sales.orders.selectors import orders_for_customer

    orders = orders_for_customer(user=user, **{entity: obj}, limit=LIMIT)
    return {
        "template": "orders/partials/_customer_orders.html",
        "customer_orders": orders,
        # Shown beside the revenue only: a customer without orders needs no settings lookup.
        "order_currency": company_currency() if orders["count"] else "",
    }


def register() -> None:
    panels.register(deals_panel, order=10)
    panels.register(orders_panel, order=20)
    panels.register(leads_panel, order=30)
