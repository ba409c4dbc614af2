"""Every change to deals and pipelines: validated, transactional, audited, on the timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from kliento.core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, User
from kliento.core.permissions import can_read, can_write, is_admin, scope_for
from kliento.core.services import audit_diff, audit_record
from kliento.customers.models import Company, Contact, Direction, Interaction, InteractionKind
from kliento.customers.selectors import parse_id
from kliento.sales.catalog.models import MAX_MONEY, PriceList, PriceListItem, Product
from kliento.sales.catalog.money import (
    beyond_max,
    beyond_max_message,
    company_currency,
    money,
    to_company,
)
from kliento.sales.deals.models import (
    Deal,
    DealProduct,
    DealStatus,
    ForecastCategory,
    LossReason,
    Pipeline,
    Stage,
    StageChange,
)

TEXT_FIELDS = ("name", "competitors", "next_step", "source")
# Foreign keys are given as ids under the plain name ("contact": 7); "contact_id" works too.
FK_FIELDS = ("pipeline", "stage", "contact", "company", "owner", "price_list")
DEAL_FIELDS = (
    set(TEXT_FIELDS)
    | set(FK_FIELDS)
    | {
        "amount",
        "currency",
        "expected_close",
        "next_step_at",
        "forecast_category",
        "tags",
    }
)
AUDITED = [
    "name",
    "pipeline_id",
    "stage_id",
    "status",
    "amount",
    "currency",
    "expected_close",
    "forecast_category",
    "contact_id",
    "company_id",
    "owner_id",
    "price_list_id",
    "competitors",
    "next_step",
    "next_step_at",
    "source",
    "tags",
    "loss_reason_id",
    "loss_note",
]


# --- guards -------------------------------------------------------------------------------


def _require_admin(user: User) -> None:
    if not is_admin(user):
        raise PermissionDeniedError(_("Only administrators can change pipelines."))


def _require_may_write(user: User) -> None:
    if not scope_for(user).may_write:
        raise PermissionDeniedError(_("Your role is read-only."))


def _require_write(user: User | None, deal: Deal) -> None:
    """The acting user may change the deal. `user=None` is the system acting on its own
    (a customer accepting a quote through its public link), which needs no rights."""
    if user is None:
        return
    if not can_read(user, "deal", deal):
        raise NotFoundError(_("No deal with id %(id)s.") % {"id": deal.pk})
    if not can_write(user, "deal", deal):
        raise PermissionDeniedError(_("You can view this deal but not change it."))


def _check_version(deal: Deal, expected_version: int | None) -> None:
    if expected_version is not None and deal.version != expected_version:
        raise StaleVersionError(
            _(
                "This deal was changed by someone else (now version %(current)s, you had "
                "%(expected)s). Reload it and apply your change again."
            )
            % {"current": deal.version, "expected": expected_version}
        )


def _lock(deal: Deal) -> Deal:
    return (
        Deal.objects.select_for_update(of=("self",))
        .select_related("stage", "pipeline")
        .get(pk=deal.pk)
    )


def _snapshot(deal: Deal) -> dict[str, Any]:
    return {name: getattr(deal, name) for name in AUDITED}


def _audit(
    user: User, action: str, deal: Deal, before: dict[str, Any], extra: dict | None = None
) -> None:
    after = _snapshot(deal) if action != AuditLog.Action.DELETE else {}
    changes = {**audit_diff(before, after), **(extra or {})}
    audit_record(user=user, action=action, entity="deal", obj=deal, changes=changes)


def _given_date(name: str, value: dt.datetime | None) -> dict[str, list]:
    """The audit entry of a date given explicitly (an import), none for the default "now"."""
    return {name: [None, value.isoformat()]} if value is not None else {}


def _timeline(
    user: User | None, deal: Deal, subject: str, body: str = "", *, at: dt.datetime | None = None
) -> None:
    """A note on the deal's customer timeline (nothing when the deal has no customer), dated
    `at` (default now)."""
    if not deal.contact_id and not deal.company_id:
        return
    Interaction.objects.create(
        occurred_at=at or timezone.now(),
        kind=InteractionKind.NOTE,
        channel="other",
        direction=Direction.INTERNAL,
        contact_id=deal.contact_id,
        company_id=deal.company_id,
        related_type="deal",
        related_id=deal.pk,
        user=user,
        subject=subject[:255],
        body=body,
    )


def _stage_change(
    user: User | None,
    deal: Deal,
    *,
    from_stage: Stage | None,
    to_stage: Stage,
    status: str,
    now: dt.datetime,
    pipeline: Pipeline | None = None,
) -> StageChange:
    seconds = int((now - deal.stage_entered_at).total_seconds()) if from_stage else None
    return StageChange.objects.create(
        deal=deal,
        pipeline=pipeline or deal.pipeline,
        from_stage=from_stage,
        to_stage=to_stage,
        status=status,
        at=now,
        seconds_in_from=max(seconds, 0) if seconds is not None else None,
        user=user,
    )


def _past_moment(value: dt.datetime, field: str, now: dt.datetime) -> dt.datetime:
    """A date the caller gives instead of "now" (the real dates of a deal brought over from
    another system): aware (a naive one is in the current time zone) and not in the future."""
    if not isinstance(value, dt.datetime):
        raise ValidationFailedError(
            _("Some fields are invalid."), fields={field: _("Expected a date and time.")}
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now:
        raise ValidationFailedError(
            _("Some fields are invalid."), fields={field: _("The date is in the future.")}
        )
    return value


def _as_stage(stage: Stage | int | str) -> Stage:
    if isinstance(stage, Stage):
        return stage
    stage_id = parse_id(stage)
    found = (
        Stage.objects.select_related("pipeline").filter(pk=stage_id).first() if stage_id else None
    )
    if found is None:
        raise ValidationFailedError(
            _("Some fields are invalid."),
            fields={"stage": _("No stage with id %(id)s.") % {"id": stage}},
        )
    return found


# --- cleaning -----------------------------------------------------------------------------


def _decimal(value: Any, field: str, errors: dict[str, str], *, places: int = 2) -> Decimal | None:
    if value in (None, ""):
        return Decimal("0")
    if isinstance(value, bool):
        errors[field] = _("Expected a number.")
        return None
    try:
        number = Decimal(str(value).replace(" ", "").replace(",", "."))
    except (InvalidOperation, ValueError):
        errors[field] = _("Expected a number.")
        return None
    if not number.is_finite():
        errors[field] = _("Expected a number.")
        return None
    if number < 0:
        errors[field] = _("Must not be negative.")
        return None
    if number > MAX_MONEY:
        errors[field] = _("The number is too large.")
        return None
    return number.quantize(Decimal(1).scaleb(-places))


def _day(value: Any, field: str, errors: dict[str, str]) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        day = parse_date(str(value).strip())
    except ValueError:
        day = None
    if day is None or not (1900 <= day.year <= 2200):
        errors[field] = _("Expected a date as YYYY-MM-DD, got %(value)s.") % {"value": repr(value)}
    return day


def _fk(data: dict[str, Any], name: str) -> tuple[bool, Any]:
    """(present, raw id) for `name` or `name_id`."""
    for key in (name, f"{name}_id"):
        if key in data:
            value = data[key]
            return True, getattr(value, "pk", value)
    return False, None


def _deal_clean(user: User, data: dict[str, Any], deal: Deal | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    allowed = DEAL_FIELDS | {f"{name}_id" for name in FK_FIELDS}
    for key in data:
        if key not in allowed:
            errors[key] = _("Unknown field.")
    for name in TEXT_FIELDS:
        if name in data:
            raw = data[name]
            if raw is not None and not isinstance(raw, str):
                errors[name] = _("Expected text.")
                continue
            text = (raw or "").strip()
            max_length = Deal._meta.get_field(name).max_length
            if len(text) > max_length:
                errors[name] = _("At most %(n)s characters.") % {"n": max_length}
            values[name] = text
    if deal is None and not values.get("name") or "name" in values and not values["name"]:
        errors.setdefault("name", _("A deal needs a name."))
    if "amount" in data:
        amount = _decimal(data["amount"], "amount", errors)
        if amount is not None:
            values["amount"] = amount
    if "currency" in data:
        currency = str(data["currency"] or "").strip().upper()
        if currency and (len(currency) != 3 or not currency.isalpha()):
            errors["currency"] = _("Expected a three-letter currency code such as RUB.")
        values["currency"] = currency or company_currency()
    elif deal is None:
        values["currency"] = company_currency()
    for name in ("expected_close", "next_step_at"):
        if name in data:
            values[name] = _day(data[name], name, errors)
    if "forecast_category" in data:
        category = data["forecast_category"] or ForecastCategory.PIPELINE
        if category not in ForecastCategory.values:
            errors["forecast_category"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(category),
                "allowed": ", ".join(ForecastCategory.values),
            }
        values["forecast_category"] = category
    if "tags" in data:
        tags = data["tags"] or []
        if isinstance(tags, str):
            tags = tags.split(",")
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            errors["tags"] = _("Expected a list of tags.")
        else:
            text = ",".join(t.strip() for t in tags if t.strip())
            if len(text) > 500:
                errors["tags"] = _("Too many tags (500 characters at most).")
            values["tags"] = text
    _clean_pipeline_stage(data, deal, values, errors)
    _clean_customer(user, data, values, errors)
    _clean_owner(user, data, values, errors)
    present, raw = _fk(data, "price_list")
    if present:
        values["price_list"] = None
        if raw not in (None, ""):
            plist_id = parse_id(raw)
            plist = PriceList.objects.filter(pk=plist_id, active=True).first() if plist_id else None
            if plist is None:
                errors["price_list"] = _("No active price list with id %(id)s.") % {"id": raw}
            else:
                values["price_list"] = plist
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return values


def _clean_pipeline_stage(
    data: dict[str, Any], deal: Deal | None, values: dict[str, Any], errors: dict[str, str]
) -> None:
    has_pipeline, raw_pipeline = _fk(data, "pipeline")
    has_stage, raw_stage = _fk(data, "stage")
    pipeline = None
    if has_pipeline and raw_pipeline not in (None, ""):
        pipeline_id = parse_id(raw_pipeline)
        pipeline = Pipeline.objects.filter(pk=pipeline_id).first() if pipeline_id else None
        if pipeline is None:
            errors["pipeline"] = _("No pipeline with id %(id)s.") % {"id": raw_pipeline}
            return
    stage = None
    if has_stage and raw_stage not in (None, ""):
        stage_id = parse_id(raw_stage)
        stage = Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
        if stage is None:
            errors["stage"] = _("No stage with id %(id)s.") % {"id": raw_stage}
            return
    if deal is not None:
        if pipeline is not None and pipeline.pk != deal.pipeline_id:
            errors["pipeline"] = _(
                "To move a deal to another pipeline use the “Move to pipeline” action."
            )
        if stage is not None:
            values["stage"] = stage
        return
    if pipeline is None and stage is not None:
        pipeline = stage.pipeline
    if pipeline is None:
        from kliento.sales.deals.selectors import pipeline_default

        pipeline = pipeline_default()
        if pipeline is None:
            errors["pipeline"] = _("There is no pipeline yet: an administrator creates one.")
            return
    if stage is None:
        stage = pipeline.stages.order_by("position", "id").first()
        if stage is None:
            errors["stage"] = _("The pipeline %(name)s has no stages.") % {"name": pipeline.name}
            return
    if stage.pipeline_id != pipeline.pk:
        errors["stage"] = _("The stage %(stage)s is not in the pipeline %(pipeline)s.") % {
            "stage": stage.name,
            "pipeline": pipeline.name,
        }
        return
    values["pipeline"] = pipeline
    values["stage"] = stage


def _clean_customer(
    user: User, data: dict[str, Any], values: dict[str, Any], errors: dict[str, str]
) -> None:
    for name, model, message in (
        ("contact", Contact, _("No contact with id %(id)s.")),
        ("company", Company, _("No company with id %(id)s.")),
    ):
        present, raw = _fk(data, name)
        if not present:
            continue
        values[name] = None
        if raw in (None, ""):
            continue
        object_id = parse_id(raw)
        obj = model.objects.filter(pk=object_id).first() if object_id else None
        # A customer the user cannot see is reported exactly like a missing one.
        if obj is None or not can_read(user, name, obj):
            errors[name] = message % {"id": raw}
            continue
        values[name] = obj


def _clean_owner(
    user: User, data: dict[str, Any], values: dict[str, Any], errors: dict[str, str]
) -> None:
    present, raw = _fk(data, "owner")
    if not present or raw in (None, ""):
        return
    owner_id = parse_id(raw)
    owner = User.objects.filter(pk=owner_id, is_active=True).first() if owner_id else None
    if owner is None:
        errors["owner"] = _("No active user with id %(id)s.") % {"id": raw}
        return
    scope = scope_for(user)
    if owner.pk != user.pk and not scope.write_all and owner.pk not in scope.owner_ids:
        errors["owner"] = _("You can only assign deals to yourself or your team.")
        return
    values["owner"] = owner


def _amount_company(deal: Deal) -> None:
    try:
        deal.amount_company = to_company(deal.amount, deal.currency)
    except ValidationFailedError as exc:
        raise ValidationFailedError(_("Some fields are invalid."), fields=exc.fields) from None
    if beyond_max(deal.amount, deal.amount_company):
        # Its products add up past what is kept, or the rate takes it there.
        raise ValidationFailedError(
            _("Some fields are invalid."), fields={"amount": beyond_max_message()}
        )


# --- deals --------------------------------------------------------------------------------


@transaction.atomic
def deal_create(*, user: User, data: dict[str, Any], created_at: dt.datetime | None = None) -> Deal:
    """A new open deal in the given (or default) pipeline's given (or first) stage.

    `created_at` (default now) is for imports and the system only, not a field a person
    sets: a deal brought over from another CRM keeps the day it was really opened, so its
    age and the sales cycle count from then. It must not be in the future."""
    _require_may_write(user)
    values = _deal_clean(user, data, None)
    values.setdefault("owner", user)
    now = timezone.now()
    since = now if created_at is None else _past_moment(created_at, "created_at", now)
    deal = Deal(**values, stage_entered_at=since, created_at=since, updated_at=now)
    _amount_company(deal)
    deal.save()
    _stage_change(
        user, deal, from_stage=None, to_stage=deal.stage, status=DealStatus.OPEN, now=since
    )
    _audit(
        user,
        AuditLog.Action.CREATE,
        deal,
        {},
        _given_date("created_at", since if created_at else None),
    )
    _timeline(
        user,
        deal,
        _("Deal created: %(name)s (%(stage)s)") % {"name": deal.name, "stage": deal.stage.name},
        at=since,
    )
    return deal


@transaction.atomic
def deal_update(
    *, user: User, deal: Deal, data: dict[str, Any], expected_version: int | None = None
) -> Deal:
    """Change fields; a new stage of the same pipeline is recorded as a move."""
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    values = _deal_clean(user, data, deal)
    before = _snapshot(deal)
    stage = values.pop("stage", None)
    if stage is not None and stage.pk != deal.stage_id:
        if deal.status != DealStatus.OPEN:
            raise ConflictError(_("This deal is closed; reopen it before moving it."))
        if stage.pipeline_id != deal.pipeline_id:
            raise BadRequestError(
                _("The stage %(stage)s belongs to another pipeline.") % {"stage": stage.name}
            )
        _apply_move(user, deal, stage)
    for key, value in values.items():
        setattr(deal, key, value)
    if {"amount", "currency"} & set(values):
        _amount_company(deal)
    deal.version += 1
    deal.updated_at = timezone.now()
    deal.save()
    _audit(user, AuditLog.Action.UPDATE, deal, before)
    return deal


@transaction.atomic
def deal_delete(*, user: User, deal: Deal, expected_version: int | None = None) -> None:
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    from kliento.sales.orders.models import Order

    if Order.objects.filter(deal_id=deal.pk).exists():
        raise ConflictError(_("This deal has orders; close it as won or lost instead."))
    before = _snapshot(deal)
    audit_record(
        user=user,
        action=AuditLog.Action.DELETE,
        entity="deal",
        obj=deal,
        changes={key: [value, None] for key, value in audit_diff({}, before).items()},
    )
    _timeline(user, deal, _("Deal deleted: %(name)s") % {"name": deal.name})
    # The timeline keeps the deal's notes; they no longer point at a deal that is gone.
    Interaction.objects.filter(related_type="deal", related_id=deal.pk).update(related_id=None)
    from kliento.customers.models import RecordShare

    RecordShare.objects.filter(entity="deal", object_id=deal.pk).delete()
    deal.delete()


def _apply_move(
    user: User,
    deal: Deal,
    stage: Stage,
    *,
    pipeline: Pipeline | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Record the move of a locked deal into `stage` on `at` (default now; the caller saves)."""
    now = at or timezone.now()
    previous = deal.stage
    _stage_change(
        user,
        deal,
        from_stage=previous,
        to_stage=stage,
        status=DealStatus.OPEN,
        now=now,
        pipeline=pipeline,
    )
    deal.stage = stage
    if pipeline is not None:
        deal.pipeline = pipeline
    deal.stage_entered_at = now
    _timeline(
        user,
        deal,
        _("Deal %(name)s moved: %(from)s → %(to)s")
        % {"name": deal.name, "from": previous.name, "to": stage.name},
        at=at,
    )


def _not_before_creation(deal: Deal, at: dt.datetime, field: str) -> None:
    if at < deal.created_at:
        raise ValidationFailedError(
            _("Some fields are invalid."),
            fields={
                field: _("The deal was created on %(created)s, after this date.")
                % {"created": timezone.localtime(deal.created_at).strftime("%Y-%m-%d %H:%M")}
            },
        )


def _move_moment(deal: Deal, at: dt.datetime) -> dt.datetime:
    """A move date given instead of "now" (an import): not in the future, nor before the deal
    was created or its previous row of stage history (a move, a close, a reopen), so the
    history reads in order and no time in a stage is negative. The same instant passes."""
    at = _past_moment(at, "at", timezone.now())
    _not_before_creation(deal, at, "at")
    last = StageChange.objects.filter(deal=deal).aggregate(last=Max("at"))["last"]
    last = max(d for d in (last, deal.stage_entered_at) if d is not None)
    if at < last:
        raise ValidationFailedError(
            _("Some fields are invalid."),
            fields={
                "at": _("The move can't be before the deal's previous stage change on %(date)s.")
                % {"date": timezone.localtime(last).strftime("%Y-%m-%d %H:%M")}
            },
        )
    return at


@transaction.atomic
def deal_move(
    *,
    user: User,
    deal: Deal,
    stage: Stage | int | str,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
) -> Deal:
    """Move an open deal to another stage of its pipeline (another pipeline's stage → 400).

    `at` (default now) is for imports and the system only, like `closed_at` of `deal_win`:
    the real date of a move brought over from another CRM, not in the future, nor before the
    deal was created or its previous stage change."""
    stage = _as_stage(stage)
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    if stage.pipeline_id != deal.pipeline_id:
        raise BadRequestError(
            _(
                "The stage %(stage)s belongs to another pipeline; use “Move to pipeline” "
                "to change the pipeline."
            )
            % {"stage": stage.name}
        )
    if deal.status != DealStatus.OPEN:
        raise ConflictError(_("This deal is closed; reopen it before moving it."))
    if stage.pk == deal.stage_id:
        return deal
    moved_at = None if at is None else _move_moment(deal, at)
    before = _snapshot(deal)
    _apply_move(user, deal, stage, at=moved_at)
    deal.version += 1
    deal.updated_at = timezone.now()
    deal.save(update_fields=["stage", "stage_entered_at", "version", "updated_at"])
    _audit(user, AuditLog.Action.UPDATE, deal, before, _given_date("moved_at", moved_at))
    return deal


@transaction.atomic
def deal_change_pipeline(
    *,
    user: User,
    deal: Deal,
    stage: Stage | int | str,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
) -> Deal:
    """The explicit move to another pipeline, into the chosen stage of it. `at`: as for
    `deal_move`."""
    stage = _as_stage(stage)
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    if deal.status != DealStatus.OPEN:
        raise ConflictError(_("This deal is closed; reopen it before moving it."))
    if stage.pk == deal.stage_id:
        return deal
    moved_at = None if at is None else _move_moment(deal, at)
    before = _snapshot(deal)
    _apply_move(user, deal, stage, pipeline=stage.pipeline, at=moved_at)
    deal.version += 1
    deal.updated_at = timezone.now()
    deal.save(update_fields=["pipeline", "stage", "stage_entered_at", "version", "updated_at"])
    _audit(user, AuditLog.Action.UPDATE, deal, before, _given_date("moved_at", moved_at))
    return deal


def _check_after_last_stage_change(deal: Deal, at: dt.datetime) -> None:
    """A given close date is not before the deal last entered a stage (its creation, a move,
    a change of pipeline), or its stage history would read the close before the move.

    The same instant passes: a deal imported closed without a created date starts on its close
    date. A close or a reopen (a row from the deal's stage to itself) is no stage change: the
    import closes a deal it reopened now (another outcome or loss reason) on the file's date."""
    last = (
        StageChange.objects.filter(deal=deal)
        .filter(Q(from_stage__isnull=True) | ~Q(from_stage=F("to_stage")))
        .aggregate(last=Max("at"))["last"]
    )
    if last is not None and at < last:
        raise ValidationFailedError(
            _("Some fields are invalid."),
            fields={
                "closed_at": _("The close date can't be before the last stage change on %(date)s.")
                % {"date": timezone.localtime(last).strftime("%Y-%m-%d %H:%M")}
            },
        )


def _close_moment(deal: Deal, closed_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """A close date given instead of "now": not in the future, nor before the deal was created
    or last changed stage."""
    at = _past_moment(closed_at, "closed_at", now)
    _not_before_creation(deal, at, "closed_at")
    _check_after_last_stage_change(deal, at)
    return at


def _close(
    user: User | None,
    deal: Deal,
    status: str,
    expected_version: int | None,
    closed_at: dt.datetime | None,
) -> tuple[Deal, dict]:
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    if deal.status != DealStatus.OPEN:
        raise ConflictError(
            _("This deal is already won.")
            if deal.status == DealStatus.WON
            else _("This deal is already lost.")
        )
    now = timezone.now()
    at = now if closed_at is None else _close_moment(deal, closed_at, now)
    before = _snapshot(deal)
    _stage_change(user, deal, from_stage=deal.stage, to_stage=deal.stage, status=status, now=at)
    deal.status = status
    deal.closed_at = at
    deal.version += 1
    deal.updated_at = now
    return deal, before


@transaction.atomic
def deal_win(
    *,
    user: User | None,
    deal: Deal,
    expected_version: int | None = None,
    closed_at: dt.datetime | None = None,
) -> Deal:
    """Close an open deal as won (409 when it is closed already); `user=None`: the system.

    `closed_at` (default now) is for imports and the system only: the real close date of a
    deal brought over from another CRM, not in the future, nor before the deal was created or
    last changed stage."""
    deal, before = _close(user, deal, DealStatus.WON, expected_version, closed_at)
    deal.save(update_fields=["status", "closed_at", "version", "updated_at"])
    _audit(
        user,
        AuditLog.Action.UPDATE,
        deal,
        before,
        _given_date("closed_at", deal.closed_at if closed_at else None),
    )
    _timeline(
        user,
        deal,
        _("Deal won: %(name)s, %(amount)s %(currency)s")
        % {"name": deal.name, "amount": money(deal.amount), "currency": deal.currency},
        at=deal.closed_at,
    )
    return deal


@transaction.atomic
def deal_close_date_set(
    *,
    user: User | None,
    deal: Deal,
    closed_at: dt.datetime,
    expected_version: int | None = None,
) -> Deal:
    """Correct the close date of a won or lost deal in place (409 when it is open).

    For imports and the system only, like `closed_at` of `deal_win`: a file that corrects the
    date of a deal it closed before. The same rules apply (not in the future, nor before the
    deal was created or last changed stage), and the close in the stage history moves to the
    new date, so the history shows one close and no reopen; so does the close's note on the
    customer's timeline."""
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    if deal.status == DealStatus.OPEN:
        raise ConflictError(_("This deal is open; it has no close date to change."))
    now = timezone.now()
    at = _close_moment(deal, closed_at, now)
    if at == deal.closed_at:
        return deal
    previous = deal.closed_at
    close = StageChange.objects.filter(deal=deal, status=deal.status).order_by("-id").first()
    if close is not None:
        close.at = at
        if close.seconds_in_from is not None:
            seconds = int((at - deal.stage_entered_at).total_seconds())
            close.seconds_in_from = max(seconds, 0)
        close.save(update_fields=["at", "seconds_in_from"])
    # The timeline's note of the close is the deal's last note on the old date (a deal imported
    # closed without a created date has its creation note on the same instant, written before).
    note = (
        Interaction.objects.filter(
            related_type="deal", related_id=deal.pk, kind=InteractionKind.NOTE, occurred_at=previous
        )
        .order_by("-id")
        .first()
    )
    if note is not None:
        note.occurred_at = at
        note.save(update_fields=["occurred_at"])
    deal.closed_at = at
    deal.version += 1
    deal.updated_at = now
    deal.save(update_fields=["closed_at", "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="deal",
        obj=deal,
        changes={"closed_at": [previous.isoformat() if previous else None, at.isoformat()]},
    )
    return deal


@transaction.atomic
def deal_amount_from_quote(*, user: User | None, deal: Deal, quote) -> Deal:
    """The deal's amount becomes its accepted quote's total before tax (after discounts), in
    the quote's currency, converted to the company currency like any amount; `user=None`: the
    customer through the link. Tax is left out as in every deal amount, so won deals and the
    order's revenue count the same sale alike."""
    deal = _lock(deal)
    _require_write(user, deal)
    if (deal.amount, deal.currency) == (quote.net, quote.currency):
        return deal
    before = _snapshot(deal)
    deal.amount = quote.net
    deal.currency = quote.currency
    _amount_company(deal)
    deal.version += 1
    deal.updated_at = timezone.now()
    deal.save(update_fields=["amount", "currency", "amount_company", "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="deal",
        obj=deal,
        changes={
            **audit_diff(before, _snapshot(deal)),
            "quote": [None, f"{quote.number} v{quote.revision}"],
        },
    )
    _timeline(
        user,
        deal,
        _("Deal amount set from quote %(quote)s: %(amount)s %(currency)s")
        % {
            "quote": f"{quote.number} v{quote.revision}",
            "amount": money(deal.amount),
            "currency": deal.currency,
        },
    )
    return deal


@transaction.atomic
def deal_lose(
    *,
    user: User,
    deal: Deal,
    reason: LossReason | int | str | None,
    note: str = "",
    expected_version: int | None = None,
    closed_at: dt.datetime | None = None,
) -> Deal:
    """Close an open deal as lost, for a reason. `closed_at`: as for `deal_win`."""
    errors: dict[str, str] = {}
    if isinstance(reason, LossReason):
        loss_reason = reason
    else:
        reason_id = parse_id(reason) if reason not in (None, "") else None
        loss_reason = LossReason.objects.filter(pk=reason_id).first() if reason_id else None
        if loss_reason is None:
            errors["reason"] = (
                _("Choose why the deal was lost.")
                if reason in (None, "")
                else _("No loss reason with id %(id)s.") % {"id": reason}
            )
    note = (note or "").strip()
    if len(note) > 5000:
        errors["note"] = _("At most %(n)s characters.") % {"n": 5000}
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    deal, before = _close(user, deal, DealStatus.LOST, expected_version, closed_at)
    deal.loss_reason = loss_reason
    deal.loss_note = note
    deal.save(
        update_fields=["status", "closed_at", "loss_reason", "loss_note", "version", "updated_at"]
    )
    _audit(
        user,
        AuditLog.Action.UPDATE,
        deal,
        before,
        _given_date("closed_at", deal.closed_at if closed_at else None),
    )
    _timeline(
        user,
        deal,
        _("Deal lost: %(name)s (%(reason)s)") % {"name": deal.name, "reason": loss_reason.name},
        note,
        at=deal.closed_at,
    )
    return deal


@transaction.atomic
def deal_reopen(*, user: User, deal: Deal, expected_version: int | None = None) -> Deal:
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    if deal.status == DealStatus.OPEN:
        raise ConflictError(_("This deal is already open."))
    before = _snapshot(deal)
    now = timezone.now()
    StageChange.objects.create(
        deal=deal,
        pipeline=deal.pipeline,
        from_stage=deal.stage,
        to_stage=deal.stage,
        status=DealStatus.OPEN,
        at=now,
        user=user,
    )
    deal.status = DealStatus.OPEN
    deal.closed_at = None
    deal.loss_reason = None
    deal.loss_note = ""
    deal.stage_entered_at = now
    deal.version += 1
    deal.updated_at = now
    deal.save(
        update_fields=[
            "status",
            "closed_at",
            "loss_reason",
            "loss_note",
            "stage_entered_at",
            "version",
            "updated_at",
        ]
    )
    _audit(user, AuditLog.Action.UPDATE, deal, before)
    _timeline(user, deal, _("Deal reopened: %(name)s") % {"name": deal.name})
    return deal


# --- deal products ------------------------------------------------------------------------


def _recompute_amount(deal: Deal) -> None:
    total = sum(
        (line.quantity * line.price for line in DealProduct.objects.filter(deal=deal)),
        Decimal("0"),
    )
    deal.amount = money(total)
    _amount_company(deal)


@transaction.atomic
def deal_product_add(
    *,
    user: User,
    deal: Deal,
    product: Product | int | str,
    quantity: Any = 1,
    price: Any = None,
    recompute: bool = False,
    expected_version: int | None = None,
) -> DealProduct:
    """Add a product line; without a price, the deal's price list gives it (else 0)."""
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    errors: dict[str, str] = {}
    if not isinstance(product, Product):
        product_id = parse_id(getattr(product, "pk", product))
        found = Product.objects.filter(pk=product_id).first() if product_id else None
        if found is None:
            errors["product"] = _("No product with id %(id)s.") % {"id": product}
        product = found
    if product is not None and not product.active:
        errors["product"] = _("The product %(name)s is no longer sold.") % {"name": product.name}
    qty = _decimal(quantity, "quantity", errors, places=3)
    if qty is not None and qty <= 0:
        errors["quantity"] = _("Must be greater than zero.")
    unit_price = None
    if price not in (None, ""):
        unit_price = _decimal(price, "price", errors)
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    if unit_price is None:
        unit_price = Decimal("0")
        if deal.price_list_id:
            listed = (
                PriceListItem.objects.filter(price_list_id=deal.price_list_id, product=product)
                .values_list("price", flat=True)
                .first()
            )
            if listed is not None:
                unit_price = listed
    line = DealProduct.objects.create(deal=deal, product=product, quantity=qty, price=unit_price)
    before = _snapshot(deal)
    if recompute:
        _recompute_amount(deal)
    deal.version += 1
    deal.updated_at = timezone.now()
    deal.save(update_fields=["amount", "amount_company", "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="deal",
        obj=deal,
        changes={
            **audit_diff(before, _snapshot(deal)),
            "products": [None, f"+ {product.sku} × {qty} @ {unit_price}"],
        },
    )
    return line


@transaction.atomic
def deal_product_remove(
    *,
    user: User,
    deal: Deal,
    line_id: int | str,
    recompute: bool = False,
    expected_version: int | None = None,
) -> None:
    deal = _lock(deal)
    _require_write(user, deal)
    _check_version(deal, expected_version)
    pk = parse_id(line_id)
    line = DealProduct.objects.filter(deal=deal, pk=pk).select_related("product").first()
    if line is None:
        raise NotFoundError(_("No product line with id %(id)s on this deal.") % {"id": line_id})
    before = _snapshot(deal)
    line.delete()
    if recompute:
        _recompute_amount(deal)
    deal.version += 1
    deal.updated_at = timezone.now()
    deal.save(update_fields=["amount", "amount_company", "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="deal",
        obj=deal,
        changes={
            **audit_diff(before, _snapshot(deal)),
            "products": [f"{line.product.sku} × {line.quantity}", None],
        },
    )


# --- pipelines, stages, loss reasons (administrators) -------------------------------------


def _name(data: dict[str, Any], errors: dict[str, str], *, required: bool, max_length=200):
    if "name" not in data:
        if required:
            errors["name"] = _("A name is required.")
        return None
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        errors["name"] = _("A name is required.")
        return None
    name = name.strip()
    if len(name) > max_length:
        errors["name"] = _("At most %(n)s characters.") % {"n": max_length}
    return name


def _unknown(data: dict[str, Any], allowed: set[str], errors: dict[str, str]) -> None:
    for key in data:
        if key not in allowed:
            errors[key] = _("Unknown field.")


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)


def _admin_audit(user: User, action: str, entity: str, obj, changes: dict) -> None:
    audit_record(user=user, action=action, entity=entity, obj=obj, changes=changes)


@transaction.atomic
def pipeline_create(*, user: User, data: dict[str, Any]) -> Pipeline:
    """A pipeline; `stages` (a list of names or {name, probability, expected_days}) optional."""
    _require_admin(user)
    errors: dict[str, str] = {}
    _unknown(data, {"name", "is_default", "active", "stages"}, errors)
    name = _name(data, errors, required=True)
    stages = data.get("stages") or []
    if not isinstance(stages, list):
        errors["stages"] = _("Expected a list of stages.")
        stages = []
    _raise(errors)
    position = (Pipeline.objects.aggregate(m=Max("position"))["m"] or 0) + 1
    first = not Pipeline.objects.exists()
    pipeline = Pipeline.objects.create(
        name=name, position=position, active=bool(data.get("active", True))
    )
    if data.get("is_default") or first:
        _make_default(pipeline)
    for i, stage in enumerate(stages):
        stage_data = {"name": stage} if isinstance(stage, str) else dict(stage)
        try:
            stage_create(user=user, pipeline=pipeline, data=stage_data)
        except ValidationFailedError as exc:
            raise ValidationFailedError(
                exc.message, fields={f"stages.{i}.{k}": v for k, v in exc.fields.items()}
            ) from None
    _admin_audit(user, AuditLog.Action.CREATE, "pipeline", pipeline, {"name": [None, name]})
    return pipeline


def _make_default(pipeline: Pipeline) -> None:
    Pipeline.objects.exclude(pk=pipeline.pk).filter(is_default=True).update(is_default=False)
    pipeline.is_default = True
    pipeline.save(update_fields=["is_default"])


@transaction.atomic
def pipeline_update(*, user: User, pipeline: Pipeline, data: dict[str, Any]) -> Pipeline:
    _require_admin(user)
    errors: dict[str, str] = {}
    _unknown(data, {"name", "is_default", "active"}, errors)
    name = _name(data, errors, required=False)
    if data.get("active") is False and pipeline.is_default:
        errors["active"] = _("The default pipeline cannot be deactivated; make another default.")
    _raise(errors)
    before = {"name": pipeline.name, "active": pipeline.active, "is_default": pipeline.is_default}
    if name is not None:
        pipeline.name = name
    if "active" in data:
        pipeline.active = bool(data["active"])
    pipeline.save(update_fields=["name", "active"])
    if data.get("is_default"):
        _make_default(pipeline)
    after = {"name": pipeline.name, "active": pipeline.active, "is_default": pipeline.is_default}
    _admin_audit(user, AuditLog.Action.UPDATE, "pipeline", pipeline, audit_diff(before, after))
    return pipeline


@transaction.atomic
def pipeline_delete(*, user: User, pipeline: Pipeline) -> None:
    _require_admin(user)
    if Deal.objects.filter(pipeline=pipeline).exists():
        raise ConflictError(
            _("The pipeline %(name)s holds deals; move them to another pipeline first.")
            % {"name": pipeline.name}
        )
    if StageChange.objects.filter(pipeline=pipeline).exists():
        raise ConflictError(
            _("The pipeline %(name)s has stage history; deactivate it instead.")
            % {"name": pipeline.name}
        )
    _admin_audit(
        user, AuditLog.Action.DELETE, "pipeline", pipeline, {"name": [pipeline.name, None]}
    )
    was_default = pipeline.is_default
    pipeline.delete()
    if was_default:
        successor = Pipeline.objects.filter(active=True).order_by("position", "id").first()
        if successor is not None:
            _make_default(successor)


def _stage_values(data: dict[str, Any], errors: dict[str, str], *, required: bool) -> dict:
    _unknown(data, {"name", "probability", "expected_days", "position"}, errors)
    values: dict[str, Any] = {}
    name = _name(data, errors, required=required)
    if name is not None:
        values["name"] = name
    if "probability" in data:
        raw = data["probability"]
        try:
            probability = int(raw)
            if isinstance(raw, bool) or not 0 <= probability <= 100:
                raise ValueError
            values["probability"] = probability
        except (TypeError, ValueError):
            errors["probability"] = _("Expected a whole number from 0 to 100.")
    if "expected_days" in data:
        raw = data["expected_days"]
        if raw in (None, ""):
            values["expected_days"] = None
        else:
            try:
                days = int(raw)
                if isinstance(raw, bool) or not 1 <= days <= 3650:
                    raise ValueError
                values["expected_days"] = days
            except (TypeError, ValueError):
                errors["expected_days"] = _("Expected a number of days from 1 to 3650, or empty.")
    return values


@transaction.atomic
def stage_create(*, user: User, pipeline: Pipeline, data: dict[str, Any]) -> Stage:
    _require_admin(user)
    errors: dict[str, str] = {}
    values = _stage_values(data, errors, required=True)
    _raise(errors)
    values.pop("position", None)
    last = pipeline.stages.aggregate(m=Max("position"))["m"]
    position = 0 if last is None else last + 1
    stage = Stage.objects.create(pipeline=pipeline, position=position, **values)
    _admin_audit(
        user,
        AuditLog.Action.CREATE,
        "stage",
        stage,
        audit_diff({}, {**values, "pipeline": pipeline.pk}),
    )
    return stage


@transaction.atomic
def stage_update(*, user: User, stage: Stage, data: dict[str, Any]) -> Stage:
    _require_admin(user)
    errors: dict[str, str] = {}
    values = _stage_values(data, errors, required=False)
    _raise(errors)
    values.pop("position", None)
    before = {key: getattr(stage, key) for key in values}
    for key, value in values.items():
        setattr(stage, key, value)
    if values:
        stage.save(update_fields=list(values))
    _admin_audit(user, AuditLog.Action.UPDATE, "stage", stage, audit_diff(before, values))
    return stage


@transaction.atomic
def stage_reorder(*, user: User, pipeline: Pipeline, stage_ids: list[Any]) -> list[Stage]:
    """Set the order of a pipeline's stages: every stage id, once, in the new order."""
    _require_admin(user)
    stages = {stage.pk: stage for stage in pipeline.stages.all()}
    ids = [parse_id(raw) for raw in stage_ids or []]
    if sorted(i for i in ids if i) != sorted(stages) or len(ids) != len(stages):
        raise ValidationFailedError(
            _("Some fields are invalid."),
            fields={"stages": _("List every stage of this pipeline exactly once.")},
        )
    before = [s.pk for s in sorted(stages.values(), key=lambda s: (s.position, s.pk))]
    for position, stage_id in enumerate(ids):
        stage = stages[stage_id]
        if stage.position != position:
            stage.position = position
            stage.save(update_fields=["position"])
    _admin_audit(user, AuditLog.Action.UPDATE, "pipeline", pipeline, {"stage_order": [before, ids]})
    return [stages[i] for i in ids]


@transaction.atomic
def stage_delete(*, user: User, stage: Stage) -> None:
    """Delete an empty stage; one that holds deals needs them moved first (409)."""
    _require_admin(user)
    held = Deal.objects.filter(stage=stage).count()
    if held:
        raise ConflictError(
            _("The stage %(name)s holds %(n)s deal(s); move them to another stage first.")
            % {"name": stage.name, "n": held}
        )
    if stage.pipeline.stages.count() == 1:
        raise ConflictError(_("A pipeline needs at least one stage."))
    _admin_audit(user, AuditLog.Action.DELETE, "stage", stage, {"name": [stage.name, None]})
    stage.delete()


@transaction.atomic
def stage_move_deals(*, user: User, stage: Stage, to_stage: Stage | int | str) -> int:
    """Move every deal of a stage into another stage of the same pipeline (before deleting)."""
    _require_admin(user)
    to_stage = _as_stage(to_stage)
    if to_stage.pipeline_id != stage.pipeline_id:
        raise BadRequestError(
            _("The stage %(stage)s belongs to another pipeline.") % {"stage": to_stage.name}
        )
    if to_stage.pk == stage.pk:
        return 0
    moved = 0
    for deal in (
        Deal.objects.filter(stage=stage).select_for_update().select_related("stage", "pipeline")
    ):
        before = _snapshot(deal)
        _apply_move(user, deal, to_stage)
        deal.version += 1
        deal.updated_at = timezone.now()
        deal.save(update_fields=["stage", "stage_entered_at", "version", "updated_at"])
        _audit(user, AuditLog.Action.UPDATE, deal, before)
        moved += 1
    return moved


@transaction.atomic
def loss_reason_create(*, user: User, data: dict[str, Any]) -> LossReason:
    _require_admin(user)
    errors: dict[str, str] = {}
    _unknown(data, {"name", "active"}, errors)
    name = _name(data, errors, required=True)
    _raise(errors)
    position = (LossReason.objects.aggregate(m=Max("position"))["m"] or 0) + 1
    reason = LossReason.objects.create(
        name=name, position=position, active=bool(data.get("active", True))
    )
    _admin_audit(user, AuditLog.Action.CREATE, "loss_reason", reason, {"name": [None, name]})
    return reason


@transaction.atomic
def loss_reason_update(*, user: User, reason: LossReason, data: dict[str, Any]) -> LossReason:
    _require_admin(user)
    errors: dict[str, str] = {}
    _unknown(data, {"name", "active"}, errors)
    name = _name(data, errors, required=False)
    _raise(errors)
    before = {"name": reason.name, "active": reason.active}
    if name is not None:
        reason.name = name
    if "active" in data:
        reason.active = bool(data["active"])
    reason.save(update_fields=["name", "active"])
    _admin_audit(
        user,
        AuditLog.Action.UPDATE,
        "loss_reason",
        reason,
        audit_diff(before, {"name": reason.name, "active": reason.active}),
    )
    return reason


@transaction.atomic
def loss_reason_delete(*, user: User, reason: LossReason) -> None:
    """Delete an unused reason; a used one is deactivated instead (lost deals keep it)."""
    _require_admin(user)
    if Deal.objects.filter(loss_reason=reason).exists():
        raise ConflictError(
            _("Lost deals use the reason %(name)s; deactivate it instead.") % {"name": reason.name}
        )
    _admin_audit(user, AuditLog.Action.DELETE, "loss_reason", reason, {"name": [reason.name, None]})
    reason.delete()
