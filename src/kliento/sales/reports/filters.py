"""Report filters: parsed once from a query string, shared by the UI, the API and the exports.

A bad value raises ValidationFailedError naming the parameter (422 in the API, an inline error
in the UI); an unknown parameter is refused too, so a typo never silently widens a report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace

from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.errors import ValidationFailedError

MAX_MONTHS = 36
MAX_DAYS = 3660
MAX_TOP = 500
# Parameters every report page accepts besides its filters (export format, htmx).
PASSTHROUGH = frozenset({"format", "page"})


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _parse_id(value: str, name: str, errors: dict) -> int | None:
    if value in ("", None):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[name] = _("Enter a whole number.")
        return None
    if number <= 0:
        errors[name] = _("Enter a whole number.")
        return None
    return number


def _parse_date(value: str, name: str, errors: dict) -> dt.date | None:
    if value in ("", None):
        return None
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None


def _parse_month(value: str, name: str, errors: dict) -> dt.date | None:
    if value in ("", None):
        return None
    try:
        year, month = value.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return dt.date(int(year), int(month), 1)
    except (TypeError, ValueError):
        errors[name] = _("Enter a month as YYYY-MM.")
        return None


def _parse_choice(value: str, name: str, choices: tuple[str, ...], default: str, errors: dict):
    if value in ("", None):
        return default
    if value not in choices:
        errors[name] = _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}
        return default
    return value


def _check_unknown(params, known: set[str], errors: dict) -> None:
    for name in params:
        if name not in known and name not in PASSTHROUGH:
            errors[name] = _("Unknown filter.")


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationFailedError(_("Check the report filters."), fields=errors)


def _scalar(params, name: str) -> str:
    value = params.get(name, "")
    return value.strip() if isinstance(value, str) else value


@dataclass(frozen=True)
class BaseFilters:
    pipeline: int | None = None
    owner: int | None = None
    team: int | None = None

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links, exports and drill-downs)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == "":
                continue
            if isinstance(value, dt.date) and f.name.startswith("month"):
                out[f.name] = month_key(value)
            elif isinstance(value, dt.date):
                out[f.name] = value.isoformat()
            else:
                out[f.name] = str(value)
        return out

    def as_dict(self) -> dict:
        return self.query()


def _base(params, errors: dict) -> dict:
    return {
        "pipeline": _parse_id(_scalar(params, "pipeline"), "pipeline", errors),
        "owner": _parse_id(_scalar(params, "owner"), "owner", errors),
        "team": _parse_id(_scalar(params, "team"), "team", errors),
    }


def _check_ids_exist(values: dict, errors: dict) -> None:
    from kliento.core.models import Team, User
    from kliento.sales.deals.models import Pipeline

    for name, model in (("pipeline", Pipeline), ("owner", User), ("team", Team)):
        pk = values.get(name)
        if pk and name not in errors and not model.objects.filter(pk=pk).exists():
            errors[name] = _("No such record.")


def _period(params, errors: dict, default_from: dt.date, default_to: dt.date):
    date_from = _parse_date(_scalar(params, "date_from"), "date_from", errors)
    date_to = _parse_date(_scalar(params, "date_to"), "date_to", errors)
    date_from = date_from or default_from
    date_to = date_to or default_to
    if "date_from" not in errors and "date_to" not in errors:
        if date_to < date_from:
            errors["date_to"] = _("The end of the period is before its start.")
        elif (date_to - date_from).days > MAX_DAYS:
            errors["date_to"] = _("Choose a period of at most ten years.")
    return date_from, date_to


# --- forecast ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastFilters(BaseFilters):
    month_from: dt.date = field(default_factory=lambda: _month_start(timezone.localdate()))
    month_to: dt.date = field(
        default_factory=lambda: add_months(_month_start(timezone.localdate()), 5)
    )

    @property
    def months(self) -> list[dt.date]:
        out, day = [], self.month_from
        while day <= self.month_to:
            out.append(day)
            day = add_months(day, 1)
        return out

    @property
    def end(self) -> dt.date:
        """The first day after the range."""
        return add_months(self.month_to, 1)


def forecast_filters(params) -> ForecastFilters:
    errors: dict[str, str] = {}
    _check_unknown(params, {"pipeline", "owner", "team", "month_from", "month_to"}, errors)
    values = _base(params, errors)
    start = _month_start(timezone.localdate())
    month_from = _parse_month(_scalar(params, "month_from"), "month_from", errors) or start
    month_to = _parse_month(_scalar(params, "month_to"), "month_to", errors) or add_months(
        month_from, 5
    )
    if "month_from" not in errors and "month_to" not in errors:
        span = (month_to.year - month_from.year) * 12 + month_to.month - month_from.month
        if span < 0:
            errors["month_to"] = _("The last month is before the first one.")
        elif span >= MAX_MONTHS:
            errors["month_to"] = _("Choose at most %(n)s months.") % {"n": MAX_MONTHS}
    _check_ids_exist(values, errors)
    _raise(errors)
    return ForecastFilters(**values, month_from=month_from, month_to=month_to)


# --- sales cycle ------------------------------------------------------------------------------

CYCLE_BASES = ("closed", "created")
CYCLE_GROUPS = ("owner", "pipeline", "month")


@dataclass(frozen=True)
class CycleFilters(BaseFilters):
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    basis: str = "closed"
    group: str = "owner"


def _default_period() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return add_months(_month_start(today), -11), today


def cycle_filters(params) -> CycleFilters:
    errors: dict[str, str] = {}
    _check_unknown(
        params, {"pipeline", "owner", "team", "date_from", "date_to", "basis", "group"}, errors
    )
    values = _base(params, errors)
    date_from, date_to = _period(params, errors, *_default_period())
    basis = _parse_choice(_scalar(params, "basis"), "basis", CYCLE_BASES, "closed", errors)
    group = _parse_choice(_scalar(params, "group"), "group", CYCLE_GROUPS, "owner", errors)
    _check_ids_exist(values, errors)
    _raise(errors)
    return CycleFilters(**values, date_from=date_from, date_to=date_to, basis=basis, group=group)


# --- employee activity ------------------------------------------------------------------------

ACTIVITY_GROUPS = ("user", "team")


@dataclass(frozen=True)
class ActivityFilters(BaseFilters):
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    group: str = "user"


def activity_filters(params) -> ActivityFilters:
    errors: dict[str, str] = {}
    _check_unknown(params, {"owner", "team", "date_from", "date_to", "group"}, errors)
    values = _base(params, errors)
    today = timezone.localdate()
    date_from, date_to = _period(params, errors, _month_start(today), today)
    group = _parse_choice(_scalar(params, "group"), "group", ACTIVITY_GROUPS, "user", errors)
    _check_ids_exist(values, errors)
    _raise(errors)
    return ActivityFilters(**values, date_from=date_from, date_to=date_to, group=group)


# --- profit and loss --------------------------------------------------------------------------

PNL_GROUPS = ("company", "contact", "product")
PNL_SORTS = ("revenue", "margin", "margin_pct", "cost", "discounts", "orders")


@dataclass(frozen=True)
class PnlFilters(BaseFilters):
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    by: str = "company"
    sort: str = "revenue"
    top: int = 20


def pnl_filters(params) -> PnlFilters:
    errors: dict[str, str] = {}
    _check_unknown(params, {"owner", "team", "date_from", "date_to", "by", "sort", "top"}, errors)
    values = _base(params, errors)
    date_from, date_to = _period(params, errors, *_default_period())
    by = _parse_choice(_scalar(params, "by"), "by", PNL_GROUPS, "company", errors)
    sort = _parse_choice(_scalar(params, "sort"), "sort", PNL_SORTS, "revenue", errors)
    top = 20
    raw_top = _scalar(params, "top")
    if raw_top not in ("", None):
        try:
            top = int(raw_top)
            if not 1 <= top <= MAX_TOP:
                raise ValueError
        except (TypeError, ValueError):
            errors["top"] = _("Enter a number from 1 to %(max)s.") % {"max": MAX_TOP}
            top = 20
    _check_ids_exist(values, errors)
    _raise(errors)
    return PnlFilters(**values, date_from=date_from, date_to=date_to, by=by, sort=sort, top=top)


def with_changes(filters, **changes):
    return replace(filters, **changes)
