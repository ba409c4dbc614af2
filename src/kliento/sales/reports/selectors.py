"""The sales reports: every number is aggregated in the database (GROUP BY with conditional
aggregates), over the records the user may see, in the company currency.

Each report is built from a few querysets (`<report>_querysets`) that the report function
evaluates; `report_sql` returns the SQL of the same querysets so the benchmark can time the
database alone. Python only merges a handful of grouped rows (months, stages, users).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.expressions import Bucket
from kliento.core.models import Team, User
from kliento.core.permissions import record_q, scope_for, team_subtree_user_ids
from kliento.customers.models import Interaction, RecordShare
from kliento.sales.catalog.money import company_currency, money
from kliento.sales.deals.models import Deal, DealStatus, Pipeline, Stage, StageChange
from kliento.sales.orders import rollup
from kliento.sales.orders.models import (
    NO_REVENUE_STATUSES,
    Order,
    OrderLine,
    ProductMonth,
)
from kliento.sales.orders.rollup import (
    ALL_PRODUCTS,
    RATIO_FIELD,
    company_amount,
    line_aggregates,
)
from kliento.sales.reports.filters import (
    ActivityFilters,
    CycleFilters,
    ForecastFilters,
    PnlFilters,
    add_months,
    month_key,
)

ZERO = Decimal("0.00")
MONEY_FIELD = DecimalField(max_digits=20, decimal_places=2)
DAY = 86400
FORECAST_CATEGORIES = ("commit", "best_case", "pipeline", "omitted")
ACTIVITY_KINDS = ("call", "meeting", "email", "note")


# --- shared helpers ---------------------------------------------------------------------------


def start_of(day: dt.date) -> dt.datetime:
    """The first instant of `day` in the current time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def team_members(team_id: int | None) -> set[int]:
    team = Team.objects.filter(pk=team_id).first() if team_id else None
    return team_subtree_user_ids(team)


def _m(value) -> Decimal:
    return money(value if value is not None else ZERO)


def _pct(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def _days(seconds) -> Decimal | None:
    if seconds is None:
        return None
    if isinstance(seconds, dt.timedelta):
        seconds = seconds.total_seconds()
    return (Decimal(str(seconds)) / DAY).quantize(Decimal("0.1"))


def owner_filter_q(user: User, f, *, entity: str, prefix: str = "") -> Q:
    """Visibility of `entity` (deal/order) for `user`, plus the owner and team filters."""
    q = Q()
    visible = record_q(user, entity, prefix=prefix)
    if visible is not None:
        q &= visible
    if f.owner:
        q &= Q(**{f"{prefix}owner_id": f.owner})
    if f.team:
        q &= Q(**{f"{prefix}owner_id__in": sorted(team_members(f.team))})
    return q


def deal_q(user: User, f, *, prefix: str = "") -> Q:
    q = owner_filter_q(user, f, entity="deal", prefix=prefix)
    if getattr(f, "pipeline", None):
        q &= Q(**{f"{prefix}pipeline_id": f.pipeline})
    return q


def visible_user_ids(user: User) -> set[int] | None:
    """Whose activity `user` may see: None for everyone (admin, analyst, ...), else the owners
    of the records they see (themselves, their team subtree for a head)."""
    scope = scope_for(user)
    return None if scope.read_all else set(scope.owner_ids)


def report_sql(querysets: dict[str, QuerySet]) -> dict[str, tuple[str, tuple]]:
    """The SQL and parameters of each queryset a report runs (for the benchmark)."""
    return {name: qs.query.sql_with_params() for name, qs in querysets.items()}


def run_sql(statements: dict[str, tuple[str, tuple]]) -> dict[str, list[tuple]]:
    """Run a report's SQL directly through the connection (what the benchmark compares with)."""
    out = {}
    with connection.cursor() as cursor:
        for name, (sql, params) in statements.items():
            cursor.execute(sql, params)
            out[name] = cursor.fetchall()
    return out


def user_names(ids: Iterable[int]) -> dict[int, User]:
    return {u.pk: u for u in User.objects.filter(pk__in=set(ids)).select_related("team")}


# --- forecast ---------------------------------------------------------------------------------


def month_of(field: str, months: list[dt.date], *, instant: bool) -> Bucket:
    """The month (its first day) of a date or datetime column, for rows known to lie within
    `months` (see core.expressions.Bucket). The boundaries are worked out here, in the current
    time zone (the first instant of each month for a datetime, `instant`), so a deal falls in
    the same month as with TruncMonth."""
    bounds = [start_of(m) for m in months] if instant else list(months)
    return Bucket(field, bounds, months)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of the months from `first`'s to `last`'s, both included."""
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def forecast_querysets(*, user: User, f: ForecastFilters) -> dict[str, QuerySet]:
    deals = Deal.objects.filter(deal_q(user, f))
    amount = F("amount_company")
    by_category = {
        name: Coalesce(Sum(amount, filter=Q(forecast_category=name)), Value(ZERO))
        for name in FORECAST_CATEGORIES
    }
    open_rows = (
        deals.filter(
            status=DealStatus.OPEN, expected_close__gte=f.month_from, expected_close__lt=f.end
        )
        .annotate(month=month_of("expected_close", f.months, instant=False))
        .values("month")
        .annotate(
            open_count=Count("id"),
            amount=Coalesce(Sum(amount), Value(ZERO)),
            weighted_x100=Coalesce(
                Sum(ExpressionWrapper(amount * F("stage__probability"), output_field=MONEY_FIELD)),
                Value(ZERO),
                output_field=MONEY_FIELD,
            ),
            **by_category,
        )
        .order_by("month")
    )
    won_rows = (
        deals.filter(
            status=DealStatus.WON,
            closed_at__gte=start_of(f.month_from),
            closed_at__lt=start_of(f.end),
        )
        .annotate(month=month_of("closed_at", f.months, instant=True))
        .values("month")
        .annotate(won_count=Count("id"), won=Coalesce(Sum(amount), Value(ZERO)))
        .order_by("month")
    )
    return {"open": open_rows, "won": won_rows}


def _month_of(value) -> str:
    if isinstance(value, str):
        return value[:7]
    return month_key(value)


def forecast(*, user: User, f: ForecastFilters) -> dict:
    qs = forecast_querysets(user=user, f=f)
    rows = {
        month_key(m): {
            "month": m,
            "key": month_key(m),
            "open_count": 0,
            "amount": ZERO,
            "weighted": ZERO,
            **{c: ZERO for c in FORECAST_CATEGORIES},
            "won_count": 0,
            "won": ZERO,
        }
        for m in f.months
    }
    for r in qs["open"]:
        row = rows.get(_month_of(r["month"]))
        if row is None:
            continue
        row["open_count"] = r["open_count"]
        row["amount"] = _m(r["amount"])
        row["weighted"] = _m(Decimal(r["weighted_x100"]) / 100)
        for c in FORECAST_CATEGORIES:
            row[c] = _m(r[c])
    for r in qs["won"]:
        row = rows.get(_month_of(r["month"]))
        if row is not None:
            row["won_count"], row["won"] = r["won_count"], _m(r["won"])
    out = list(rows.values())
    for row in out:
        row["committed"] = row["won"] + row["commit"]
        row["best"] = row["committed"] + row["best_case"]
    keys = ["open_count", "amount", "weighted", *FORECAST_CATEGORIES, "won_count", "won"]
    totals = {k: sum((r[k] for r in out), 0 if k.endswith("count") else ZERO) for k in keys}
    totals["committed"] = totals["won"] + totals["commit"]
    totals["best"] = totals["committed"] + totals["best_case"]
    return {"rows": out, "totals": totals, "currency": company_currency()}


def forecast_deals(
    *, user: User, f: ForecastFilters, month: dt.date | None, measure: str
) -> QuerySet:
    """The deals behind one forecast number (measure: open, won or a forecast category) in
    `month`, or in the whole range when month is None."""
    deals = Deal.objects.filter(deal_q(user, f))
    start, end = (month, add_months(month, 1)) if month else (f.month_from, f.end)
    if measure == "won":
        deals = deals.filter(
            status=DealStatus.WON, closed_at__gte=start_of(start), closed_at__lt=start_of(end)
        )
    else:
        deals = deals.filter(
            status=DealStatus.OPEN, expected_close__gte=start, expected_close__lt=end
        )
        if measure in FORECAST_CATEGORIES:
            deals = deals.filter(forecast_category=measure)
    return deals.select_related("owner", "stage", "pipeline", "company", "contact").order_by(
        "-amount_company", "id"
    )


# --- sales cycle ------------------------------------------------------------------------------


def _cycle_deals(user: User, f: CycleFilters, *, prefix: str = "") -> Q:
    q = deal_q(user, f, prefix=prefix)
    start, end = start_of(f.date_from), start_of(f.date_to + dt.timedelta(days=1))
    if f.basis == "closed":
        q &= Q(**{f"{prefix}status__in": [DealStatus.WON, DealStatus.LOST]})
        q &= Q(**{f"{prefix}closed_at__gte": start, f"{prefix}closed_at__lt": end})
    else:
        q &= Q(**{f"{prefix}created_at__gte": start, f"{prefix}created_at__lt": end})
    return q


def funnel_pipeline(f: CycleFilters) -> Pipeline | None:
    if f.pipeline:
        return Pipeline.objects.filter(pk=f.pipeline).first()
    return Pipeline.objects.filter(active=True).order_by("-is_default", "position", "id").first()


_CLOSED = Q(status__in=[DealStatus.WON, DealStatus.LOST])


def _cycle_length():
    """created → closed. SQLite subtracts datetimes through a Python function per row;
    julianday() arithmetic stays in C (seconds, as a float)."""
    if connection.vendor == "sqlite":
        closed = Func(F("closed_at"), function="julianday", output_field=FloatField())
        created = Func(F("created_at"), function="julianday", output_field=FloatField())
        return ExpressionWrapper((closed - created) * Value(86400.0), output_field=FloatField())
    return ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())


def _cycle_aggregates() -> dict:
    return {
        "deals": Count("id"),
        "won": Count("id", filter=Q(status=DealStatus.WON)),
        "lost": Count("id", filter=Q(status=DealStatus.LOST)),
        "won_amount": Coalesce(Sum("amount_company", filter=Q(status=DealStatus.WON)), Value(ZERO)),
        "cycle": Avg(_cycle_length(), filter=_CLOSED),
        "won_cycle": Avg(_cycle_length(), filter=Q(status=DealStatus.WON)),
    }


def cycle_querysets(*, user: User, f: CycleFilters) -> dict[str, QuerySet]:
    deals = Deal.objects.filter(_cycle_deals(user, f))
    pipeline = funnel_pipeline(f)
    pipeline_id = pipeline.pk if pipeline else 0
    group_field = {
        "owner": "owner_id",
        "pipeline": "pipeline_id",
        "month": "period",
    }[f.group]
    breakdown = deals
    if f.group == "month":
        basis = "closed_at" if f.basis == "closed" else "created_at"
        months = months_between(f.date_from, f.date_to)
        breakdown = breakdown.annotate(period=month_of(basis, months, instant=True))
    return {
        "funnel": deals.filter(pipeline_id=pipeline_id)
        .values("stage_id", "status")
        .annotate(n=Count("id"))
        .order_by("stage_id", "status"),
        "stage_time": StageChange.objects.filter(
            _cycle_deals(user, f, prefix="deal__"),
            from_stage__pipeline_id=pipeline_id,
            seconds_in_from__isnull=False,
        )
        .values("from_stage_id")
        .annotate(avg=Avg("seconds_in_from"), n=Count("id"))
        .order_by("from_stage_id"),
        "breakdown": breakdown.values(group_field)
        .annotate(**_cycle_aggregates())
        .order_by(group_field),
    }


def _cycle_row(r: dict) -> dict:
    won, lost = r["won"], r["lost"]
    return {
        "deals": r["deals"],
        "won": won,
        "lost": lost,
        "open": r["deals"] - won - lost,
        "win_rate": _pct(won, won + lost),
        "won_amount": _m(r["won_amount"]),
        "cycle_days": _days(r["cycle"]),
        "won_cycle_days": _days(r["won_cycle"]),
    }


def _avg_seconds(value):
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def sales_cycle(*, user: User, f: CycleFilters) -> dict:
    qs = cycle_querysets(user=user, f=f)
    pipeline = funnel_pipeline(f)

    # Breakdown by owner, pipeline or month; the summary is its weighted total (no second
    # pass over the deals).
    key = {"owner": "owner_id", "pipeline": "pipeline_id", "month": "period"}[f.group]
    raw = list(qs["breakdown"])
    deals = sum(r["deals"] for r in raw)
    won = sum(r["won"] for r in raw)
    lost = sum(r["lost"] for r in raw)
    closed = won + lost
    cycle_total = sum((_avg_seconds(r["cycle"]) or 0) * (r["won"] + r["lost"]) for r in raw)
    won_total = sum((_avg_seconds(r["won_cycle"]) or 0) * r["won"] for r in raw)
    summary = {
        "deals": deals,
        "won": won,
        "lost": lost,
        "open": deals - closed,
        "win_rate": _pct(won, closed),
        "won_amount": _m(sum((Decimal(r["won_amount"]) for r in raw), ZERO)),
        "cycle_days": _days(cycle_total / closed) if closed else None,
        "won_cycle_days": _days(won_total / won) if won else None,
    }

    # Funnel: a deal reached every stage up to the one it is in (or was lost in); a won deal
    # reached them all. Conversion N → N+1 is reached(N+1) / reached(N); the last stage's is
    # its win rate.
    stages = list(pipeline.stages.order_by("position", "id")) if pipeline else []
    counts_by_stage: dict[int, dict[str, int]] = {}
    for r in qs["funnel"]:
        counts_by_stage.setdefault(r["stage_id"], {})[r["status"]] = r["n"]
    times = {r["from_stage_id"]: r for r in qs["stage_time"]}
    won_in_pipeline = sum(c.get(DealStatus.WON, 0) for c in counts_by_stage.values())
    reached_after = 0  # not-won deals at a later stage
    funnel = []
    for stage in reversed(stages):
        here = counts_by_stage.get(stage.pk, {})
        reached_after += here.get(DealStatus.OPEN, 0) + here.get(DealStatus.LOST, 0)
        timing = times.get(stage.pk)
        funnel.append(
            {
                "stage": stage,
                "stage_id": stage.pk,
                "name": stage.name,
                "probability": stage.probability,
                "reached": reached_after + won_in_pipeline,
                "open": here.get(DealStatus.OPEN, 0),
                "lost": here.get(DealStatus.LOST, 0),
                "avg_days": _days(timing["avg"]) if timing else None,
                "moves": timing["n"] if timing else 0,
                "expected_days": stage.expected_days,
            }
        )
    funnel.reverse()
    for i, row in enumerate(funnel):
        nxt = funnel[i + 1]["reached"] if i + 1 < len(funnel) else won_in_pipeline
        row["next_reached"] = nxt
        row["conversion"] = _pct(nxt, row["reached"])

    labels: dict = {}
    if f.group == "owner":
        labels = {pk: u.display_name for pk, u in user_names(r[key] for r in raw).items()}
    elif f.group == "pipeline":
        labels = dict(
            Pipeline.objects.filter(pk__in=[r[key] for r in raw]).values_list("pk", "name")
        )
    breakdown = []
    for r in raw:
        value = r[key]
        if f.group == "month":
            value = _month_of(value)
            label = value
        else:
            label = labels.get(value, "—")
        breakdown.append({"key": value, "label": label, **_cycle_row(r)})
    if f.group != "month":
        breakdown.sort(key=lambda row: (-row["deals"], str(row["label"])))
    return {
        "pipeline": pipeline,
        "summary": summary,
        "funnel": funnel,
        "won_in_pipeline": won_in_pipeline,
        "breakdown": breakdown,
        "currency": company_currency(),
    }


def cycle_deals(
    *,
    user: User,
    f: CycleFilters,
    measure: str,
    stage: int | None = None,
    month: dt.date | None = None,
) -> QuerySet:
    """The deals behind one sales-cycle number.

    measure: deals, won, lost, open, or reached (with `stage`: the deals that reached it).
    """
    deals = Deal.objects.filter(_cycle_deals(user, f))
    if month:
        basis = "closed_at" if f.basis == "closed" else "created_at"
        deals = deals.filter(
            **{
                f"{basis}__gte": start_of(month),
                f"{basis}__lt": start_of(add_months(month, 1)),
            }
        )
    if measure in (DealStatus.WON, DealStatus.LOST, DealStatus.OPEN):
        deals = deals.filter(status=measure)
    if measure == "reached" and stage:
        target = Stage.objects.filter(pk=stage).first()
        if target is None:
            return Deal.objects.none()
        deals = deals.filter(pipeline_id=target.pipeline_id).filter(
            Q(status=DealStatus.WON) | Q(stage__position__gte=target.position)
        )
    elif measure in ("stage_open", "stage_lost") and stage:
        status = DealStatus.OPEN if measure == "stage_open" else DealStatus.LOST
        deals = deals.filter(stage_id=stage, status=status)
    return deals.select_related("owner", "stage", "pipeline", "company", "contact").order_by(
        "-amount_company", "id"
    )


# --- employee activity ------------------------------------------------------------------------

ACTIVITY_METRICS = (
    "calls",
    "meetings",
    "emails",
    "notes",
    "tasks",
    "created",
    "moved",
    "won",
    "lost",
)


def _activity_users(user: User, f: ActivityFilters) -> set[int] | None:
    """The employees in the report: those the user may see, narrowed by the filters."""
    ids = visible_user_ids(user)
    if f.owner:
        ids = {f.owner} if ids is None or f.owner in ids else set()
    if f.team:
        members = team_members(f.team)
        ids = members if ids is None else ids & members
    return ids


def _in(field: str, ids: set[int] | None) -> Q:
    return Q() if ids is None else Q(**{f"{field}__in": sorted(ids)})


def _done_by():
    return Coalesce("assignee_id", "user_id")


def activity_querysets(*, user: User, f: ActivityFilters) -> dict[str, QuerySet]:
    ids = _activity_users(user, f)
    start, end = start_of(f.date_from), start_of(f.date_to + dt.timedelta(days=1))
    kinds = {f"{kind}s": Count("id", filter=Q(kind=kind)) for kind in ACTIVITY_KINDS}
    return {
        "interactions": Interaction.objects.filter(
            _in("user_id", ids),
            ~Q(planned=True, done=False),
            user_id__isnull=False,
            kind__in=ACTIVITY_KINDS,
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .values("user_id")
        .annotate(**kinds)
        .order_by("user_id"),
        "tasks": Interaction.objects.filter(
            kind="task", done=True, done_at__gte=start, done_at__lt=end
        )
        .annotate(done_by=_done_by())
        .filter(_in("done_by", ids), done_by__isnull=False)
        .values("done_by")
        .annotate(tasks=Count("id"))
        .order_by("done_by"),
        "created": Deal.objects.filter(
            owner_filter_q(user, f, entity="deal"),
            _in("owner_id", ids),
            created_at__gte=start,
            created_at__lt=end,
        )
        .values("owner_id")
        .annotate(created=Count("id"))
        .order_by("owner_id"),
        "moves": StageChange.objects.filter(
            record_q(user, "deal", prefix="deal__") or Q(),
            _in("user_id", ids),
            user_id__isnull=False,
            at__gte=start,
            at__lt=end,
        )
        .values("user_id")
        .annotate(
            moved=Count("id", filter=Q(status=DealStatus.OPEN, from_stage__isnull=False)),
            won=Count("id", filter=Q(status=DealStatus.WON)),
            lost=Count("id", filter=Q(status=DealStatus.LOST)),
            won_amount=Coalesce(
                Sum("deal__amount_company", filter=Q(status=DealStatus.WON)), Value(ZERO)
            ),
        )
        .order_by("user_id"),
    }


def _blank_activity() -> dict:
    row = {m: 0 for m in ACTIVITY_METRICS}
    row["won_amount"] = ZERO
    return row


def activity(*, user: User, f: ActivityFilters) -> dict:
    qs = activity_querysets(user=user, f=f)
    per_user: dict[int, dict] = {}
    for r in qs["interactions"]:
        row = per_user.setdefault(r["user_id"], _blank_activity())
        for kind in ACTIVITY_KINDS:
            row[f"{kind}s"] = r[f"{kind}s"]
    for r in qs["tasks"]:
        per_user.setdefault(r["done_by"], _blank_activity())["tasks"] = r["tasks"]
    for r in qs["created"]:
        per_user.setdefault(r["owner_id"], _blank_activity())["created"] = r["created"]
    for r in qs["moves"]:
        row = per_user.setdefault(r["user_id"], _blank_activity())
        row.update(moved=r["moved"], won=r["won"], lost=r["lost"], won_amount=_m(r["won_amount"]))

    # Everyone in scope who sells gets a row, so a quiet week shows as zeros, not a gap.
    ids = _activity_users(user, f)
    sellers = User.objects.filter(is_active=True, role__in=["rep", "head"])
    if ids is not None:
        sellers = sellers.filter(pk__in=sorted(ids))
    for pk in sellers.values_list("pk", flat=True):
        per_user.setdefault(pk, _blank_activity())
    users = user_names(per_user)
    rows = []
    for pk, row in per_user.items():
        person = users.get(pk)
        if person is None:
            continue
        row["total"] = sum(row[m] for m in ("calls", "meetings", "emails", "notes", "tasks"))
        rows.append(
            {
                "key": pk,
                "label": person.display_name,
                "user": person,
                "team_id": person.team_id,
                "team": person.team.name if person.team else "",
                **row,
            }
        )
    rows.sort(key=lambda r: (-r["total"], -r["won_amount"], r["label"]))
    totals = _blank_activity()
    for row in rows:
        for m in (*ACTIVITY_METRICS, "won_amount"):
            totals[m] += row[m]
    totals["total"] = sum(totals[m] for m in ("calls", "meetings", "emails", "notes", "tasks"))
    if f.group == "team":
        teams: dict = {}
        for row in rows:
            t = teams.setdefault(
                row["team_id"],
                {
                    "key": row["team_id"],
                    "label": row["team"] or _("No team"),
                    "members": 0,
                    **_blank_activity(),
                    "total": 0,
                },
            )
            t["members"] += 1
            for m in (*ACTIVITY_METRICS, "won_amount", "total"):
                t[m] += row[m]
        rows = sorted(teams.values(), key=lambda r: (-r["total"], r["label"]))
    return {"rows": rows, "totals": totals, "currency": company_currency()}


def activity_records(*, user: User, f: ActivityFilters, metric: str) -> QuerySet:
    """The interactions, deals or stage changes behind one activity number."""
    ids = _activity_users(user, f)
    start, end = start_of(f.date_from), start_of(f.date_to + dt.timedelta(days=1))
    if metric in ("calls", "meetings", "emails", "notes"):
        return (
            Interaction.objects.filter(
                _in("user_id", ids),
                ~Q(planned=True, done=False),
                user_id__isnull=False,
                kind=metric[:-1],
                occurred_at__gte=start,
                occurred_at__lt=end,
            )
            .select_related("user", "contact", "company")
            .order_by("-occurred_at", "-id")
        )
    if metric == "tasks":
        return (
            Interaction.objects.filter(kind="task", done=True, done_at__gte=start, done_at__lt=end)
            .annotate(done_by=_done_by())
            .filter(_in("done_by", ids), done_by__isnull=False)
            .select_related("user", "assignee", "contact", "company")
            .order_by("-done_at", "-id")
        )
    if metric == "created":
        return (
            Deal.objects.filter(
                owner_filter_q(user, f, entity="deal"),
                _in("owner_id", ids),
                created_at__gte=start,
                created_at__lt=end,
            )
            .select_related("owner", "stage", "pipeline", "company", "contact")
            .order_by("-created_at", "-id")
        )
    status_q = {
        "moved": Q(status=DealStatus.OPEN, from_stage__isnull=False),
        "won": Q(status=DealStatus.WON),
        "lost": Q(status=DealStatus.LOST),
    }[metric]
    return (
        StageChange.objects.filter(
            record_q(user, "deal", prefix="deal__") or Q(),
            status_q,
            _in("user_id", ids),
            user_id__isnull=False,
            at__gte=start,
            at__lt=end,
        )
        .select_related("deal", "from_stage", "to_stage", "user")
        .order_by("-at", "-id")
    )


# --- profit and loss --------------------------------------------------------------------------


def _order_q(user: User, f: PnlFilters, prefix: str = "") -> Q:
    q = owner_filter_q(user, f, entity="order", prefix=prefix)
    q &= ~Q(**{f"{prefix}status__in": NO_REVENUE_STATUSES})
    q &= Q(
        **{
            f"{prefix}ordered_at__gte": start_of(f.date_from),
            f"{prefix}ordered_at__lt": start_of(f.date_to + dt.timedelta(days=1)),
        }
    )
    return q


def _pnl_aggregates(by: str) -> dict:
    if by == "product":
        return line_aggregates()
    return {
        "orders": Count("id"),
        "revenue": Coalesce(Sum("revenue_company"), Value(ZERO)),
        "costs": Coalesce(Sum("cost_company"), Value(ZERO)),
        "discounts": Coalesce(Sum(company_amount("discount_total")), Value(ZERO)),
    }


def pnl_base(*, user: User, f: PnlFilters) -> QuerySet:
    if f.by == "product":
        return OrderLine.objects.filter(_order_q(user, f, prefix="order__"))
    return Order.objects.filter(_order_q(user, f))


PNL_KEYS = {"company": "company_id", "contact": "contact_id", "product": "product_id"}
PNL_SORT_KEYS = {"cost": "costs"}  # the sort option → the aggregate it orders by


def pnl_querysets(*, user: User, f: PnlFilters) -> dict[str, QuerySet]:
    if f.by == "product":
        plan = _rollup_plan(user, f)
        if plan is not None:
            return _pnl_product_querysets(user, f, plan)
    base = pnl_base(user=user, f=f)
    key = PNL_KEYS[f.by]
    aggregates = _pnl_aggregates(f.by)
    margin = F("revenue") - F("costs")
    pct = ExpressionWrapper(
        margin * 100 / NullIf(F("revenue"), Value(ZERO)), output_field=RATIO_FIELD
    )
    order = F(PNL_SORT_KEYS.get(f.sort, f.sort)).desc(nulls_last=True)
    top = (
        base.values(key)
        .annotate(**aggregates)
        .annotate(margin=ExpressionWrapper(margin, output_field=RATIO_FIELD), margin_pct=pct)
        .order_by(order, key)[: f.top]
    )
    return {"top": top, "totals": _pnl_totals_qs(base, aggregates)}


def _pnl_totals_qs(base: QuerySet, aggregates: dict) -> QuerySet:
    """One row of totals as a queryset (so its SQL can be shown): GROUP BY a constant."""
    return (
        base.order_by()
        .annotate(grouping=Value(1))
        .values("grouping")
        .annotate(**aggregates)
        .values(*aggregates.keys())
    )


def _pnl_row(r: dict) -> dict:
    revenue, cost = _m(r["revenue"]), _m(r["costs"])
    row = {
        "orders": r["orders"],
        "revenue": revenue,
        "cost": cost,
        "discounts": _m(r["discounts"]),
        "margin": revenue - cost,
        "margin_pct": _pct(revenue - cost, revenue),
    }
    if "qty" in r:
        row["quantity"] = Decimal(r["qty"]).quantize(Decimal("0.001"))
    return row


def _pnl_labels(by: str, ids: list) -> dict:
    from kliento.customers.models import Company, Contact
    from kliento.sales.catalog.models import Product

    ids = [i for i in ids if i is not None]
    if by == "company":
        return dict(Company.objects.filter(pk__in=ids).values_list("pk", "name"))
    if by == "contact":
        return {c.pk: c.full_name for c in Contact.objects.filter(pk__in=ids)}
    return {
        p.pk: f"{p.name} ({p.sku})" for p in Product.objects.filter(pk__in=ids).only("name", "sku")
    }


@dataclass(frozen=True)
class RollupPlan:
    """How P&L by product adds up its period from the product rollup: the rollup's months
    [months_from, months_to), plus the order lines of the `plus` day spans (the days of a
    partial month inside the period), minus those of the `minus` spans (the days of a month
    taken whole from the rollup that lie outside the period). Each partial month takes the
    cheaper side: "3 January to today" reads January and this month from the rollup, minus
    1–2 January and the days after today, which hold no orders. Spans are [first day, day
    after)."""

    owners: set[int] | None  # None: every owner
    months_from: dt.date
    months_to: dt.date
    plus: tuple[tuple[dt.date, dt.date], ...]
    minus: tuple[tuple[dt.date, dt.date], ...]


def _past_days(spans, today: dt.date) -> int:
    """What reading the spans' order lines costs, roughly: their days up to today (later
    days hold no orders, or few)."""
    last = today + dt.timedelta(days=1)
    return sum(max(0, (min(b, last) - a).days) for a, b in spans)


def _rollup_plan(user: User, f: PnlFilters) -> RollupPlan | None:
    """The plan when the rollup can answer, else None: no period, another time zone active
    than the rollup's, or the user sees orders shared with them one by one."""
    if not (f.date_from and f.date_to) or f.date_from > f.date_to:
        return None
    if timezone.get_current_timezone_name() != timezone.get_default_timezone_name():
        return None
    owners = visible_user_ids(user)
    if owners is not None and RecordShare.objects.filter(user_id=user.pk, entity="order").exists():
        return None
    if f.owner:
        owners = {f.owner} if owners is None else owners & {f.owner}
    if f.team:
        members = team_members(f.team)
        owners = members if owners is None else owners & members

    day_after = f.date_to + dt.timedelta(days=1)
    today = timezone.localdate()
    first, last = rollup.first_of_month(f.date_from), rollup.first_of_month(f.date_to)
    months_from, months_to = first, rollup.next_month(last)
    plus: list[tuple[dt.date, dt.date]] = []
    minus: list[tuple[dt.date, dt.date]] = []
    for month in sorted({first, last}):
        end = rollup.next_month(month)
        inside = (max(f.date_from, month), min(day_after, end))
        outside = [(month, inside[0]), (inside[1], end)]
        outside = [(a, b) for a, b in outside if a < b]
        if not outside:
            continue  # the whole month is in the period
        if _past_days(outside, today) < _past_days([inside], today):
            minus += outside
        else:
            plus.append(inside)
            if month == months_from:
                months_from = end
            if month == last:
                months_to = month
    return RollupPlan(owners, months_from, months_to, tuple(plus), tuple(minus))


def _spans_q(spans, prefix: str = "") -> Q:
    """Orders of the day spans that bring revenue."""
    q = Q()
    for a, b in spans:
        q |= Q(**{f"{prefix}ordered_at__gte": start_of(a), f"{prefix}ordered_at__lt": start_of(b)})
    return q & ~Q(**{f"{prefix}status__in": NO_REVENUE_STATUSES})


def _pnl_product_querysets(user: User, f: PnlFilters, plan: RollupPlan) -> dict[str, QuerySet]:
    """P&L by product from the rollup and the order lines of the plan's day spans: per
    product, and each span group's number of orders (from the orders alone: every order has
    at least one line)."""
    querysets: dict[str, QuerySet] = {}
    if plan.months_from < plan.months_to:
        months = ProductMonth.objects.filter(month__gte=plan.months_from, month__lt=plan.months_to)
        if plan.owners is not None:
            months = months.filter(owner_id__in=sorted(plan.owners))
        querysets["months"] = (
            months.values("product_key")
            .annotate(
                orders_sum=Sum("orders"),
                qty=Sum("quantity"),
                revenue=Sum("revenue"),
                costs=Sum("cost", output_field=RATIO_FIELD),
                discounts=Sum("discounts", output_field=RATIO_FIELD),
            )
            .order_by()
        )
    for sign, spans in (("plus", plan.plus), ("minus", plan.minus)):
        if not spans:
            continue

        querysets[f"{sign}_lines"] = (
            OrderLine.objects.filter(
                owner_filter_q(user, f, entity="order", prefix="order__"),
                _spans_q(spans, "order__"),
            )
            .values("product_id")
            .annotate(**line_aggregates())
            .order_by()
        )
        orders = Order.objects.filter(owner_filter_q(user, f, entity="order"), _spans_q(spans))
        querysets[f"{sign}_orders"] = (
            orders.order_by()
            .annotate(grouping=Value(1))
            .values("grouping")
            .annotate(orders=Count("id"))
            .values("orders")
        )
    return querysets


PNL_MEASURES = ("orders", "qty", "revenue", "costs", "discounts")


def _pnl_product_rows(qs: dict[str, QuerySet], f: PnlFilters) -> tuple[list[dict], dict]:
    """Add up the rollup's and the day spans' sums per product; the top rows and the totals."""
    sums: dict[int | None, dict] = {}
    orders = 0  # each order once, though it may have several products

    def add(product_id, r: dict, sign: int) -> None:
        row = sums.get(product_id)
        if row is None:
            row = sums[product_id] = {"product_id": product_id, "orders": 0}
            row.update(dict.fromkeys(PNL_MEASURES[1:], ZERO))
        row["orders"] += sign * int(r["orders"] or 0)
        for m in PNL_MEASURES[1:]:
            row[m] += sign * Decimal(r[m] or 0)

    for r in qs.get("months", ()):
        if r["product_key"] == ALL_PRODUCTS:
            orders += r["orders_sum"] or 0
        else:
            add(r["product_key"] or None, {**r, "orders": r["orders_sum"]}, 1)
    for sign, name in ((1, "plus"), (-1, "minus")):
        for r in qs.get(f"{name}_lines", ()):
            add(r["product_id"], r, sign)
        for r in qs.get(f"{name}_orders", ()):
            orders += sign * (r["orders"] or 0)
    totals = {"orders": orders, **dict.fromkeys(PNL_MEASURES[1:], ZERO)}
    rows = [row for row in sums.values() if row["orders"]]  # none left after the minus spans
    for row in rows:
        for m in PNL_MEASURES[1:]:
            totals[m] += row[m]
        row["margin"] = row["revenue"] - row["costs"]
        row["margin_pct"] = row["margin"] * 100 / row["revenue"] if row["revenue"] else None
    key = PNL_SORT_KEYS.get(f.sort, f.sort)
    rows.sort(
        key=lambda r: (
            r[key] is None,
            -(r[key] or 0),
            r["product_id"] is None,
            r["product_id"] or 0,
        )
    )
    return rows[: f.top], totals


def pnl(*, user: User, f: PnlFilters) -> dict:
    qs = pnl_querysets(user=user, f=f)
    key = PNL_KEYS[f.by]
    if "top" not in qs:
        raw, total_row = _pnl_product_rows(qs, f)
        total_rows = [total_row]
    else:
        raw = list(qs["top"])
        total_rows = list(qs["totals"])
    labels = _pnl_labels(f.by, [r[key] for r in raw])

    none_label = {
        "company": _("No company"),
        "contact": _("No contact"),
        "product": _("No product"),
    }[f.by]
    rows = [
        {
            "key": r[key] if r[key] is not None else "none",
            "label": labels.get(r[key], none_label) if r[key] is not None else none_label,
            **_pnl_row(r),
        }
        for r in raw
    ]
    totals = (
        _pnl_row(total_rows[0])
        if total_rows
        else _pnl_row({"orders": 0, "revenue": 0, "costs": 0, "discounts": 0})
    )
    others = None
    shown_revenue = sum((r["revenue"] for r in rows), ZERO)
    if len(rows) == f.top and shown_revenue != totals["revenue"]:
        others = {
            m: totals[m] - sum((r[m] for r in rows), ZERO)
            for m in ("revenue", "cost", "discounts", "margin")
        }
        others["margin_pct"] = _pct(others["margin"], others["revenue"])
    return {"rows": rows, "totals": totals, "others": others, "currency": company_currency()}


def pnl_records(*, user: User, f: PnlFilters, key: str | None) -> QuerySet:
    """The orders (or, by product, the order lines) behind one P&L row; key None: all."""
    base = pnl_base(user=user, f=f)
    field = PNL_KEYS[f.by]
    if key == "none":
        base = base.filter(**{f"{field}__isnull": True})
    elif key is not None:
        base = base.filter(**{field: int(key)})
    if f.by == "product":
        return (
            base.annotate(
                revenue=company_amount("net", "order__"),
                line_cost=ExpressionWrapper(F("quantity") * F("cost"), output_field=RATIO_FIELD),
                discount_company=company_amount("discount", "order__"),
            )
            .select_related("order", "product", "order__company", "order__contact")
            .order_by("-order__ordered_at", "-order_id", "id")
        )
    return (
        base.annotate(discount_company=company_amount("discount_total"))
        .select_related("company", "contact", "owner")
        .order_by("-ordered_at", "-id")
    )


# --- the benchmark's view ---------------------------------------------------------------------


def forecast_sql(*, user: User, f: ForecastFilters) -> dict[str, tuple[str, tuple]]:
    return report_sql(forecast_querysets(user=user, f=f))


def cycle_sql(*, user: User, f: CycleFilters) -> dict[str, tuple[str, tuple]]:
    return report_sql(cycle_querysets(user=user, f=f))


def activity_sql(*, user: User, f: ActivityFilters) -> dict[str, tuple[str, tuple]]:
    return report_sql(activity_querysets(user=user, f=f))


def pnl_sql(*, user: User, f: PnlFilters) -> dict[str, tuple[str, tuple]]:
    return report_sql(pnl_querysets(user=user, f=f))


def reports_catalogue() -> dict:
    """name → (filter parser, report function, SQL function): what bench/ times.

    Time `report(user=..., f=parse(params))` (the app) against
    `run_sql(sql(user=..., f=parse(params)))` (the same SQL straight through the cursor).
    """
    from kliento.sales.reports import filters as flt

    return {
        "forecast": (flt.forecast_filters, forecast, forecast_sql),
        "sales_cycle": (flt.cycle_filters, sales_cycle, cycle_sql),
        "activity": (flt.activity_filters, activity, activity_sql),
        "pnl": (flt.pnl_filters, pnl, pnl_sql),
    }
