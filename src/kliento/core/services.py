"""State changes of the core: users, teams, API keys, audit rows, custom fields, saved views."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from kliento.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from kliento.core.models import (
    ApiKey,
    AuditLog,
    CustomField,
    CustomFieldType,
    OrgSettings,
    Role,
    SavedView,
    Team,
    User,
)
from kliento.core.permissions import is_admin


def _require_admin(actor: User | None) -> None:
    if actor is not None and not is_admin(actor):
        raise PermissionDeniedError("Only an administrator can do this.")


# --- audit -------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        key: [_jsonable(before.get(key)), _jsonable(after.get(key))]
        for key in sorted(set(before) | set(after))
        if _jsonable(before.get(key)) != _jsonable(after.get(key))
    }


def audit_record(
    *, user: User | None, action: str, entity: str, obj: Any, changes: dict | None = None
) -> AuditLog:
    return AuditLog.objects.create(
        user=user,
        action=action,
        entity=entity,
        object_id=obj.pk,
        object_repr=str(obj)[:255],
        changes=changes or {},
    )


# --- teams and users ----------------------------------------------------------------------


@transaction.atomic
def team_create(*, actor: User | None, name: str, parent: Team | None = None) -> Team:
    _require_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailedError(fields={"name": "A team needs a name."})
    team = Team.objects.create(name=name, parent=parent)
    team.path = f"{parent.path if parent else '/'}{team.pk}/"
    team.save(update_fields=["path"])
    audit_record(
        user=actor,
        action=AuditLog.Action.CREATE,
        entity="team",
        obj=team,
        changes={"name": [None, name]},
    )
    return team


def team_get_or_create_path(*, names: list[str]) -> Team:
    """Find or create a chain of teams by name ("Company/Sales/Moscow"). Used by the CLI."""
    parent = None
    for name in names:
        team = Team.objects.filter(name=name, parent=parent).first()
        if team is None:
            team = team_create(actor=None, name=name, parent=parent)
        parent = team
    assert parent is not None
    return parent


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    role: str = Role.REP,
    team: Team | None = None,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    language: str = "en",
) -> User:
    _require_admin(actor)
    errors = {}
    username = (username or "").strip()
    if not username:
        errors["username"] = "A username is required."
    elif User.objects.filter(username=username).exists():
        errors["username"] = f"User {username!r} already exists."
    if role not in Role.values:
        errors["role"] = f"Unknown role {role!r}; one of: {', '.join(Role.values)}."
    if not password or len(password) < 8:
        errors["password"] = "A password needs at least 8 characters."
    if language not in {"en", "ru"}:
        errors["language"] = "Language must be 'en' or 'ru'."
    if errors:
        raise ValidationFailedError(fields=errors)
    user = User(
        username=username,
        role=role,
        team=team,
        first_name=first_name,
        last_name=last_name,
        email=email,
        language=language,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    user.set_password(password)
    user.save()
    audit_record(
        user=actor,
        action=AuditLog.Action.CREATE,
        entity="user",
        obj=user,
        changes={"username": [None, username], "role": [None, role]},
    )
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    if language not in {"en", "ru"}:
        raise ValidationFailedError(fields={"language": "Language must be 'en' or 'ru'."})
    user.language = language
    user.save(update_fields=["language"])
    return user


# --- API keys -----------------------------------------------------------------------------


@transaction.atomic
def apikey_create(*, actor: User, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for `user`; returns the row and the raw key, which is never stored."""
    if actor.pk != user.pk:
        _require_admin(actor)
    raw = "kl_" + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        user=user, name=name[:100], prefix=raw[:10], digest=ApiKey.hash(raw)
    )
    audit_record(
        user=actor,
        action=AuditLog.Action.CREATE,
        entity="apikey",
        obj=key,
        changes={"user": [None, user.username], "prefix": [None, key.prefix]},
    )
    return key, raw


@transaction.atomic
def apikey_revoke(*, actor: User, key: ApiKey) -> ApiKey:
    if actor.pk != key.user_id:
        _require_admin(actor)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(user=actor, action=AuditLog.Action.DELETE, entity="apikey", obj=key)
    return key


def apikey_authenticate(raw: str) -> User | None:
    if not raw or not raw.startswith("kl_"):
        return None
    key = (
        ApiKey.objects.select_related("user")
        .filter(digest=ApiKey.hash(raw), revoked_at__isnull=True)
        .first()
    )
    if key is None or not key.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute so reads don't turn into writes.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.user


# --- organisation settings ----------------------------------------------------------------


@transaction.atomic
def org_settings_update(*, actor: User, **changes: Any) -> OrgSettings:
    _require_admin(actor)
    settings_row = OrgSettings.get()
    before = {k: getattr(settings_row, k) for k in changes}
    for key, value in changes.items():
        if not hasattr(settings_row, key):
            raise ValidationFailedError(fields={key: "Unknown setting."})
        setattr(settings_row, key, value)
    settings_row.save(update_fields=list(changes))
    audit_record(
        user=actor,
        action=AuditLog.Action.UPDATE,
        entity="settings",
        obj=settings_row,
        changes=audit_diff(before, changes),
    )
    return settings_row


# --- custom fields ------------------------------------------------------------------------


def custom_field_clean_value(field: CustomField, value: Any) -> Any:
    """Validate and convert one custom value; raises ValueError with a readable message."""
    if value is None or value == "" or value == []:
        if field.required:
            raise ValueError("This field is required.")
        return None
    kind = field.type
    if kind == CustomFieldType.TEXT:
        value = str(value).strip()
        if len(value) > 2000:
            raise ValueError("At most 2000 characters.")
        return value
    if kind == CustomFieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError("Expected a number.")
        try:
            number = Decimal(str(value).replace(",", ".").strip())
        except InvalidOperation as exc:
            raise ValueError(f"Expected a number, got {value!r}.") from exc
        if not number.is_finite():
            raise ValueError("Expected a finite number.")
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldType.DATE:
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise ValueError(f"Expected a date as YYYY-MM-DD, got {value!r}.") from exc
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on", "да"}:
            return True
        if text in {"0", "false", "no", "off", "нет"}:
            return False
        raise ValueError(f"Expected yes or no, got {value!r}.")
    if kind == CustomFieldType.CHOICE:
        if str(value) not in field.choices:
            raise ValueError(f"{value!r} is not one of: {', '.join(field.choices)}.")
        return str(value)
    if kind == CustomFieldType.MULTI_CHOICE:
        values = value if isinstance(value, list | tuple) else [value]
        bad = [v for v in values if str(v) not in field.choices]
        if bad:
            raise ValueError(f"{bad[0]!r} is not one of: {', '.join(field.choices)}.")
        return sorted({str(v) for v in values}, key=field.choices.index)
    raise ValueError(f"Unknown field type {kind!r}.")


def custom_values_clean(
    *, entity: str, values: dict[str, Any] | None, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Merge `values` into `current`, validating each against the entity's field definitions.

    Raises ValidationFailedError naming every bad field as "custom.<key>".
    """
    fields = {f.key: f for f in CustomField.objects.filter(entity=entity)}
    result = dict(current or {})
    errors: dict[str, str] = {}
    for key, value in (values or {}).items():
        field = fields.get(key)
        if field is None:
            errors[f"custom.{key}"] = "Unknown custom field."
            continue
        try:
            cleaned = custom_field_clean_value(field, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = str(exc)
            continue
        if cleaned is None:
            result.pop(key, None)
        else:
            result[key] = cleaned
    for key, field in fields.items():
        if field.required and key not in result and f"custom.{key}" not in errors:
            errors[f"custom.{key}"] = "This field is required."
    if errors:
        raise ValidationFailedError(fields=errors)
    return result


@transaction.atomic
def custom_field_create(
    *,
    actor: User,
    entity: str,
    label: str,
    type: str,
    key: str = "",
    choices: list[str] | None = None,
    required: bool = False,
    position: int = 0,
) -> CustomField:
    _require_admin(actor)
    errors = {}
    label = (label or "").strip()
    key = slugify(key or label).replace("-", "_")[:50]
    if entity not in CustomField.Entity.values:
        errors["entity"] = f"Must be one of: {', '.join(CustomField.Entity.values)}."
    if not label:
        errors["label"] = "A label is required."
    if not key:
        errors["key"] = "A key of latin letters, digits and underscores is required."
    if type not in CustomFieldType.values:
        errors["type"] = f"Must be one of: {', '.join(CustomFieldType.values)}."
    choices = [str(c).strip() for c in (choices or []) if str(c).strip()]
    if type in {CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE} and not choices:
        errors["choices"] = "A choice field needs at least one choice."
    if errors:
        raise ValidationFailedError(fields=errors)
    try:
        with transaction.atomic():
            field = CustomField.objects.create(
                entity=entity,
                key=key,
                label=label,
                type=type,
                choices=choices,
                required=required,
                position=position,
            )
    except IntegrityError as exc:
        raise ConflictError(fields={"key": f"A {entity} field {key!r} already exists."}) from exc
    audit_record(
        user=actor,
        action=AuditLog.Action.CREATE,
        entity="customfield",
        obj=field,
        changes={"key": [None, key], "type": [None, type]},
    )
    return field


@transaction.atomic
def custom_field_update(
    *,
    actor: User,
    field: CustomField,
    label: str | None = None,
    choices: list[str] | None = None,
    required: bool | None = None,
    position: int | None = None,
) -> CustomField:
    _require_admin(actor)
    before = {
        "label": field.label,
        "choices": field.choices,
        "required": field.required,
        "position": field.position,
    }
    if label is not None:
        if not label.strip():
            raise ValidationFailedError(fields={"label": "A label is required."})
        field.label = label.strip()
    if choices is not None:
        field.choices = [str(c).strip() for c in choices if str(c).strip()]
    if required is not None:
        field.required = required
    if position is not None:
        field.position = position
    field.save(update_fields=["label", "choices", "required", "position"])
    after = {
        "label": field.label,
        "choices": field.choices,
        "required": field.required,
        "position": field.position,
    }
    audit_record(
        user=actor,
        action=AuditLog.Action.UPDATE,
        entity="customfield",
        obj=field,
        changes=audit_diff(before, after),
    )
    return field


@transaction.atomic
def custom_field_delete(*, actor: User, field: CustomField) -> None:
    _require_admin(actor)
    audit_record(
        user=actor,
        action=AuditLog.Action.DELETE,
        entity="customfield",
        obj=field,
        changes={"key": [field.key, None]},
    )
    field.delete()


# --- saved views --------------------------------------------------------------------------


@transaction.atomic
def saved_view_create(*, user: User, entity: str, name: str, query: str) -> SavedView:
    name = (name or "").strip()
    if not name:
        raise ValidationFailedError(fields={"name": "Give the view a name."})
    return SavedView.objects.create(user=user, entity=entity, name=name[:100], query=query[:1000])


@transaction.atomic
def saved_view_delete(*, user: User, pk: int) -> None:
    deleted, _ = SavedView.objects.filter(user=user, pk=pk).delete()
    if not deleted:
        raise NotFoundError()
