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
    q = record_q(user, entity)
    return qs.filter(q) if q is not None else qs


def deals_panel(user, entity: str, obj):
    from kliento.sales.deals.models import Deal, DealStatus

    qs = _visible(Deal.objects.filter(**{entity: obj}), user, "deal")
    summary = qs.aggregate(
        open_count=Count("id", filter=Q(status=DealStatus.OPEN)),
        open_amount=Sum("amount_company", filter=Q(status=DealStatus.OPEN)),
        won_count=Count("id", filter=Q(status=DealStatus.WON)),
        won_amount=Sum("amount_company", filter=Q(status=DealStatus.WON)),
        total=Count("id"),
    )
    deals = list(
        qs.select_related("stage", "owner").order_by("status", "-updated_at", "-id")[:LIMIT]
    )
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

    return {
        "template": "orders/partials/_customer_orders.html",
        "customer_orders": orders_for_customer(user=user, **{entity: obj}, limit=LIMIT),
        "order_currency": company_currency(),
    }


def register() -> None:
    panels.register(deals_panel, order=10)
    panels.register(orders_panel, order=20)
    panels.register(leads_panel, order=30)
