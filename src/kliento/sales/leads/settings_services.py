"""Administrator settings of the leads app: web forms, assignment rules, scoring rules.

Each change is audited; a change to the scoring rules rescores open leads after commit.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kliento.core.errors import PermissionDeniedError, ValidationFailedError
from kliento.core.models import AuditLog, Team, User
from kliento.core.permissions import is_admin
from kliento.core.services import audit_diff, audit_record
from kliento.customers.models import Channel, InteractionKind
from kliento.sales.leads.models import AssignmentRule, LeadSource, ScoringRule, WebForm
from kliento.sales.leads.services import FORM_FIELDS, SCORE_FIELDS


def _rescore_later() -> None:
    # A job: rescoring every open lead can take a while at scale (tests run jobs inline).
    from kliento.sales.leads.tasks import rescore_open_leads

    rescore_open_leads()


def _choice(value: Any, choices, field: str, errors: dict[str, str]) -> str:
    if value not in choices:
        errors[field] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(value),
            "allowed": ", ".join(choices),
        }
    return value


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _require_admin(user: User) -> None:
    if not is_admin(user):
        raise PermissionDeniedError(_("Only an administrator can do this."))


def _settings_text(
    model, field: str, data: dict[str, Any], errors: dict[str, str], required: bool = False
) -> str | None:
    if field not in data:
        return None
    value = data[field]
    value = "" if value is None else value
    if not isinstance(value, str):
        errors[field] = _("Expected text.")
        return ""
    value = value.strip()
    if "\x00" in value:
        errors[field] = _("NUL characters are not allowed.")
    max_length = model._meta.get_field(field).max_length
    if max_length and len(value) > max_length:
        errors[field] = _("At most %(n)s characters.") % {"n": max_length}
    if required and not value:
        errors[field] = _("This field is required.")
    return value


def _active_user_id(value: Any, field: str, errors: dict[str, str]) -> int | None:
    if value in (None, ""):
        return None
    uid = _int(value)
    if not User.objects.filter(pk=uid, is_active=True).exists():
        errors[field] = _("No active user with id %(id)s.") % {"id": value}
        return None
    return uid


WEB_FORM_FIELDS = {
    "name",
    "fields",
    "campaign",
    "channel",
    "success_message",
    "redirect_url",
    "default_owner_id",
    "active",
}


def _web_form_clean(data: dict[str, Any], form: WebForm | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for key in data:
        if key not in WEB_FORM_FIELDS:
            errors[key] = _("Unknown field.")
    values: dict[str, Any] = {}
    for field in ("name", "campaign", "success_message", "redirect_url"):
        value = _settings_text(WebForm, field, data, errors, required=field == "name")
        if value is not None:
            values[field] = value
    if form is None and "name" not in data:
        errors["name"] = _("This field is required.")
    if values.get("redirect_url"):
        from django.core.exceptions import ValidationError
        from django.core.validators import URLValidator

        try:
            URLValidator(schemes=["http", "https"])(values["redirect_url"])
        except ValidationError:
            errors["redirect_url"] = _("Enter a full address starting with https://.")
    if "fields" in data:
        fields = data["fields"]
        if not isinstance(fields, list | tuple) or not all(isinstance(f, str) for f in fields):
            errors["fields"] = _("Expected a list of field names.")
        else:
            bad = [f for f in fields if f not in FORM_FIELDS]
            if bad:
                errors["fields"] = _("%(value)s is not one of: %(allowed)s.") % {
                    "value": repr(bad[0]),
                    "allowed": ", ".join(FORM_FIELDS),
                }
            values["fields"] = list(dict.fromkeys(fields))
            if not bad and not ({"email", "phone"} & set(values["fields"])):
                errors["fields"] = _("A form must ask for an email or a phone.")
    elif form is None:
        values["fields"] = ["first_name", "email", "phone", "message"]
    if "channel" in data:
        values["channel"] = _choice(data["channel"], Channel.values, "channel", errors)
    if "default_owner_id" in data:
        values["default_owner_id"] = _active_user_id(
            data["default_owner_id"], "default_owner_id", errors
        )
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors["active"] = _("Expected true or false.")
        values["active"] = data["active"]
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return values


def _settings_audit(user: User, action: str, entity: str, obj, changes: dict) -> None:
    audit_record(user=user, action=action, entity=entity, obj=obj, changes=changes)


@transaction.atomic
def web_form_create(*, user: User, data: dict[str, Any]) -> WebForm:
    _require_admin(user)
    values = _web_form_clean(data, None)
    form = WebForm.objects.create(key=secrets.token_urlsafe(18)[:24], **values)
    _settings_audit(user, AuditLog.Action.CREATE, "web_form", form, audit_diff({}, values))
    return form


@transaction.atomic
def web_form_update(*, user: User, form: WebForm, data: dict[str, Any]) -> WebForm:
    _require_admin(user)
    form = WebForm.objects.select_for_update().get(pk=form.pk)
    values = _web_form_clean(data, form)
    before = {k: getattr(form, k) for k in values}
    for key, value in values.items():
        setattr(form, key, value)
    form.save(update_fields=list(values))
    _settings_audit(user, AuditLog.Action.UPDATE, "web_form", form, audit_diff(before, values))
    return form


@transaction.atomic
def web_form_new_key(*, user: User, form: WebForm) -> WebForm:
    """A new public key: the old snippet stops working (after a leak or a spam wave)."""
    _require_admin(user)
    form = WebForm.objects.select_for_update().get(pk=form.pk)
    form.key = secrets.token_urlsafe(18)[:24]
    form.save(update_fields=["key"])
    _settings_audit(user, AuditLog.Action.UPDATE, "web_form", form, {"key": ["…", "…"]})
    return form


@transaction.atomic
def web_form_delete(*, user: User, form: WebForm) -> None:
    _require_admin(user)
    _settings_audit(user, AuditLog.Action.DELETE, "web_form", form, {"name": [form.name, None]})
    form.delete()


RULE_FIELDS = {
    "name",
    "kind",
    "active",
    "position",
    "regions",
    "cities",
    "sources",
    "web_form_id",
    "team_id",
    "user_id",
}


def _str_list(value: Any, field: str, errors: dict[str, str]) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in value.replace("\n", ",").split(",")]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        errors[field] = _("Expected a list of names.")
        return []
    result = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(result) > 200 or any(len(v) > 100 for v in result):
        errors[field] = _("At most 200 names of 100 characters.")
    return result


def _rule_clean(data: dict[str, Any], rule: AssignmentRule | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for key in data:
        if key not in RULE_FIELDS:
            errors[key] = _("Unknown field.")
    values: dict[str, Any] = {}
    name = _settings_text(AssignmentRule, "name", data, errors, required=True)
    if name is not None:
        values["name"] = name
    elif rule is None:
        errors["name"] = _("This field is required.")
    if "kind" in data or rule is None:
        values["kind"] = _choice(data.get("kind"), AssignmentRule.Kind.values, "kind", errors)
    for field in ("regions", "cities"):
        if field in data:
            values[field] = _str_list(data[field], field, errors)
    if "sources" in data:
        values["sources"] = _str_list(data["sources"], "sources", errors)
        bad = [s for s in values["sources"] if s not in LeadSource.values]
        if bad:
            errors["sources"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(bad[0]),
                "allowed": ", ".join(LeadSource.values),
            }
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors["active"] = _("Expected true or false.")
        values["active"] = data["active"]
    if "position" in data:
        position = data["position"]
        if isinstance(position, bool) or not str(position).isdigit() or int(position) > 2**31:
            errors["position"] = _("Expected a whole number.")
        else:
            values["position"] = int(position)
    if "web_form_id" in data:
        fid = data["web_form_id"]
        if fid in (None, ""):
            values["web_form_id"] = None
        elif not WebForm.objects.filter(pk=_int(fid)).exists():
            errors["web_form_id"] = _("No web form with id %(id)s.") % {"id": fid}
        else:
            values["web_form_id"] = _int(fid)
    if "team_id" in data:
        tid = data["team_id"]
        if tid in (None, ""):
            values["team_id"] = None
        elif not Team.objects.filter(pk=_int(tid)).exists():
            errors["team_id"] = _("No team with id %(id)s.") % {"id": tid}
        else:
            values["team_id"] = _int(tid)
    if "user_id" in data:
        values["user_id"] = _active_user_id(data["user_id"], "user_id", errors)
    merged = {
        "kind": getattr(rule, "kind", None),
        "team_id": getattr(rule, "team_id", None),
        "user_id": getattr(rule, "user_id", None),
        "regions": getattr(rule, "regions", []),
        "cities": getattr(rule, "cities", []),
        **values,
    }
    kind = merged["kind"]
    if "kind" not in errors and "team_id" not in errors and "user_id" not in errors:
        if kind == AssignmentRule.Kind.FIXED and not merged["user_id"]:
            errors["user_id"] = _("Choose who gets the leads.")
        elif (
            kind in (AssignmentRule.Kind.ROUND_ROBIN, AssignmentRule.Kind.LOAD)
            and not merged["team_id"]
        ):
            errors["team_id"] = _("Choose the team whose members share the leads.")
        elif kind == AssignmentRule.Kind.TERRITORY and not (merged["team_id"] or merged["user_id"]):
            errors["team_id"] = _("Choose a team or a person for this territory.")
    if kind == AssignmentRule.Kind.TERRITORY and not (merged["regions"] or merged["cities"]):
        errors.setdefault("regions", _("Name at least one region or city."))
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return values


@transaction.atomic
def assignment_rule_create(*, user: User, data: dict[str, Any]) -> AssignmentRule:
    _require_admin(user)
    values = _rule_clean(data, None)
    if "position" not in values:
        last = AssignmentRule.objects.order_by("-position").values_list("position", flat=True)
        values["position"] = (next(iter(last), -1)) + 1
    rule = AssignmentRule.objects.create(**values)
    _settings_audit(user, AuditLog.Action.CREATE, "assignment_rule", rule, audit_diff({}, values))
    return rule


@transaction.atomic
def assignment_rule_update(
    *, user: User, rule: AssignmentRule, data: dict[str, Any]
) -> AssignmentRule:
    _require_admin(user)
    rule = AssignmentRule.objects.select_for_update().get(pk=rule.pk)
    values = _rule_clean(data, rule)
    before = {k: getattr(rule, k) for k in values}
    for key, value in values.items():
        setattr(rule, key, value)
    if {"team_id", "kind"} & set(values):
        rule.last_user = None
        values["last_user"] = None
    rule.save(update_fields=list(values))
    _settings_audit(
        user, AuditLog.Action.UPDATE, "assignment_rule", rule, audit_diff(before, values)
    )
    return rule


@transaction.atomic
def assignment_rule_delete(*, user: User, rule: AssignmentRule) -> None:
    _require_admin(user)
    _settings_audit(
        user, AuditLog.Action.DELETE, "assignment_rule", rule, {"name": [rule.name, None]}
    )
    rule.delete()


@transaction.atomic
def assignment_rule_move(*, user: User, rule: AssignmentRule, offset: int) -> None:
    """Move a rule up (-1) or down (+1) the order; positions are renumbered 0, 1, 2…"""
    _require_admin(user)
    rules = list(AssignmentRule.objects.select_for_update().order_by("position", "id"))
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    target = max(0, min(len(rules) - 1, index + offset))
    rules.insert(target, rules.pop(index))
    for position, item in enumerate(rules):
        if item.position != position:
            item.position = position
            item.save(update_fields=["position"])
    _settings_audit(
        user, AuditLog.Action.UPDATE, "assignment_rule", rule, {"position": [index, target]}
    )


SCORING_FIELDS = {"name", "kind", "field", "value", "points", "active", "position"}


def _scoring_clean(data: dict[str, Any], rule: ScoringRule | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for key in data:
        if key not in SCORING_FIELDS:
            errors[key] = _("Unknown field.")
    values: dict[str, Any] = {}
    for field in ("name", "field", "value"):
        value = _settings_text(ScoringRule, field, data, errors, required=field == "name")
        if value is not None:
            values[field] = value
    if rule is None and "name" not in data:
        errors["name"] = _("This field is required.")
    if "kind" in data or rule is None:
        values["kind"] = _choice(data.get("kind"), ScoringRule.Kind.values, "kind", errors)
    if "points" in data or rule is None:
        points = data.get("points")
        if isinstance(points, bool) or _parse_signed(points) is None:
            errors["points"] = _("Expected a whole number between -1000 and 1000.")
        else:
            values["points"] = _parse_signed(points)
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors["active"] = _("Expected true or false.")
        values["active"] = data["active"]
    if "position" in data:
        position = data["position"]
        if isinstance(position, bool) or not str(position).isdigit() or int(position) > 2**31:
            errors["position"] = _("Expected a whole number.")
        else:
            values["position"] = int(position)
    merged = {
        "kind": getattr(rule, "kind", None),
        "field": getattr(rule, "field", ""),
        "value": getattr(rule, "value", ""),
        **values,
    }
    kind = merged["kind"]
    if "kind" not in errors:
        field_kinds = (ScoringRule.Kind.FIELD_FILLED, ScoringRule.Kind.FIELD_EQUALS)
        if kind in field_kinds and merged["field"] not in SCORE_FIELDS:
            errors["field"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(merged["field"]),
                "allowed": ", ".join(SCORE_FIELDS),
            }
        if kind == ScoringRule.Kind.FIELD_EQUALS and not merged["value"]:
            errors["value"] = _("Say which value earns the points.")
        if kind == ScoringRule.Kind.SOURCE and merged["value"] not in LeadSource.values:
            errors["value"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(merged["value"]),
                "allowed": ", ".join(LeadSource.values),
            }
        if kind == ScoringRule.Kind.INTERACTIONS and not (
            str(merged["value"]).isdigit() and 1 <= int(merged["value"]) <= 1000
        ):
            errors["value"] = _("Expected a whole number between 1 and 1000.")
        if kind == ScoringRule.Kind.INTERACTION_KIND and merged["value"] not in (
            InteractionKind.values
        ):
            errors["value"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(merged["value"]),
                "allowed": ", ".join(InteractionKind.values),
            }
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    if kind not in (ScoringRule.Kind.FIELD_FILLED, ScoringRule.Kind.FIELD_EQUALS):
        values["field"] = ""
    return values


def _parse_signed(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if -1000 <= number <= 1000 else None


@transaction.atomic
def scoring_rule_create(*, user: User, data: dict[str, Any]) -> ScoringRule:
    _require_admin(user)
    values = _scoring_clean(data, None)
    rule = ScoringRule.objects.create(**values)
    _settings_audit(user, AuditLog.Action.CREATE, "scoring_rule", rule, audit_diff({}, values))
    transaction.on_commit(_rescore_later)
    return rule


@transaction.atomic
def scoring_rule_update(*, user: User, rule: ScoringRule, data: dict[str, Any]) -> ScoringRule:
    _require_admin(user)
    rule = ScoringRule.objects.select_for_update().get(pk=rule.pk)
    values = _scoring_clean(data, rule)
    before = {k: getattr(rule, k) for k in values}
    for key, value in values.items():
        setattr(rule, key, value)
    rule.save(update_fields=list(values))
    _settings_audit(user, AuditLog.Action.UPDATE, "scoring_rule", rule, audit_diff(before, values))
    transaction.on_commit(_rescore_later)
    return rule


@transaction.atomic
def scoring_rule_delete(*, user: User, rule: ScoringRule) -> None:
    _require_admin(user)
    _settings_audit(user, AuditLog.Action.DELETE, "scoring_rule", rule, {"name": [rule.name, None]})
    rule.delete()
    transaction.on_commit(_rescore_later)
