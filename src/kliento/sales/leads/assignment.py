"""Who gets a new lead: the admin's assignment rules, tried in order, first match wins.
When none matches, a lead someone entered stays theirs; a web-form capture goes to the form's
owner, else the first administrator.

A rule that picks among people (round-robin, load) is locked before it reads its pointer or the
open-lead counts, so concurrent captures take turns instead of sharing or skipping one.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.utils.translation import gettext as _

from kliento.core.errors import ConflictError
from kliento.core.models import Role, Team, User
from kliento.sales.leads.models import OPEN_STATUSES, AssignmentRule, Lead, WebForm


def _candidates(team: Team | None) -> list[User]:
    """Active members of a team and its sub-teams who can own leads, in a fixed order."""
    if team is None:
        return []
    team_ids = Team.objects.filter(path__startswith=team.path).values("id")
    return list(
        User.objects.filter(team_id__in=team_ids, is_active=True)
        .exclude(role=Role.ANALYST)
        .order_by("id")
    )


def _rule_matches(rule: AssignmentRule, values: dict[str, Any], web_form_id: int | None) -> bool:
    def within(value: str, options: list) -> bool:
        wanted = {str(o).strip().casefold() for o in options if str(o).strip()}
        return not wanted or (value or "").strip().casefold() in wanted

    if rule.web_form_id and rule.web_form_id != web_form_id:
        return False
    if rule.sources and values.get("source") not in rule.sources:
        return False
    if rule.kind == AssignmentRule.Kind.TERRITORY and not (rule.regions or rule.cities):
        return False
    if rule.regions and rule.cities:
        # A territory is a list of regions and cities: either one places the lead in it.
        return within(values.get("region", ""), rule.regions) or within(
            values.get("city", ""), rule.cities
        )
    return within(values.get("region", ""), rule.regions) and within(
        values.get("city", ""), rule.cities
    )


def _next_in_turn(rule: AssignmentRule, members: list[User]) -> User:
    ids = [m.pk for m in members]
    if rule.last_user_id in ids:
        chosen = members[(ids.index(rule.last_user_id) + 1) % len(members)]
    else:
        later = [m for m in members if rule.last_user_id and m.pk > rule.last_user_id]
        chosen = later[0] if later else members[0]
    rule.last_user = chosen
    rule.save(update_fields=["last_user"])
    return chosen


def _least_loaded(members: list[User]) -> User:
    loads = dict(
        Lead.objects.filter(owner__in=members, status__in=OPEN_STATUSES)
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    return min(members, key=lambda m: (loads.get(m.pk, 0), m.pk))


def owner_by_rules(
    values: dict[str, Any], web_form: WebForm | None
) -> tuple[User, AssignmentRule] | None:
    """The owner of a new lead by the first matching rule (None when no rule places it); call
    inside the lead's transaction.

    A rule that picks among people (round-robin, load) is locked first, so concurrent captures
    take turns: each sees the pointer and the open-lead counts the previous one committed.
    """
    web_form_id = web_form.pk if web_form else None
    for rule in AssignmentRule.objects.filter(active=True).order_by("position", "id"):
        if not _rule_matches(rule, values, web_form_id):
            continue
        if rule.kind == AssignmentRule.Kind.FIXED or (
            rule.kind == AssignmentRule.Kind.TERRITORY and rule.user_id
        ):
            owner = User.objects.filter(pk=rule.user_id, is_active=True).first()
            if owner is not None:
                return owner, rule
            continue
        rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
        members = _candidates(rule.team)
        if not members:
            continue
        if rule.kind == AssignmentRule.Kind.LOAD:
            return _least_loaded(members), rule
        return _next_in_turn(rule, members), rule
    return None


def assign_owner(
    values: dict[str, Any], web_form: WebForm | None
) -> tuple[User, AssignmentRule | None]:
    """The owner of a lead nobody entered (a web-form capture): the first matching rule, else
    the form's owner when no rule matches, else the first active administrator."""
    found = owner_by_rules(values, web_form)
    if found is not None:
        return found
    if web_form is not None and web_form.default_owner_id:
        owner = User.objects.filter(pk=web_form.default_owner_id, is_active=True).first()
        if owner is not None:
            return owner, None
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    if admin is None:
        raise ConflictError(_("No active administrator to receive unassigned leads."))
    return admin, None
