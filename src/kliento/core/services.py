"""State changes of the core: users, teams, API keys, audit rows, custom fields, saved views."""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

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
        raise PermissionDeniedError(_("Only an administrator can do this."))


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


def _team_name_error(name: str) -> str:
    """What is wrong with a (stripped) team name, or "" when nothing is."""
    if not name:
        return _("A team needs a name.")
    max_length = Team._meta.get_field("name").max_length
    if len(name) > max_length:
        return _("At most %(n)s characters.") % {"n": max_length}
    return ""


@transaction.atomic
def team_create(*, actor: User | None, name: str, parent: Team | None = None) -> Team:
    _require_admin(actor)
    name = (name or "").strip()
    if error := _team_name_error(name):
        raise ValidationFailedError(fields={"name": error})
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


# Marks "argument not given" where None is a meaningful value (no team, top-level team).
_UNSET: Any = object()


@transaction.atomic
def team_update(
    *, actor: User, team: Team, name: str | None = None, parent: Team | None = _UNSET
) -> Team:
    """Rename a team and/or move it (with its whole subtree) under another parent."""
    _require_admin(actor)
    team = Team.objects.select_for_update().get(pk=team.pk)
    before = {"name": team.name, "parent": team.parent_id}
    errors = {}
    if name is not None:
        name = name.strip()
        if error := _team_name_error(name):
            errors["name"] = error
    moving = parent is not _UNSET and (parent.pk if parent else None) != team.parent_id
    if moving and parent is not None and parent.path.startswith(team.path):
        errors["parent"] = _("A team can't be moved under itself or one of its own teams.")
    if errors:
        raise ValidationFailedError(fields=errors)
    update_fields = []
    if name is not None and name != team.name:
        team.name = name
        update_fields.append("name")
    if moving:
        old_path = team.path
        new_path = f"{parent.path if parent else '/'}{team.pk}/"
        team.parent = parent
        update_fields.append("parent")
        # Every descendant's path starts with the team's own; swap that prefix in one UPDATE.
        Team.objects.filter(path__startswith=old_path).update(
            path=Concat(
                Value(new_path), Substr("path", len(old_path) + 1), output_field=CharField()
            )
        )
        team.path = new_path
    if update_fields:
        team.save(update_fields=update_fields)
        after = {"name": team.name, "parent": team.parent_id}
        audit_record(
            user=actor,
            action=AuditLog.Action.UPDATE,
            entity="team",
            obj=team,
            changes=audit_diff(before, after),
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
        errors["username"] = _("A username is required.")
    elif User.objects.filter(username=username).exists():
        errors["username"] = _("User %(username)s already exists.") % {"username": repr(username)}
    if role not in Role.values:
        errors["role"] = _("Unknown role %(role)s; one of: %(allowed)s.") % {
            "role": repr(role),
            "allowed": ", ".join(Role.values),
        }
    if not password or len(password) < 8:
        errors["password"] = _("A password needs at least 8 characters.")
    if language not in {"en", "ru"}:
        errors["language"] = _("Language must be 'en' or 'ru'.")
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
        raise ValidationFailedError(fields={"language": _("Language must be 'en' or 'ru'.")})
    user.language = language
    user.save(update_fields=["language"])
    return user


def _check_password(password: str, user: User | None = None) -> str | None:
    """The validators' complaint about a password (already in the user's language), or None."""
    if not password:
        return _("Enter a password.")
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


@transaction.atomic
def user_update(
    *,
    actor: User,
    user: User,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    language: str | None = None,
    role: str | None = None,
    team: Team | None = _UNSET,
    is_active: bool | None = None,
) -> User:
    """Change a user's profile (themself or an admin) or their access (role, team, active: admin).

    Deactivating keeps everything the user owns: their records stay theirs, they just can no
    longer sign in or use their API keys.
    """
    access_change = role is not None or team is not _UNSET or is_active is not None
    if actor.pk != user.pk or access_change:
        _require_admin(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    tracked = ["first_name", "last_name", "email", "language", "role", "team", "is_active"]
    before = {key: getattr(user, key) for key in tracked}
    errors = {}
    for key, value in (("first_name", first_name), ("last_name", last_name)):
        if value is not None and len(value.strip()) > 150:
            errors[key] = _("At most %(n)s characters.") % {"n": 150}
    if email is not None and email.strip():
        try:
            validate_email(email.strip())
        except ValidationError:
            errors["email"] = _("Enter a valid email address.")
    if language is not None and language not in {"en", "ru"}:
        errors["language"] = _("Language must be 'en' or 'ru'.")
    if role is not None and role not in Role.values:
        errors["role"] = _("Unknown role %(role)s; one of: %(allowed)s.") % {
            "role": repr(role),
            "allowed": ", ".join(Role.values),
        }
    if actor.pk == user.pk:
        # An administrator can't lock themselves out; another admin has to do it.
        if role is not None and role != Role.ADMIN and user.role == Role.ADMIN:
            errors["role"] = _("You can't remove your own administrator role.")
        if is_active is False:
            errors["is_active"] = _("You can't deactivate your own account.")
    if errors:
        raise ValidationFailedError(fields=errors)
    if first_name is not None:
        user.first_name = first_name.strip()
    if last_name is not None:
        user.last_name = last_name.strip()
    if email is not None:
        user.email = email.strip().lower()
    if language is not None:
        user.language = language
    if role is not None:
        user.role = role
        user.is_staff = user.is_superuser = role == Role.ADMIN
    if team is not _UNSET:
        user.team = team
    if is_active is not None:
        user.is_active = is_active
    after = {key: getattr(user, key) for key in tracked}
    changes = audit_diff(before, after)
    if changes:
        fields = [key for key in tracked if key in changes]
        if "role" in changes:
            fields += ["is_staff", "is_superuser"]
        user.save(update_fields=fields)
        audit_record(
            user=actor, action=AuditLog.Action.UPDATE, entity="user", obj=user, changes=changes
        )
    return user


@transaction.atomic
def user_set_password(
    *, actor: User, user: User, password: str, old_password: str | None = None
) -> User:
    """Set a new password: a user for themself (with the current one), an admin for anyone."""
    self_service = actor.pk == user.pk
    if not self_service:
        _require_admin(actor)
    errors = {}
    # Changing one's own password needs the current one, so a left-open session is not enough.
    if self_service and not user.check_password(old_password or ""):
        errors["old_password"] = _("Your current password is not correct.")
    problem = _check_password(password, user)
    if problem:
        errors["password"] = problem
    if errors:
        raise ValidationFailedError(fields=errors)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(
        user=actor,
        action=AuditLog.Action.UPDATE,
        entity="user",
        obj=user,
        changes={"password": [None, "******"]},
    )
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
    errors = {}
    for key in changes:
        if not hasattr(settings_row, key) or key in {"id", "pk"}:
            errors[key] = _("Unknown setting.")
    if "company_name" in changes:
        changes["company_name"] = str(changes["company_name"] or "").strip()
        if not changes["company_name"]:
            errors["company_name"] = _("The company needs a name.")
        elif len(changes["company_name"]) > 200:
            errors["company_name"] = _("At most %(n)s characters.") % {"n": 200}
    if "default_region" in changes:
        changes["default_region"] = str(changes["default_region"] or "").strip().upper()
        if changes["default_region"] not in phonenumbers.SUPPORTED_REGIONS:
            errors["default_region"] = _("Use a two-letter country code such as RU, GB or US.")
    if "team_sharing" in changes:
        changes["team_sharing"] = bool(changes["team_sharing"])
    if errors:
        raise ValidationFailedError(fields=errors)
    before = {k: getattr(settings_row, k) for k in changes}
    for key, value in changes.items():
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
            raise ValueError(_("This field is required."))
        return None
    kind = field.type
    if kind == CustomFieldType.TEXT:
        value = str(value).strip()
        if len(value) > 2000:
            raise ValueError(_("At most %(n)s characters.") % {"n": 2000})
        return value
    if kind == CustomFieldType.NUMBER:
        if isinstance(value, bool):
            raise ValueError(_("Expected a number."))
        try:
            number = Decimal(str(value).replace(",", ".").strip())
        except InvalidOperation as exc:
            raise ValueError(
                _("Expected a number, got %(value)s.") % {"value": repr(value)}
            ) from exc
        if not number.is_finite():
            raise ValueError(_("Expected a finite number."))
        # Bounded so int() of "1e999999" can't build a million-digit number (500 on save).
        if abs(number) >= Decimal("1e15"):
            raise ValueError(_("The number is too large."))
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldType.DATE:
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError as exc:
            raise ValueError(
                _("Expected a date as YYYY-MM-DD, got %(value)s.") % {"value": repr(value)}
            ) from exc
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on", "да"}:
            return True
        if text in {"0", "false", "no", "off", "нет"}:
            return False
        raise ValueError(_("Expected yes or no, got %(value)s.") % {"value": repr(value)})
    if kind == CustomFieldType.CHOICE:
        if str(value) not in field.choices:
            raise ValueError(
                _("%(value)s is not one of: %(allowed)s.")
                % {"value": repr(value), "allowed": ", ".join(field.choices)}
            )
        return str(value)
    if kind == CustomFieldType.MULTI_CHOICE:
        values = value if isinstance(value, list | tuple) else [value]
        bad = [v for v in values if str(v) not in field.choices]
        if bad:
            raise ValueError(
                _("%(value)s is not one of: %(allowed)s.")
                % {"value": repr(bad[0]), "allowed": ", ".join(field.choices)}
            )
        return sorted({str(v) for v in values}, key=field.choices.index)
    raise ValueError(_("Unknown field type %(type)s.") % {"type": repr(kind)})


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
            errors[f"custom.{key}"] = _("Unknown custom field.")
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
            errors[f"custom.{key}"] = _("This field is required.")
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
        errors["entity"] = _("Must be one of: %(allowed)s.") % {
            "allowed": ", ".join(CustomField.Entity.values)
        }
    if not label:
        errors["label"] = _("A label is required.")
    if not key:
        errors["key"] = _("A key of latin letters, digits and underscores is required.")
    if type not in CustomFieldType.values:
        errors["type"] = _("Must be one of: %(allowed)s.") % {
            "allowed": ", ".join(CustomFieldType.values)
        }
    choices = [str(c).strip() for c in (choices or []) if str(c).strip()]
    if type in {CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE} and not choices:
        errors["choices"] = _("A choice field needs at least one choice.")
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
        message = (
            _("A contact field %(key)s already exists.")
            if entity == "contact"
            else _("A company field %(key)s already exists.")
        )
        raise ConflictError(fields={"key": message % {"key": repr(key)}}) from exc
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
            raise ValidationFailedError(fields={"label": _("A label is required.")})
        field.label = label.strip()
    if choices is not None:
        field.choices = [str(c).strip() for c in choices if str(c).strip()]
        choice_types = {CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE}
        if field.type in choice_types and not field.choices:
            raise ValidationFailedError(
                fields={"choices": _("A choice field needs at least one choice.")}
            )
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
        raise ValidationFailedError(fields={"name": _("Give the view a name.")})
    return SavedView.objects.create(user=user, entity=entity, name=name[:100], query=query[:1000])


@transaction.atomic
def saved_view_delete(*, user: User, pk: int) -> None:
    deleted, _count = SavedView.objects.filter(user=user, pk=pk).delete()
    if not deleted:
        raise NotFoundError()
