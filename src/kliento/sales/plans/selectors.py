"""Reads of sales plans: periods, actuals, the plan-vs-actual tree and who may see what.

Actual = won deals (status won, closed_at within the period, amount_company) or order revenue
(ordered_at within the period, not cancelled/returned, revenue_company), by owner; a team's
actual is the sum over every user of its subtree. Forecasts are entered by reps and roll up.

Visibility: admins and analysts see every node; a head sees their team's subtree; anyone else
sees their own line and their team's totals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from kliento.core.errors import NotFoundError, ValidationFailedError
from kliento.core.models import Role, Team, User
from kliento.customers.selectors import parse_id
from kliento.sales.catalog.money import money
from kliento.sales.plans.models import Metric, PeriodKind, SalesTarget

ZERO = Decimal("0.00")
SALES_ROLES = (Role.REP,)


# --- periods ----------------------------------------------------------------------------------


def period_normalize(kind: str, day: dt.date) -> dt.date:
    """The first day of the month, quarter or year containing `day`."""
    if kind == PeriodKind.MONTH:
        return day.replace(day=1)
    if kind == PeriodKind.QUARTER:
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if kind == PeriodKind.YEAR:
        return dt.date(day.year, 1, 1)
    raise ValidationFailedError(
        fields={
            "period_kind": _("%(value)s is not one of: %(allowed)s.")
            % {"value": repr(kind), "allowed": ", ".join(PeriodKind.values)}
        }
    )


def period_end(kind: str, start: dt.date) -> dt.date:
    """The first day after the period (exclusive end)."""
    months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind]
    month = start.month - 1 + months
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def period_shift(kind: str, start: dt.date, steps: int) -> dt.date:
    months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind] * steps
    month = start.month - 1 + months
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def period_label(kind: str, start: dt.date) -> str:
    from django.utils.formats import date_format

    if kind == PeriodKind.MONTH:
        return date_format(start, "F Y")
    if kind == PeriodKind.QUARTER:
        return _("Q%(q)s %(year)s") % {"q": (start.month - 1) // 3 + 1, "year": start.year}
    return str(start.year)


def parse_period(
    kind: Any, start: Any, metric: Any, errors: dict[str, str] | None = None
) -> tuple[str, dt.date, str]:
    """Validated (kind, normalised start, metric); raises 422 naming each bad field."""
    own = errors is None
    errors = {} if errors is None else errors
    kind = kind or PeriodKind.MONTH
    if kind not in PeriodKind.values:
        errors["period_kind"] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(kind),
            "allowed": ", ".join(PeriodKind.values),
        }
    metric = metric or Metric.DEALS_WON
    if metric not in Metric.values:
        errors["metric"] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(metric),
            "allowed": ", ".join(Metric.values),
        }
    day = start
    if not isinstance(start, dt.date):
        try:
            day = parse_date(str(start or "").strip()) if start else timezone.localdate()
        except ValueError:
            day = None
        if day is None:
            errors["period_start"] = _("Expected a date (YYYY-MM-DD).")
    if day is not None and not 1900 <= day.year <= 2200:
        errors["period_start"] = _("Expected a date (YYYY-MM-DD).")
    if errors and own:
        raise ValidationFailedError(fields=errors)
    if errors:
        return kind, timezone.localdate(), metric
    return kind, period_normalize(kind, day), metric


# --- actuals ----------------------------------------------------------------------------------


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    def aware(day):
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    return aware(start), aware(end)


def actual_by_user(metric: str, start: dt.date, end: dt.date) -> dict[int, Decimal]:
    """Each owner's actual in [start, end): won deal amounts or counted order revenue."""
    since, until = _bounds(start, end)
    if metric == Metric.ORDERS:
        from kliento.sales.orders.models import Order, OrderStatus

        rows = (
            Order.objects.filter(ordered_at__gte=since, ordered_at__lt=until)
            .exclude(status__in=[OrderStatus.CANCELLED, OrderStatus.RETURNED])
            .values("owner_id")
            .annotate(total=Sum("revenue_company"))
            .order_by()
        )
    else:
        from kliento.sales.deals.models import Deal, DealStatus

        rows = (
            Deal.objects.filter(status=DealStatus.WON, closed_at__gte=since, closed_at__lt=until)
            .values("owner_id")
            .annotate(total=Sum("amount_company"))
            .order_by()
        )
    # SQLite's SUM drops trailing zeros; amounts are always shown to the cent.
    return {r["owner_id"]: money(r["total"] or 0) for r in rows}


@dataclass
class OrgChart:
    """Teams and sales users loaded once; subtrees resolved in memory."""

    teams: dict[int, Team]
    children: dict[int | None, list[Team]]
    members: dict[int, list[User]]
    users: dict[int, User]

    @classmethod
    def load(cls) -> OrgChart:
        teams = {t.pk: t for t in Team.objects.order_by("name", "id")}
        children: dict[int | None, list[Team]] = {}
        for team in teams.values():
            children.setdefault(team.parent_id, []).append(team)
        members: dict[int, list[User]] = {}
        users = {}
        for user in User.objects.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        ):
            users[user.pk] = user
            if user.team_id:
                members.setdefault(user.team_id, []).append(user)
        return cls(teams=teams, children=children, members=members, users=users)

    def subtree_users(self, team: Team) -> list[User]:
        return [
            u
            for t in self.teams.values()
            if t.path.startswith(team.path)
            for u in self.members.get(t.pk, [])
        ]

    def sells(self, team: Team) -> bool:
        """Whether anyone in the team's subtree carries a sales quota (a rep)."""
        return any(u.role in SALES_ROLES for u in self.subtree_users(team))

    def child_nodes(self, team: Team) -> list[tuple[str, Any]]:
        """What a team's target cascades to: child teams with reps, and its own reps."""
        nodes: list[tuple[str, Any]] = [
            ("team", t) for t in self.children.get(team.pk, []) if self.sells(t)
        ]
        nodes += [("user", u) for u in self.members.get(team.pk, []) if u.role in SALES_ROLES]
        return nodes


def node_actual(chart: OrgChart, actuals: dict[int, Decimal], kind: str, obj) -> Decimal:
    if kind == "user":
        return actuals.get(obj.pk, ZERO)
    return sum((actuals.get(u.pk, ZERO) for u in chart.subtree_users(obj)), ZERO)


# --- visibility -------------------------------------------------------------------------------


def sees_all(user: User) -> bool:
    return user.is_active and user.role in {Role.ADMIN, Role.ANALYST}


def manages_team(user: User, team: Team) -> bool:
    """Admins manage every team; a head manages their own team's subtree."""
    if not user.is_active:
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.HEAD and user.team is not None and team.path.startswith(user.team.path)


def manages_user(user: User, other: User) -> bool:
    if other.team is None:
        return user.is_active and user.role == Role.ADMIN
    return manages_team(user, other.team)


def target_q(user: User) -> Q | None:
    """Targets the user may see: all, their subtree's, or their own and their team's."""
    if sees_all(user):
        return None
    if user.role == Role.HEAD and user.team is not None:
        teams = Team.objects.filter(path__startswith=user.team.path).values("id")
        return Q(team_id__in=teams) | Q(user__team_id__in=teams) | Q(user_id=user.pk)
    q = Q(user_id=user.pk)
    if user.team_id:
        q |= Q(team_id=user.team_id)
    return q


def target_qs(user: User) -> QuerySet[SalesTarget]:
    q = target_q(user)
    qs = SalesTarget.objects.select_related("team", "user", "set_by")
    return qs.filter(q) if q is not None else qs


def target_get_for_user(*, user: User, pk: Any) -> SalesTarget:
    """The one gate for targets: a hidden target is as missing as a deleted one."""
    target_id = parse_id(pk)
    target = target_qs(user).filter(pk=target_id).first() if target_id else None
    if target is None:
        raise NotFoundError(_("No target with id %(id)s.") % {"id": pk})
    return target


def target_list(*, user: User, filters: dict[str, Any]) -> list[SalesTarget]:
    qs = target_qs(user)
    errors: dict[str, str] = {}
    if filters.get("period_kind") or filters.get("period_start"):
        kind, start, _metric = parse_period(
            filters.get("period_kind"), filters.get("period_start"), None, errors
        )
        if not errors:
            qs = qs.filter(period_kind=kind, period_start=start)
    if filters.get("metric"):
        if filters["metric"] not in Metric.values:
            errors["metric"] = _("Unknown metric.")
        else:
            qs = qs.filter(metric=filters["metric"])
    for key in ("team", "user"):
        if filters.get(key):
            value = parse_id(filters[key])
            if value is None:
                errors[key] = _("Expected an id.")
            else:
                qs = qs.filter(**{f"{key}_id": value})
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    return list(qs.order_by("period_start", "period_kind", "metric", "id")[:1000])


# --- plan vs actual ---------------------------------------------------------------------------


@dataclass
class PlanNode:
    kind: str  # "team" or "user"
    id: int
    name: str
    target: SalesTarget | None
    actual: Decimal
    forecast: Decimal | None = None
    children: list[PlanNode] = field(default_factory=list)
    depth: int = 0
    can_manage: bool = False  # set the target and cascade it
    can_adjust: bool = False  # adjust one's own target and forecast
    role: str = ""

    @property
    def amount(self) -> Decimal | None:
        return self.target.amount if self.target else None

    @property
    def percent(self) -> Decimal | None:
        if not self.target or not self.target.amount:
            return None
        return (self.actual * 100 / self.target.amount).quantize(Decimal("0.1"))

    @property
    def gap(self) -> Decimal | None:
        if self.target is None or not self.target.amount:
            return None
        return self.target.amount - self.actual

    @property
    def bar(self) -> int:
        """Progress bar width in percent (0–100)."""
        percent = self.percent
        return 0 if percent is None else max(0, min(100, int(percent)))

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "target_id": self.target.pk if self.target else None,
            "target": self.amount,
            "adjusted": bool(self.target and self.target.adjusted),
            "forecast": self.forecast,
            "actual": self.actual,
            "percent": self.percent,
            "gap": self.gap,
            "children": [c.as_dict() for c in self.children],
        }


def plan_vs_actual(
    *,
    user: User,
    period_kind: str,
    period_start: dt.date,
    metric: str,
    team: Any = None,
) -> list[PlanNode]:
    """The visible plan tree for one period and metric: roots with nested children."""
    kind, start, metric = parse_period(period_kind, period_start, metric)
    chart = OrgChart.load()
    actuals = actual_by_user(metric, start, period_end(kind, start))
    targets = SalesTarget.objects.filter(period_kind=kind, period_start=start, metric=metric)
    team_targets: dict[int, SalesTarget] = {}
    user_targets: dict[int, SalesTarget] = {}
    for target in targets:
        if target.team_id:
            team_targets[target.team_id] = target
        else:
            user_targets[target.user_id] = target

    def user_node(u: User, depth: int) -> PlanNode:
        target = user_targets.get(u.pk)
        return PlanNode(
            kind="user",
            id=u.pk,
            name=u.display_name,
            target=target,
            actual=actuals.get(u.pk, ZERO),
            forecast=target.forecast if target else None,
            depth=depth,
            can_manage=manages_user(user, u),
            can_adjust=u.pk == user.pk and user.role != Role.ANALYST,
            role=u.role,
        )

    def team_node(t: Team, depth: int, only_user: User | None = None) -> PlanNode:
        node = PlanNode(
            kind="team",
            id=t.pk,
            name=t.name,
            target=team_targets.get(t.pk),
            actual=node_actual(chart, actuals, "team", t),
            depth=depth,
            can_manage=manages_team(user, t),
        )
        if only_user is not None:
            node.children = [user_node(only_user, depth + 1)]
        else:
            for child_team in chart.children.get(t.pk, []):
                if chart.sells(child_team) or child_team.pk in team_targets:
                    node.children.append(team_node(child_team, depth + 1))
            for member in chart.members.get(t.pk, []):
                if (
                    member.role in SALES_ROLES
                    or member.pk in user_targets
                    or actuals.get(member.pk)
                ):
                    node.children.append(user_node(member, depth + 1))
        node.forecast = team_forecast(t)
        return node

    def team_forecast(t: Team) -> Decimal | None:
        """Members' forecasts plus sub-teams' roll-ups (None when nobody entered one)."""
        parts = [team_forecast(c) for c in chart.children.get(t.pk, [])]
        parts += [
            user_targets[m.pk].forecast for m in chart.members.get(t.pk, []) if m.pk in user_targets
        ]
        parts = [p for p in parts if p is not None]
        return sum(parts, ZERO) if parts else None

    if team not in (None, ""):
        team_id = parse_id(team)
        root = chart.teams.get(team_id) if team_id else None
        if root is None or not (sees_all(user) or manages_team(user, root)):
            raise NotFoundError(_("No team with id %(id)s.") % {"id": team})
        return [team_node(root, 0)]
    if sees_all(user):
        return [team_node(t, 0) for t in chart.children.get(None, [])]
    if user.role == Role.HEAD and user.team is not None:
        return [team_node(chart.teams[user.team_id], 0)]
    if user.team_id and user.team_id in chart.teams:
        return [team_node(chart.teams[user.team_id], 0, only_user=chart.users.get(user.pk, user))]
    return [user_node(user, 0)]


def find_node(roots: list[PlanNode], key: str) -> PlanNode | None:
    for root in roots:
        for node in root.walk():
            if node.key == key:
                return node
    return None
