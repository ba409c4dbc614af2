"""Personal settings and the administration area of the web UI.

Views parse the form, call a core service or selector and render; the services check who may do
what again, so an admin page is closed twice (here with a 403 page, there with an error).
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core import selectors, services
from kliento.core.errors import (
    BadCursorError,
    ConflictError,
    NotFoundError,
    ValidationFailedError,
)
from kliento.core.models import (
    ApiKey,
    AuditLog,
    CustomField,
    CustomFieldType,
    OrgSettings,
    Role,
    Team,
    User,
)
from kliento.core.permissions import is_admin
from kliento.core.settings_forms import (
    checkbox,
    choices_from_text,
    custom_field_key,
    int_or_none,
    translate_errors,
)
from kliento.core.templatetags.kliento_ui import field_label
from kliento.core.views import ui_errors
from kliento.customers.selectors import audit_list

AUDIT_PAGE = 50
LANGUAGES = [("en", "English"), ("ru", "Русский")]
# What the audit log's `entity` column holds, with a readable name for the filter.
AUDIT_ENTITIES = [
    ("contact", gettext_lazy("Contact")),
    ("company", gettext_lazy("Company")),
    ("interaction", gettext_lazy("Interaction")),
    ("user", gettext_lazy("User")),
    ("team", gettext_lazy("Team")),
    ("apikey", gettext_lazy("API key")),
    ("customfield", gettext_lazy("Custom field")),
    ("settings", gettext_lazy("Organisation settings")),
]
# Audit entities with a page of their own.
RECORD_URLS = {
    "contact": "contact_detail",
    "company": "company_detail",
    "user": "settings_user_edit",
    "team": "settings_team_edit",
    "customfield": "settings_custom_field_edit",
}


class _FormRefused(Exception):
    """Undo a service call whose input the form itself already refused."""


def admin_required(view):
    """Signed in and an administrator; anyone else gets the 403 page and changes nothing."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not is_admin(request.user):
            # The shared 403 page talks about records; this one says what is going on here.
            return render(request, "core/settings/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return login_required(ui_errors(wrapper))


def _render(
    request: HttpRequest, template: str, area: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {
        "section": "settings",
        "settings_area": area,
        "is_admin": is_admin(request.user),
        **context,
    }
    return render(request, template, context, status=status)


def _teams_for_select(*, excluding_subtree_of=None) -> list[dict[str, Any]]:
    """Teams for a <select>, indented by depth; optionally without one team's subtree."""
    skip = excluding_subtree_of.path if excluding_subtree_of is not None else None
    return [
        {"pk": node.team.pk, "label": "\u2003" * node.depth + node.team.name}
        for node in selectors.team_tree()
        if skip is None or not node.team.path.startswith(skip)
    ]


# --- personal settings --------------------------------------------------------------------


def _profile_values(user: User) -> dict[str, str]:
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "language": user.language,
    }


def _personal_page(request: HttpRequest, status: int = 200, **extra) -> HttpResponse:
    context = {
        "profile": _profile_values(request.user),
        "profile_errors": {},
        "password_errors": {},
        "languages": LANGUAGES,
        **_apikeys_context(request),
        **extra,
    }
    return _render(request, "core/settings/personal.html", "personal", context, status)


@login_required
def personal(request: HttpRequest) -> HttpResponse:
    return _personal_page(request)


@login_required
@require_POST
def profile_save(request: HttpRequest) -> HttpResponse:
    post = request.POST
    values = {key: post.get(key, "") for key in ("first_name", "last_name", "email", "language")}
    try:
        services.user_update(actor=request.user, user=request.user, **values)
    except ValidationFailedError as exc:
        return _personal_page(
            request, 422, profile=values, profile_errors=translate_errors(exc.fields)
        )
    translation.activate(values["language"])
    messages.success(request, _("Your profile is saved."))
    response = redirect("settings_personal")
    # Keep the cookie in step so the sign-in page after logout speaks the same language.
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, values["language"], samesite="Lax")
    return response


def _password_set(
    request: HttpRequest, target: User, old_password: str | None = None
) -> dict[str, str]:
    """Set the posted password on `target`; returns the problems (nothing saved) or {}."""
    password, again = request.POST.get("password", ""), request.POST.get("password2", "")
    errors: dict[str, str] = {}
    if password != again:
        errors["password2"] = _("The two passwords differ.")
    try:
        # As in user_create: let the service report its problems too, then undo if refused.
        with transaction.atomic():
            services.user_set_password(
                actor=request.user, user=target, password=password, old_password=old_password
            )
            if errors:
                raise _FormRefused
    except ValidationFailedError as exc:
        errors = {**translate_errors(exc.fields), **errors}
    except _FormRefused:
        pass
    return errors


@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    me = selectors.user_get(pk=request.user.pk)
    errors = _password_set(request, me, old_password=request.POST.get("old_password", ""))
    if errors:
        return _personal_page(request, 422, password_errors=errors)
    # The password hash is part of the session; keep this session signed in.
    update_session_auth_hash(request, me)
    messages.success(request, _("Your password is changed."))
    return redirect("settings_personal")


# --- API keys -----------------------------------------------------------------------------


def _apikeys_context(request: HttpRequest) -> dict[str, Any]:
    return {"apikeys": list(selectors.apikey_list(user=request.user)), "new_key": None}


@login_required
@require_POST
def apikey_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    key, raw = services.apikey_create(actor=request.user, user=request.user, name=name)
    # The raw key is rendered into this one response and never again; it is not stored.
    context = {**_apikeys_context(request), "new_key": raw, "new_key_obj": key}
    if request.htmx:
        return _render(request, "core/settings/partials/_apikeys.html", "personal", context)
    return _personal_page(request, **context)


@login_required
@require_POST
@ui_errors
def apikey_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = selectors.apikey_get_for_user(user=request.user, pk=pk)
    if key.revoked_at is None:
        services.apikey_revoke(actor=request.user, key=key)
    from_admin = request.POST.get("from") == "admin" and is_admin(request.user)
    if request.htmx and not from_admin:
        return _render(
            request, "core/settings/partials/_apikeys.html", "personal", _apikeys_context(request)
        )
    messages.success(request, _("The key %(prefix)s… is revoked.") % {"prefix": key.prefix})
    return redirect("settings_apikeys" if from_admin else "settings_personal")


@admin_required
def apikeys_all(request: HttpRequest) -> HttpResponse:
    keys = list(selectors.apikey_list())
    return _render(request, "core/settings/apikeys.html", "apikeys", {"keys": keys})


# --- users --------------------------------------------------------------------------------


USER_FIELDS = ("username", "first_name", "last_name", "email", "role", "team", "language")


def _user_form_context(**extra) -> dict[str, Any]:
    return {
        "roles": Role.choices,
        "teams": _teams_for_select(),
        "languages": LANGUAGES,
        "errors": {},
        **extra,
    }


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    users = list(selectors.user_list())
    return _render(request, "core/settings/users.html", "users", {"users": users})


@admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        values = {"role": Role.REP, "language": request.user.language}
        return _render(
            request, "core/settings/user_form.html", "users", _user_form_context(values=values)
        )
    values = {key: request.POST.get(key, "").strip() for key in USER_FIELDS}
    password, again = request.POST.get("password", ""), request.POST.get("password2", "")
    errors: dict[str, str] = {}
    team = _team_or_error(values["team"], errors)
    if password != again:
        errors["password2"] = _("The two passwords differ.")
    try:
        # The service validates everything else even when the form already found a problem, so
        # the user sees every problem at once; the user it creates then is rolled back.
        with transaction.atomic():
            user = services.user_create(
                actor=request.user,
                username=values["username"],
                password=password,
                role=values["role"],
                team=team,
                first_name=values["first_name"],
                last_name=values["last_name"],
                email=values["email"],
                language=values["language"] or "en",
            )
            if errors:
                raise _FormRefused
    except ValidationFailedError as exc:
        fallbacks = {
            "username": _("This username is taken; choose another."),
            "role": _("Choose a role from the list."),
        }
        errors = {**translate_errors(exc.fields, fallbacks), **errors}
    except _FormRefused:
        pass
    else:
        messages.success(request, _("User %(name)s is created.") % {"name": user.display_name})
        return redirect("settings_users")
    context = _user_form_context(values=values, errors=errors)
    return _render(request, "core/settings/user_form.html", "users", context, status=422)


def _team_or_error(raw: str, errors: dict[str, str], field: str = "team"):
    """The team a select posted; an unknown id becomes an error on `field`."""
    if not raw:
        return None
    try:
        return selectors.team_get(pk=int_or_none(raw) or 0)
    except NotFoundError:
        errors[field] = _("Choose a team from the list.")
        return None


@admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = selectors.user_get(pk=pk)
    if request.method == "GET":
        values = {
            "first_name": target.first_name,
            "last_name": target.last_name,
            "email": target.email,
            "role": target.role,
            "team": str(target.team_id or ""),
            "language": target.language,
            "is_active": target.is_active,
        }
        context = _user_form_context(values=values, target=target)
        return _render(request, "core/settings/user_form.html", "users", context)
    values = {key: request.POST.get(key, "").strip() for key in USER_FIELDS if key != "username"}
    values["is_active"] = checkbox(request.POST, "is_active")
    errors: dict[str, str] = {}
    team = _team_or_error(values["team"], errors)
    if not errors:
        try:
            services.user_update(
                actor=request.user,
                user=target,
                first_name=values["first_name"],
                last_name=values["last_name"],
                email=values["email"],
                language=values["language"] or "en",
                role=values["role"],
                team=team,
                is_active=values["is_active"],
            )
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields, {"role": _("Choose a role from the list.")})
        else:
            messages.success(request, _("Changes to %(name)s are saved.") % {"name": target})
            return redirect("settings_users")
    context = _user_form_context(values=values, errors=errors, target=target)
    return _render(request, "core/settings/user_form.html", "users", context, status=422)


@admin_required
@require_POST
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    """An administrator sets a new password for someone (who forgot theirs)."""
    target = selectors.user_get(pk=pk)
    if target.pk == request.user.pk:
        errors = {"password": _("Change your own password under Settings → Profile.")}
    else:
        errors = _password_set(request, target)
    if not errors:
        messages.success(request, _("%(name)s has a new password.") % {"name": target})
        return redirect("settings_user_edit", pk=target.pk)
    values = {
        "first_name": target.first_name,
        "last_name": target.last_name,
        "email": target.email,
        "role": target.role,
        "team": str(target.team_id or ""),
        "language": target.language,
        "is_active": target.is_active,
    }
    context = _user_form_context(values=values, target=target, password_errors=errors)
    return _render(request, "core/settings/user_form.html", "users", context, status=422)


# --- teams --------------------------------------------------------------------------------


def _teams_context(**extra) -> dict[str, Any]:
    return {
        "tree": selectors.team_tree(),
        "teams": _teams_for_select(),
        "errors": {},
        "values": {},
        **extra,
    }


@admin_required
@require_http_methods(["GET", "POST"])
def team_list(request: HttpRequest) -> HttpResponse:
    """The tree, and the "new team" form under it (POST creates)."""
    if request.method == "GET":
        return _render(request, "core/settings/teams.html", "teams", _teams_context())
    values = {"name": request.POST.get("name", ""), "parent": request.POST.get("parent", "")}
    errors: dict[str, str] = {}
    parent = _team_or_error(values["parent"], errors, "parent")
    if not errors:
        try:
            team = services.team_create(actor=request.user, name=values["name"], parent=parent)
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields)
        else:
            messages.success(request, _("Team %(name)s is created.") % {"name": team.name})
            return redirect("settings_teams")
    context = _teams_context(values=values, errors=errors)
    return _render(request, "core/settings/teams.html", "teams", context, status=422)


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = selectors.team_get(pk=pk)
    # A team can't move under itself or its own subtree: leave those out of the parent list.
    parents = _teams_for_select(excluding_subtree_of=team)
    if request.method == "GET":
        values = {"name": team.name, "parent": str(team.parent_id or "")}
        context = {"team": team, "parents": parents, "values": values, "errors": {}}
        return _render(request, "core/settings/team_form.html", "teams", context)
    values = {"name": request.POST.get("name", ""), "parent": request.POST.get("parent", "")}
    errors: dict[str, str] = {}
    parent = _team_or_error(values["parent"], errors, "parent")
    if not errors:
        try:
            services.team_update(actor=request.user, team=team, name=values["name"], parent=parent)
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields)
        else:
            messages.success(request, _("Team %(name)s is saved.") % {"name": values["name"]})
            return redirect("settings_teams")
    context = {"team": team, "parents": parents, "values": values, "errors": errors}
    return _render(request, "core/settings/team_form.html", "teams", context, status=422)


# --- custom fields ------------------------------------------------------------------------


@admin_required
def custom_field_list(request: HttpRequest) -> HttpResponse:
    fields = list(selectors.custom_field_list())
    groups = [
        {"entity": value, "label": label, "fields": [f for f in fields if f.entity == value]}
        for value, label in (
            (CustomField.Entity.CONTACT, _("Contacts")),
            (CustomField.Entity.COMPANY, _("Companies")),
        )
    ]
    return _render(request, "core/settings/custom_fields.html", "custom_fields", {"groups": groups})


def _custom_field_form(request, *, field=None, values, errors, status=200) -> HttpResponse:
    context = {
        "field": field,
        "values": values,
        "errors": errors,
        "entities": CustomField.Entity.choices,
        "types": CustomFieldType.choices,
        "choice_types": [CustomFieldType.CHOICE.value, CustomFieldType.MULTI_CHOICE.value],
    }
    return _render(
        request, "core/settings/custom_field_form.html", "custom_fields", context, status
    )


@admin_required
@require_http_methods(["GET", "POST"])
def custom_field_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        entity = request.GET.get("entity", CustomField.Entity.CONTACT)
        values = {"entity": entity, "type": CustomFieldType.TEXT, "position": "0"}
        return _custom_field_form(request, values=values, errors={})
    post = request.POST
    values = {
        "entity": post.get("entity", ""),
        "label": post.get("label", "").strip(),
        "key": post.get("key", "").strip(),
        "type": post.get("type", ""),
        "choices": post.get("choices", ""),
        "required": checkbox(post, "required"),
        "position": post.get("position", "0").strip(),
    }
    errors: dict[str, str] = {}
    position = int_or_none(values["position"] or "0")
    if position is None or position < 0:
        errors["position"] = _("A whole number, 0 or more.")
    choice_types = {CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE}
    choices = choices_from_text(values["choices"]) if values["type"] in choice_types else []
    if not errors:
        try:
            field = services.custom_field_create(
                actor=request.user,
                entity=values["entity"],
                label=values["label"],
                key=values["key"] or custom_field_key(values["label"]),
                type=values["type"],
                choices=choices,
                required=values["required"],
                position=position,
            )
        except ConflictError:
            errors = {"key": _("This record type already has a field with this key.")}
        except ValidationFailedError as exc:
            errors = translate_errors(
                exc.fields,
                {
                    "entity": _("Choose contacts or companies."),
                    "type": _("Choose a type from the list."),
                },
            )
        else:
            messages.success(request, _("Field %(label)s is created.") % {"label": field.label})
            return redirect("settings_custom_fields")
    return _custom_field_form(request, values=values, errors=errors, status=422)


@admin_required
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field = selectors.custom_field_get(pk=pk)
    if request.method == "GET":
        values = {
            "label": field.label,
            "choices": "\n".join(field.choices),
            "required": field.required,
            "position": str(field.position),
        }
        return _custom_field_form(request, field=field, values=values, errors={})
    post = request.POST
    values = {
        "label": post.get("label", "").strip(),
        "choices": post.get("choices", ""),
        "required": checkbox(post, "required"),
        "position": post.get("position", "0").strip(),
    }
    errors: dict[str, str] = {}
    position = int_or_none(values["position"] or "0")
    if position is None or position < 0:
        errors["position"] = _("A whole number, 0 or more.")
    choice_types = {CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE}
    if not errors:
        try:
            services.custom_field_update(
                actor=request.user,
                field=field,
                label=values["label"],
                choices=choices_from_text(values["choices"])
                if field.type in choice_types
                else None,
                required=values["required"],
                position=position,
            )
        except ValidationFailedError as exc:
            errors = translate_errors(exc.fields)
            field = selectors.custom_field_get(pk=pk)
        else:
            messages.success(request, _("Field %(label)s is saved.") % {"label": values["label"]})
            return redirect("settings_custom_fields")
    return _custom_field_form(request, field=field, values=values, errors=errors, status=422)


@admin_required
@require_http_methods(["GET", "POST"])
def custom_field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    field = selectors.custom_field_get(pk=pk)
    if request.method == "GET":
        return _render(
            request, "core/settings/custom_field_delete.html", "custom_fields", {"field": field}
        )
    services.custom_field_delete(actor=request.user, field=field)
    messages.success(request, _("Field %(label)s is deleted.") % {"label": field.label})
    return redirect("settings_custom_fields")


# --- organisation -------------------------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def organisation(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        row = OrgSettings.get()
        values = {
            "company_name": row.company_name,
            "team_sharing": row.team_sharing,
            "default_region": row.default_region,
        }
        return _render(
            request,
            "core/settings/organisation.html",
            "organisation",
            {"values": values, "errors": {}},
        )
    values = {
        "company_name": request.POST.get("company_name", ""),
        "team_sharing": checkbox(request.POST, "team_sharing"),
        "default_region": request.POST.get("default_region", ""),
    }
    try:
        services.org_settings_update(actor=request.user, **values)
    except ValidationFailedError as exc:
        context = {"values": values, "errors": translate_errors(exc.fields)}
        return _render(request, "core/settings/organisation.html", "organisation", context, 422)
    messages.success(request, _("Organisation settings are saved."))
    return redirect("settings_organisation")


# --- audit log and jobs -------------------------------------------------------------------


# Audit rows name fields by attribute; core entities take the label from their model here
# (customer records from the shared `field_label` tag). Keys with no model field of that name:
AUDIT_FIELD_NAMES = {
    ("apikey", "user"): gettext_lazy("user"),
    ("apikey", "prefix"): gettext_lazy("key"),
    ("user", "password"): gettext_lazy("password"),
}
AUDIT_MODELS = {
    "user": User,
    "team": Team,
    "customfield": CustomField,
    "settings": OrgSettings,
    "apikey": ApiKey,
}
# Stored choice values shown by their label.
AUDIT_CHOICES = {
    ("user", "role"): Role,
    ("customfield", "type"): CustomFieldType,
    ("customfield", "entity"): CustomField.Entity,
}


def _change_label(entity: str, key: str) -> str:
    if (entity, key) in AUDIT_FIELD_NAMES:
        return str(AUDIT_FIELD_NAMES[entity, key])
    model = AUDIT_MODELS.get(entity)
    if model is None:
        return field_label(entity, key)
    try:
        return str(model._meta.get_field(key.removesuffix("_id")).verbose_name)
    except FieldDoesNotExist:
        return key.replace("_", " ")


def _change_value(entity: str, key: str, value: Any) -> Any:
    choices = AUDIT_CHOICES.get((entity, key))
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    return value


def _audit_rows(items: list[AuditLog]) -> list[dict[str, Any]]:
    rows = []
    for entry in items:
        url_name = RECORD_URLS.get(entry.entity)
        url = ""
        if url_name and entry.action != AuditLog.Action.DELETE:
            url = reverse(url_name, args=[entry.object_id])
        changes = []
        for key, pair in (entry.changes or {}).items():
            # Rows store [old, new]; anything else is shown as the new value.
            old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            changes.append(
                {
                    "label": _change_label(entry.entity, key),
                    "old": _change_value(entry.entity, key, old),
                    "new": _change_value(entry.entity, key, new),
                }
            )
        rows.append({"entry": entry, "url": url, "changes": changes})
    return rows


@admin_required
def audit(request: HttpRequest) -> HttpResponse:
    filters = {
        key: request.GET.get(key, "").strip()
        for key in ("entity", "user_id", "action")
        if request.GET.get(key, "").strip()
    }
    notice = ""
    cursor = request.GET.get("cursor") or None
    try:
        page = audit_list(user=request.user, filters=filters, cursor=cursor, limit=AUDIT_PAGE)
    except BadCursorError:
        notice = _("That page link has expired; showing the newest entries.")
        page = audit_list(user=request.user, filters=filters, limit=AUDIT_PAGE)
    base = urlencode(filters)

    def page_url(cursor_value: str | None) -> str:
        if not cursor_value:
            return ""
        return "?" + urlencode({**filters, "cursor": cursor_value})

    context = {
        "rows": _audit_rows(page.items),
        "page": page,
        "next_url": page_url(page.next_cursor),
        "prev_url": page_url(page.prev_cursor),
        "filters": filters,
        "filter_query": base,
        "notice": notice,
        "entities": AUDIT_ENTITIES,
        "entity_labels": dict(AUDIT_ENTITIES),
        "actions": AuditLog.Action.choices,
        "users": list(selectors.user_list()),
    }
    template = "core/settings/audit.html"
    if request.htmx and not request.htmx.boosted:
        template = "core/settings/partials/_audit_results.html"
    return _render(request, template, "audit", context)


@admin_required
def jobs(request: HttpRequest) -> HttpResponse:
    failures = selectors.job_failure_list(limit=200)
    return _render(request, "core/settings/jobs.html", "jobs", {"failures": failures})
