"""Reading leads: what a user may see, the filtered and sorted list, one lead's timeline."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from kliento.core.models import Role, User
from kliento.core.permissions import can_read, can_write, record_q, scope_for
from kliento.customers.models import Channel, Interaction
from kliento.customers.selectors import Page, keyset_page, parse_id
from kliento.sales.leads.models import (
    AssignmentRule,
    Lead,
    LeadSource,
    LeadStatus,
    ScoringRule,
    WebForm,
)

LEAD_SORTS = {
    "score": [("score", True, "int"), ("id", True, "int")],
    "created": [("created_at", True, "dt"), ("id", True, "int")],
    "name": [
        ("last_name", False, "str"),
        ("first_name", False, "str"),
        ("company_name", False, "str"),
        ("id", False, "int"),
    ],
}
LEAD_FILTERS = {
    "q",
    "status",
    "owner_id",
    "source",
    "campaign",
    "channel",
    "web_form_id",
    "open",
}
# "open" is a status filter too: the list a rep works from.
OPEN = "open"


def lead_qs(user: User, *, for_write: bool = False) -> QuerySet[Lead]:
    q = record_q(user, "lead", for_write=for_write)
    qs = Lead.objects.all()
    return qs.filter(q) if q is not None else qs


def lead_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> Lead:
    """The one gate to a lead: hidden or missing → 404, visible but read-only → 403."""
    lead_id = parse_id(pk)
    lead = (
        Lead.objects.select_related("owner", "web_form", "contact", "company", "deal")
        .filter(pk=lead_id)
        .first()
        if lead_id
        else None
    )
    if lead is None or not can_read(user, "lead", lead):
        raise NotFoundError(_("No lead with id %(id)s.") % {"id": pk})
    if for_write and not can_write(user, "lead", lead):
        raise PermissionDeniedError(_("You can view this lead but not change it."))
    return lead


def _sort_fields(sort: str) -> list[tuple[str, bool, str]]:
    sort = sort or "-created"
    # Score and created read best highest/newest first; "-" flips the natural direction.
    flip = sort.startswith("-")
    base = LEAD_SORTS.get(sort.lstrip("-"))
    if base is None:
        allowed = ", ".join(f"{k}, -{k}" for k in LEAD_SORTS)
        raise ValidationFailedError(
            _("Invalid filters."),
            fields={
                "sort": _("Unknown sort %(sort)s; use one of %(allowed)s.")
                % {"sort": repr(sort), "allowed": allowed}
            },
        )
    key = sort.lstrip("-")
    natural_desc = key in {"score", "created"}
    descending = natural_desc != flip if key != "name" else flip
    return [(name, descending, kind) for name, _d, kind in base]


def lead_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    sort: str = "-created",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Leads the user sees, filtered; sort "score" (highest first), "created" (newest
    first) or "name" (A→Z); a leading "-" reverses each."""
    filters = dict(filters or {})
    fields = _sort_fields(sort)
    qs = lead_qs(user)
    errors: dict[str, str] = {}
    for key, raw in filters.items():
        if raw in (None, "") or key in {"sort", "cursor", "limit"}:
            continue
        raw = str(raw).strip()
        if key not in LEAD_FILTERS:
            errors[key] = _("Unknown filter.")
        elif key == "status":
            if raw == OPEN:
                qs = qs.filter(
                    status__in=[LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED]
                )
            elif raw not in LeadStatus.values:
                errors[key] = _("Unknown status; use one of %(allowed)s.") % {
                    "allowed": ", ".join([OPEN, *LeadStatus.values])
                }
            else:
                qs = qs.filter(status=raw)
        elif key == "source":
            if raw not in LeadSource.values:
                errors[key] = _("Unknown source; use one of %(allowed)s.") % {
                    "allowed": ", ".join(LeadSource.values)
                }
            else:
                qs = qs.filter(source=raw)
        elif key == "channel":
            if raw not in Channel.values:
                errors[key] = _("Unknown channel.")
            else:
                qs = qs.filter(channel=raw)
        elif key in {"owner_id", "web_form_id"}:
            value = parse_id(raw)
            if value is None:
                errors[key] = _("Expected an id.")
            else:
                qs = qs.filter(**{key: value})
        elif key == "campaign":
            qs = qs.filter(Q(campaign__iexact=raw) | Q(utm_campaign__iexact=raw))
        elif key == "q":
            qs = qs.filter(_text_q(raw))
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    return keyset_page(qs.prefetch_related("owner"), fields, cursor, limit)


def _text_q(raw: str) -> Q:
    q = (
        Q(first_name__istartswith=raw)
        | Q(last_name__istartswith=raw)
        | Q(company_name__icontains=raw)
        | Q(email__istartswith=raw.lower())
    )
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) >= 3:
        q |= Q(phone__contains=digits)
    parts = raw.split()
    if len(parts) == 2:
        q |= Q(first_name__iexact=parts[0], last_name__istartswith=parts[1])
        q |= Q(last_name__iexact=parts[0], first_name__istartswith=parts[1])
    return q


def lead_timeline(*, lead: Lead, limit: int = 100) -> list[Interaction]:
    """The lead's interactions, newest first; call after the lead's gate."""
    return list(
        Interaction.objects.filter(related_type="lead", related_id=lead.pk)
        .select_related("user", "assignee", "contact", "company")
        .order_by("-occurred_at", "-id")[:limit]
    )


def lead_campaigns(user: User, limit: int = 50) -> list[str]:
    """Campaign names on visible leads, for the list filter."""
    return list(
        lead_qs(user)
        .exclude(campaign="")
        .order_by("campaign")
        .values_list("campaign", flat=True)
        .distinct()[:limit]
    )


def distribution_targets(user: User) -> list[User]:
    """The reps and heads a head (their team) or an administrator (anyone) may give leads to."""
    scope = scope_for(user)
    qs = User.objects.filter(is_active=True, role__in=[Role.REP, Role.HEAD])
    if not scope.write_all:
        qs = qs.filter(pk__in=scope.owner_ids)
    return list(qs.order_by("first_name", "last_name", "username"))


def can_distribute(user: User) -> bool:
    return user.is_active and user.role in {Role.ADMIN, Role.HEAD}


def open_lead_counts(user_ids) -> dict[int, int]:
    return dict(
        Lead.objects.filter(
            owner_id__in=list(user_ids),
            status__in=[LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED],
        )
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )


def web_form_by_key(key: str) -> WebForm:
    """An active form by its public key; unknown or inactive → 404."""
    form = WebForm.objects.filter(key=str(key)[:32], active=True).first()
    if form is None:
        raise NotFoundError(_("This form is not available."))
    return form


def web_form_list() -> list[WebForm]:
    return list(
        WebForm.objects.select_related("default_owner")
        .annotate(lead_count=Count("leads"))
        .order_by("name", "id")
    )


def assignment_rule_list() -> list[AssignmentRule]:
    return list(
        AssignmentRule.objects.select_related("team", "user", "web_form", "last_user").order_by(
            "position", "id"
        )
    )


def scoring_rule_list() -> list[ScoringRule]:
    return list(ScoringRule.objects.order_by("position", "id"))
