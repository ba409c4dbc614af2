"""Every change to sales plans: setting targets, cascading them down, reps' adjustments and
forecasts. Amounts are exact: a cascade's shares always add up to the parent's amount.

Who may do what: an admin anywhere and a head within their team's subtree set targets and
cascade them; a rep adjusts their own target (marked `adjusted`) and enters their own forecast;
analysts change nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.errors import (
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, Role, Team, User
from kliento.core.services import audit_diff, audit_record
from kliento.sales.catalog.models import MAX_MONEY
from kliento.sales.plans.models import CascadeMethod, SalesTarget
from kliento.sales.plans.selectors import (
    ZERO,
    OrgChart,
    actual_by_user,
    manages_team,
    manages_user,
    node_actual,
    parse_period,
    period_end,
)

CENT = Decimal("0.01")
# MAX_MONEY cut to whole units: the bound targets have always had.
MAX_AMOUNT = MAX_MONEY.to_integral_value(rounding=ROUND_DOWN)
DEPTHS = ("one", "all")


# --- exact splitting --------------------------------------------------------------------------


def split_exact(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Shares of `amount` proportional to `weights`, in cents, adding up exactly.

    Each share is rounded down; the residue (a few cents) goes to the largest share. All-zero
    weights split evenly.
    """
    if not weights:
        return []
    total = sum(weights, Decimal("0"))
    if total <= 0:
        weights, total = [Decimal("1")] * len(weights), Decimal(len(weights))
    shares = [(amount * w / total).quantize(CENT, rounding=ROUND_DOWN) for w in weights]
    residue = amount - sum(shares, ZERO)
    if residue:
        largest = max(range(len(shares)), key=lambda i: (shares[i], -i))
        shares[largest] += residue
    return shares


# --- helpers ----------------------------------------------------------------------------------


def _amount(raw: Any, field: str, errors: dict[str, str]) -> Decimal | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        errors[field] = _("Expected an amount.")
        return None
    try:
        value = Decimal(str(raw).strip().replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except (InvalidOperation, ValueError):
        errors[field] = _("Expected an amount.")
        return None
    if not value.is_finite():
        errors[field] = _("Expected an amount.")
    elif value < 0:
        errors[field] = _("Can't be negative.")
    elif value > MAX_AMOUNT or -value.as_tuple()[2] > 2:
        errors[field] = _("Too large or more than 2 decimals.")
    else:
        return value.quantize(CENT)
    return None


def _check_version(target: SalesTarget, expected_version: int | None) -> None:
    if expected_version is not None and target.version != expected_version:
        raise StaleVersionError(
            _(
                "This target was changed by someone else (now version %(current)s, "
                "you had %(expected)s). Reload it and apply your change again."
            )
            % {"current": target.version, "expected": expected_version}
        )


def _may_manage(user: User, target: SalesTarget) -> bool:
    if target.team_id:
        return manages_team(user, target.team)
    return manages_user(user, target.user)


def _require_writer(user: User) -> None:
    if not user.is_active or user.role == Role.ANALYST:
        raise PermissionDeniedError(_("Your role can view plans but not change them."))


def _audit(user: User, target: SalesTarget, action: str, changes: dict) -> None:
    audit_record(user=user, action=action, entity="sales_target", obj=target, changes=changes)


def _snapshot(target: SalesTarget) -> dict[str, Any]:
    return {
        "amount": target.amount,
        "forecast": target.forecast,
        "note": target.note,
        "adjusted": target.adjusted,
        "method": target.method,
    }


# --- set, update, delete ----------------------------------------------------------------------


@transaction.atomic
def target_set(
    *,
    user: User,
    period_kind: str,
    period_start: Any,
    metric: str,
    amount: Any,
    team: Team | None = None,
    target_user: User | None = None,
    note: str = "",
) -> SalesTarget:
    """Create or replace the target of a team or a user for a period (heads and admins)."""
    _require_writer(user)
    errors: dict[str, str] = {}
    kind, start, metric = parse_period(period_kind, period_start, metric, errors)
    if (team is None) == (target_user is None):
        errors["team"] = _("Set the target for a team or for a user (exactly one).")
    value = _amount(amount, "amount", errors)
    if value is None and "amount" not in errors:
        errors["amount"] = _("Enter the target amount.")
    note = (note or "").strip()
    if len(note) > 500:
        errors["note"] = _("At most %(n)s characters.") % {"n": 500}
    if errors:
        raise ValidationFailedError(fields=errors)
    allowed = manages_team(user, team) if team else manages_user(user, target_user)
    if not allowed:
        raise PermissionDeniedError(
            _("Only an administrator, or the head of this part of the company, sets its target.")
        )
    return _upsert(
        user=user,
        kind=kind,
        start=start,
        metric=metric,
        team=team,
        target_user=target_user,
        amount=value,
        note=note,
    )


def _upsert(
    *,
    user: User,
    kind: str,
    start: dt.date,
    metric: str,
    team: Team | None,
    target_user: User | None,
    amount: Decimal,
    note: str = "",
    parent: SalesTarget | None = None,
    method: str = CascadeMethod.MANUAL,
    weight: Decimal | None = None,
) -> SalesTarget:
    lookup = {"period_kind": kind, "period_start": start, "metric": metric}
    lookup.update({"team": team} if team else {"user": target_user})
    target = SalesTarget.objects.select_for_update().filter(**lookup).first()
    now = timezone.now()
    if target is None:
        target = SalesTarget(
            **lookup,
            amount=amount,
            note=note,
            parent=parent,
            method=method,
            weight=weight,
            set_by=user,
        )
        try:
            with transaction.atomic():
                target.save()
        except IntegrityError:
            # Someone created it a moment ago: update theirs instead.
            target = SalesTarget.objects.select_for_update().get(**lookup)
        else:
            _audit(user, target, AuditLog.Action.CREATE, {"amount": [None, str(amount)]})
            return target
    before = _snapshot(target)
    target.amount = amount
    target.adjusted = False
    target.method = method
    target.parent = parent
    target.weight = weight
    if note or parent is None:
        target.note = note
    target.set_by = user
    target.version += 1
    target.updated_at = now
    target.save()
    changes = audit_diff(before, _snapshot(target))
    if changes:
        _audit(user, target, AuditLog.Action.UPDATE, changes)
    return target


@transaction.atomic
def target_update(
    *,
    user: User,
    target: SalesTarget,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> SalesTarget:
    """Change amount, forecast or note.

    A manager (head of the subtree, admin) sets the amount; the rep it belongs to may adjust
    their own amount (marked adjusted) and enter their forecast. Team forecasts roll up.
    """
    _require_writer(user)
    errors: dict[str, str] = {}
    for key in sorted(set(data) - {"amount", "forecast", "note"}):
        errors[key] = _("Unknown field.")
    if errors:
        raise ValidationFailedError(fields=errors)
    target = (
        SalesTarget.objects.select_for_update(of=("self",))
        .select_related("team", "user")
        .get(pk=target.pk)
    )
    _check_version(target, expected_version)
    manager = _may_manage(user, target)
    own = target.user_id == user.pk
    if not (manager or own):
        raise PermissionDeniedError(_("You can view this target but not change it."))
    if "forecast" in data and target.team_id:
        errors["forecast"] = _("A team's forecast is the sum of its members' forecasts.")
    before = _snapshot(target)
    if "amount" in data:
        value = _amount(data["amount"], "amount", errors)
        if value is None and "amount" not in errors:
            errors["amount"] = _("Enter the target amount.")
        if value is not None:
            if value != target.amount:
                # A rep changing their own target is an adjustment the head should see.
                target.adjusted = own and not (manager and user.role != Role.REP)
                if not target.adjusted:
                    target.method = CascadeMethod.MANUAL
            target.amount = value
    if "forecast" in data and not target.team_id:
        target.forecast = _amount(data["forecast"], "forecast", errors)
    if "note" in data:
        note = str(data["note"] or "").strip()
        if len(note) > 500:
            errors["note"] = _("At most %(n)s characters.") % {"n": 500}
        target.note = note
    if errors:
        raise ValidationFailedError(fields=errors)
    changes = audit_diff(before, _snapshot(target))
    if not changes:
        return target
    target.version += 1
    target.updated_at = timezone.now()
    target.save()
    _audit(user, target, AuditLog.Action.UPDATE, changes)
    return target


@transaction.atomic
def forecast_set(
    *, user: User, period_kind: str, period_start: Any, metric: str, forecast: Any
) -> SalesTarget:
    """A rep's own forecast for a period; creates their (zero) target row when there is none."""
    _require_writer(user)
    errors: dict[str, str] = {}
    kind, start, metric = parse_period(period_kind, period_start, metric, errors)
    value = _amount(forecast, "forecast", errors)
    if errors:
        raise ValidationFailedError(fields=errors)
    lookup = {"period_kind": kind, "period_start": start, "metric": metric, "user": user}
    target = SalesTarget.objects.select_for_update().filter(**lookup).first()
    if target is None:
        target = SalesTarget.objects.create(**lookup, amount=ZERO, forecast=value, set_by=user)
        _audit(user, target, AuditLog.Action.CREATE, {"forecast": [None, str(value)]})
        return target
    return target_update(user=user, target=target, data={"forecast": value})


@transaction.atomic
def target_delete(*, user: User, target: SalesTarget, expected_version: int | None = None) -> None:
    _require_writer(user)
    target = (
        SalesTarget.objects.select_for_update(of=("self",))
        .select_related("team", "user")
        .get(pk=target.pk)
    )
    _check_version(target, expected_version)
    if not _may_manage(user, target):
        raise PermissionDeniedError(_("You can view this target but not delete it."))
    _audit(user, target, AuditLog.Action.DELETE, {"amount": [str(target.amount), None]})
    target.delete()


# --- cascade ----------------------------------------------------------------------------------


def _clean_weights(
    nodes: list[tuple[str, Any]], weights: Any, errors: dict[str, str]
) -> list[Decimal]:
    if not isinstance(weights, dict):
        errors["weights"] = _('Give a weight for each child, e.g. {"team:4": 2, "user:9": 1}.')
        return []
    keys = {f"{kind}:{obj.pk}" for kind, obj in nodes}
    for key in weights:
        if key not in keys:
            errors[f"weights.{key}"] = _("Not a direct child of this team.")
    result = []
    for kind, obj in nodes:
        key = f"{kind}:{obj.pk}"
        if key not in weights or weights[key] in (None, ""):
            errors[f"weights.{key}"] = _("Give a weight (0 or more).")
            result.append(Decimal("0"))
            continue
        try:
            value = Decimal(str(weights[key]).replace(",", "."))
        except (InvalidOperation, ValueError):
            value = Decimal("-1")
        if not value.is_finite() or value < 0 or value > Decimal("99999"):
            errors[f"weights.{key}"] = _("A weight is a number from 0 to 99999.")
            value = Decimal("0")
        result.append(value)
    if not errors and not any(result):
        errors["weights"] = _("At least one weight must be above zero.")
    return result


def cascade_plan(
    *,
    user: User,
    target: SalesTarget,
    method: str,
    weights: Any = None,
    depth: str = "one",
) -> list[dict[str, Any]]:
    """What a cascade would set, without saving: rows {kind, id, name, amount, weight,
    last_year, children} for each child (and, with depth "all", their children)."""
    _require_writer(user)
    errors: dict[str, str] = {}
    if method not in {CascadeMethod.EVEN, CascadeMethod.WEIGHTS, CascadeMethod.LAST_YEAR}:
        errors["method"] = _("Use one of: even, weights, last_year.")
    if depth not in DEPTHS:
        errors["depth"] = _("Use one (the next level) or all (every level).")
    if target.team_id is None:
        errors["target"] = _("Only a team's target cascades; this one belongs to a person.")
    if errors:
        raise ValidationFailedError(fields=errors)
    if not manages_team(user, target.team):
        raise PermissionDeniedError(
            _("Only an administrator, or the head of this part of the company, cascades it.")
        )
    chart = OrgChart.load()
    last_year_actuals: dict[int, Decimal] = {}
    if method == CascadeMethod.LAST_YEAR:
        start = target.period_start.replace(year=target.period_start.year - 1)
        last_year_actuals = actual_by_user(
            target.metric, start, period_end(target.period_kind, start)
        )

    def level(team: Team, amount: Decimal, first: bool) -> list[dict[str, Any]]:
        nodes = chart.child_nodes(team)
        if not nodes:
            return []
        last_year = [node_actual(chart, last_year_actuals, k, o) for k, o in nodes]
        if method == CascadeMethod.WEIGHTS and first:
            node_weights = _clean_weights(nodes, weights, errors)
            used = CascadeMethod.WEIGHTS
        elif method == CascadeMethod.LAST_YEAR and sum(last_year, ZERO) > 0:
            node_weights = last_year
            used = CascadeMethod.LAST_YEAR
        else:
            # Weights are given for the first level only; last year with no sales is even.
            node_weights = [Decimal("1")] * len(nodes)
            used = CascadeMethod.EVEN
        shares = split_exact(amount, node_weights)
        total_weight = sum(node_weights, Decimal("0"))
        rows = []
        for (kind, obj), share, weight, before in zip(
            nodes, shares, node_weights, last_year, strict=True
        ):
            rows.append(
                {
                    "kind": kind,
                    "id": obj.pk,
                    "key": f"{kind}:{obj.pk}",
                    "name": obj.name if kind == "team" else obj.display_name,
                    "amount": share,
                    "weight": weight,
                    # What the row keeps: the weight given, or last year's share of the total.
                    "stored_weight": weight
                    if used == CascadeMethod.WEIGHTS
                    else (weight / total_weight).quantize(Decimal("0.0001"))
                    if used == CascadeMethod.LAST_YEAR
                    else None,
                    "method": used,
                    "last_year": before if method == CascadeMethod.LAST_YEAR else None,
                    "children": level(obj, share, False)
                    if kind == "team" and depth == "all"
                    else [],
                }
            )
        return rows

    rows = level(target.team, target.amount, True)
    if errors:
        raise ValidationFailedError(fields=errors)
    if not rows:
        raise ValidationFailedError(
            fields={"target": _("This team has no sub-teams or reps to cascade to.")}
        )
    return rows


@transaction.atomic
def target_cascade(
    *,
    user: User,
    target: SalesTarget,
    method: str,
    weights: Any = None,
    depth: str = "one",
    expected_version: int | None = None,
) -> list[SalesTarget]:
    """Split a team's target among its children (and deeper with depth "all"), exactly."""
    target = (
        SalesTarget.objects.select_for_update(of=("self",)).select_related("team").get(pk=target.pk)
    )
    _check_version(target, expected_version)
    rows = cascade_plan(user=user, target=target, method=method, weights=weights, depth=depth)
    teams = Team.objects.in_bulk()
    users = User.objects.in_bulk()
    written: list[SalesTarget] = []

    def apply(parent: SalesTarget, level_rows: list[dict[str, Any]]) -> None:
        for row in level_rows:
            child = _upsert(
                user=user,
                kind=target.period_kind,
                start=target.period_start,
                metric=target.metric,
                team=teams[row["id"]] if row["kind"] == "team" else None,
                target_user=users[row["id"]] if row["kind"] == "user" else None,
                amount=row["amount"],
                parent=parent,
                method=row["method"],
                weight=row["stored_weight"],
            )
            written.append(child)
            if row["children"]:
                apply(child, row["children"])

    apply(target, rows)
    target.version += 1
    target.updated_at = timezone.now()
    target.save(update_fields=["version", "updated_at"])
    _audit(
        user,
        target,
        AuditLog.Action.UPDATE,
        {"cascade": [None, f"{method}/{depth}: {len(written)}"]},
    )
    return written
