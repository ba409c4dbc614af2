"""Lead score: the points of every active scoring rule the lead meets."""

from __future__ import annotations

from django.db.models import QuerySet

from kliento.customers.models import Interaction
from kliento.sales.leads.models import OPEN_STATUSES, Lead, ScoringRule


def lead_interactions(lead: Lead) -> QuerySet[Interaction]:
    """Everything logged on the lead (it keeps related_type "lead" after conversion)."""
    return Interaction.objects.filter(related_type="lead", related_id=lead.pk)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def score_breakdown(*, lead: Lead, rules: list[ScoringRule] | None = None) -> list[dict]:
    """Each active rule with whether it holds for the lead and the points it gives."""
    rules = (
        rules
        if rules is not None
        else list(ScoringRule.objects.filter(active=True).order_by("position", "id"))
    )
    count = kinds = None
    rows = []
    for rule in rules:
        value = (rule.value or "").strip()
        if rule.kind == ScoringRule.Kind.FIELD_FILLED:
            holds = bool(str(getattr(lead, rule.field, "") or "").strip())
        elif rule.kind == ScoringRule.Kind.FIELD_EQUALS:
            holds = str(getattr(lead, rule.field, "") or "").strip().casefold() == value.casefold()
        elif rule.kind == ScoringRule.Kind.SOURCE:
            holds = lead.source == value
        elif rule.kind == ScoringRule.Kind.INTERACTIONS:
            if count is None:
                count = lead_interactions(lead).filter(planned=False).count() if lead.pk else 0
            holds = count >= _int(value)
        else:
            if kinds is None:
                kinds = (
                    set(lead_interactions(lead).values_list("kind", flat=True))
                    if lead.pk
                    else set()
                )
            holds = value in kinds
        rows.append({"rule": rule, "holds": holds, "points": rule.points if holds else 0})
    return rows


def lead_score_refresh(*, lead: Lead) -> int:
    score = sum(row["points"] for row in score_breakdown(lead=lead))
    if score != lead.score:
        Lead.objects.filter(pk=lead.pk).update(score=score)
        lead.score = score
    return score


def scores_recompute_all() -> int:
    """Re-score every open lead (after the rules change); returns how many changed."""
    rules = list(ScoringRule.objects.filter(active=True).order_by("position", "id"))
    changed = 0
    for lead in Lead.objects.filter(status__in=OPEN_STATUSES).iterator(chunk_size=500):
        score = sum(row["points"] for row in score_breakdown(lead=lead, rules=rules))
        if score != lead.score:
            Lead.objects.filter(pk=lead.pk).update(score=score)
            changed += 1
    return changed
