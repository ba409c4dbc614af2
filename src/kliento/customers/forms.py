"""Reading the contact, company and interaction forms into service data, and back.

The forms are plain HTML (repeated email/phone inputs, company link rows, typed custom fields),
so parsing is explicit here: the view hands the resulting dict to a service and shows the
service's ValidationFailedError.fields beside the inputs.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from kliento.core.models import CustomField, CustomFieldType
from kliento.customers.models import Company, Contact

CONTACT_TEXT = (
    "first_name",
    "middle_name",
    "last_name",
    "birth_date",
    "gender",
    "language",
    "country",
    "region",
    "city",
    "lifecycle_stage",
    "preferred_channel",
    "preferences",
    "owner_id",
)
COMPANY_TEXT = (
    "name",
    "legal_name",
    "tax_id",
    "industry",
    "size",
    "country",
    "region",
    "city",
    "address",
    "postal_address",
    "website",
    "owner_id",
)
SOCIAL_NETWORKS = ("telegram", "vk", "linkedin", "facebook", "instagram", "whatsapp")
SOCIAL_LABELS = {
    "telegram": "Telegram",
    "vk": "VK",
    "linkedin": "LinkedIn",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
}

# Service messages (already in the user's language) that the form words for a person at a
# screen. Matched against the same msgid in the active language, so it works in every language.
_REWRITES = (
    (
        (gettext_noop("At most %(n)s characters."),),
        lambda m: _("Too long: %(limit)s characters at most.") % {"limit": m["n"]},
    ),
    (
        (
            gettext_noop("Expected a date as YYYY-MM-DD, got %(value)s."),
            gettext_noop("Expected a date and time (ISO 8601), got %(value)s."),
            gettext_noop("Expected a date, got %(value)s."),
        ),
        lambda m: _("Enter a date like 2024-05-31."),
    ),
    (
        (gettext_noop("Expected a number."), gettext_noop("Expected a number, got %(value)s.")),
        lambda m: _("Enter a number."),
    ),
    (
        (gettext_noop("%(value)s is not one of: %(allowed)s."),),
        lambda m: _("Choose one of the offered values."),
    ),
    (
        (gettext_noop("No company with id %(id)s."),),
        lambda m: _("That company doesn't exist or isn't visible to you."),
    ),
)


@lru_cache(maxsize=256)
def _pattern(template: str) -> re.Pattern[str]:
    """A translated message template ("At most %(n)s characters.") as a regex with groups."""
    parts = re.split(r"%\((\w+)\)s", template)
    regex = "".join(
        re.escape(part.replace("%%", "%")) if i % 2 == 0 else f"(?P<{part}>.*)"
        for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$", re.DOTALL)


def _rewrite(message: str) -> str:
    for templates, reword in _REWRITES:
        for template in templates:
            match = _pattern(_(template)).match(message)
            if match:
                return reword(match.groupdict())
    return message


def translate_errors(fields: dict[str, str], values: dict[str, Any] | None = None) -> dict:
    """Service error texts (already translated) → the wording the form shows beside a field."""
    result = {}
    for key, message in fields.items():
        head = key.split(".")[0]
        if head in {"emails", "phones"} and "." in key:
            result[key] = (
                _("Not a valid email address.")
                if head == "emails"
                else _("Not a phone number we can dial. Include the country code, e.g. +7 …")
            )
        else:
            result[key] = _rewrite(str(message))
    return result


# --- custom fields ------------------------------------------------------------------------


def custom_fields_for(entity: str) -> list[CustomField]:
    return list(CustomField.objects.filter(entity=entity))


def custom_from_post(post: QueryDict, fields: list[CustomField]) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    for field in fields:
        name = f"custom.{field.key}"
        if field.type == CustomFieldType.MULTI_CHOICE:
            custom[field.key] = post.getlist(name)
        else:
            custom[field.key] = post.get(name, "").strip()
    return custom


def custom_rows(fields: list[CustomField], values: dict[str, Any], errors: dict) -> list[dict]:
    """What the template needs to render each custom field input."""
    rows = []
    for field in fields:
        value = values.get(field.key)
        if field.type == CustomFieldType.MULTI_CHOICE:
            selected = [str(v) for v in value] if isinstance(value, list) else []
        elif field.type == CustomFieldType.BOOLEAN and isinstance(value, bool):
            selected = "yes" if value else "no"
        else:
            selected = "" if value is None else str(value)
        rows.append(
            {
                "field": field,
                "name": f"custom.{field.key}",
                "value": selected,
                "error": errors.get(f"custom.{field.key}", ""),
            }
        )
    return rows


def custom_display(fields: list[CustomField], values: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for field in fields:
        value = values.get(field.key)
        if value in (None, "", []):
            continue
        if isinstance(value, bool):
            value = _("Yes") if value else _("No")
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        shown.append((field.label, str(value)))
    return shown


# --- contacts and companies ----------------------------------------------------------------


def _list(post: QueryDict, name: str) -> list[str]:
    return [v.strip() for v in post.getlist(name)]


def _tags(raw: str) -> list[str]:
    return [t.strip() for t in (raw or "").split(",") if t.strip()]


def contact_data_from_post(post: QueryDict, fields: list[CustomField]) -> dict[str, Any]:
    data: dict[str, Any] = {name: post.get(name, "").strip() for name in CONTACT_TEXT}
    data["emails"] = [e for e in _list(post, "emails") if e]
    data["phones"] = [p for p in _list(post, "phones") if p]
    data["tags"] = _tags(post.get("tags", ""))
    data["birth_date"] = data["birth_date"] or None
    data["social"] = {
        net: post.get(f"social.{net}", "").strip()
        for net in SOCIAL_NETWORKS
        if post.get(f"social.{net}", "").strip()
    }
    ids, roles, titles = (post.getlist(n) for n in ("company_id", "company_role", "company_title"))
    data["companies"] = [
        {
            "company_id": cid,
            "role": (roles[i] if i < len(roles) else "").strip(),
            "title": (titles[i] if i < len(titles) else "").strip(),
        }
        for i, cid in enumerate(ids)
        if cid
    ]
    data["custom"] = custom_from_post(post, fields)
    if not data["owner_id"]:
        data.pop("owner_id")
    return data


def company_data_from_post(post: QueryDict, fields: list[CustomField]) -> dict[str, Any]:
    data: dict[str, Any] = {name: post.get(name, "").strip() for name in COMPANY_TEXT}
    data["emails"] = [e for e in _list(post, "emails") if e]
    data["phones"] = [p for p in _list(post, "phones") if p]
    data["tags"] = _tags(post.get("tags", ""))
    data["custom"] = custom_from_post(post, fields)
    if not data["owner_id"]:
        data.pop("owner_id")
    return data


def contact_form_values(contact: Contact | None) -> dict[str, Any]:
    """The edit form's starting values (what the user would have typed)."""
    if contact is None:
        return {
            "lifecycle_stage": "lead",
            "emails": [""],
            "phones": [""],
            "links": [],
            "social": {},
            "custom": {},
        }
    values = {name: str(getattr(contact, name) or "") for name in CONTACT_TEXT}
    values["birth_date"] = contact.birth_date.isoformat() if contact.birth_date else ""
    values["emails"] = list(contact.emails) or [""]
    values["phones"] = [contact_phone for contact_phone in contact.phones_display] or [""]
    values["tags"] = ", ".join(contact.tag_list)
    values["social"] = dict(contact.social or {})
    values["custom"] = dict(contact.custom or {})
    values["links"] = [
        {
            "company_id": link.company_id,
            "name": link.company.name,
            "role": link.role,
            "title": link.title,
        }
        for link in contact.company_links.select_related("company").order_by("-is_primary", "id")
    ]
    return values


def contact_values_from_post(post: QueryDict, fields: list[CustomField]) -> dict[str, Any]:
    """Re-render what the user typed after a failed save, exactly as typed."""
    values: dict[str, Any] = {name: post.get(name, "") for name in CONTACT_TEXT}
    values["emails"] = _list(post, "emails") or [""]
    values["phones"] = _list(post, "phones") or [""]
    values["tags"] = post.get("tags", "")
    values["social"] = {net: post.get(f"social.{net}", "") for net in SOCIAL_NETWORKS}
    values["custom"] = _custom_raw(post, fields)
    ids, names = post.getlist("company_id"), post.getlist("company_name")
    roles, titles = post.getlist("company_role"), post.getlist("company_title")
    values["links"] = [
        {
            "company_id": cid,
            "name": names[i] if i < len(names) else "",
            "role": roles[i] if i < len(roles) else "",
            "title": titles[i] if i < len(titles) else "",
        }
        for i, cid in enumerate(ids)
    ]
    return values


def company_form_values(company: Company | None) -> dict[str, Any]:
    if company is None:
        return {"emails": [""], "phones": [""], "custom": {}}
    values = {name: str(getattr(company, name) or "") for name in COMPANY_TEXT}
    values["emails"] = list(company.emails) or [""]
    values["phones"] = list(company.phones_display) or [""]
    values["tags"] = ", ".join(company.tag_list)
    values["custom"] = dict(company.custom or {})
    return values


def company_values_from_post(post: QueryDict, fields: list[CustomField]) -> dict[str, Any]:
    values: dict[str, Any] = {name: post.get(name, "") for name in COMPANY_TEXT}
    values["emails"] = _list(post, "emails") or [""]
    values["phones"] = _list(post, "phones") or [""]
    values["tags"] = post.get("tags", "")
    values["custom"] = _custom_raw(post, fields)
    return values


def _custom_raw(post: QueryDict, fields: list[CustomField]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for field in fields:
        name = f"custom.{field.key}"
        if field.type == CustomFieldType.MULTI_CHOICE:
            raw[field.key] = post.getlist(name)
        elif field.type == CustomFieldType.BOOLEAN:
            value = post.get(name, "")
            raw[field.key] = {"yes": True, "no": False}.get(value, value or None)
        else:
            raw[field.key] = post.get(name, "")
    return raw


def multi_rows(values: list[str], field: str, errors: dict) -> list[dict]:
    return [
        {"value": value, "error": errors.get(f"{field}.{i}", "")} for i, value in enumerate(values)
    ]


# --- interactions -------------------------------------------------------------------------

LOG_KINDS = ("call", "meeting", "note", "email")
# Whole phrases, not "Log " + kind: Russian needs the noun in another case.
LOG_LABELS = {
    "call": gettext_lazy("Log call"),
    "meeting": gettext_lazy("Log meeting"),
    "note": gettext_lazy("Add note"),
    "email": gettext_lazy("Log email"),
}
PLAN_KINDS = ("task", "call", "meeting")


def local_input(value: datetime | None) -> str:
    """A datetime as the value of an <input type=datetime-local> in the current time zone."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def parse_local(raw: str) -> datetime | str | None:
    """Read a datetime-local value in the current time zone; unreadable text passes through."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def log_defaults(kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "direction": "internal" if kind == "note" else "out",
        "occurred_at": local_input(timezone.now()),
        "subject": "",
        "body": "",
        "outcome": "",
        "duration_minutes": "",
    }


def plan_defaults(kind: str, user_id: int) -> dict[str, Any]:
    tomorrow = timezone.localtime(timezone.now() + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    return {
        "kind": kind,
        "due_at": local_input(tomorrow),
        "remind_at": "",
        "assignee_id": str(user_id),
        "subject": "",
        "body": "",
    }


def log_data_from_post(post: QueryDict) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": post.get("kind", ""),
        "direction": post.get("direction", "out") or "out",
        "occurred_at": parse_local(post.get("occurred_at", "")),
        "subject": post.get("subject", "").strip(),
        "body": post.get("body", "").strip(),
        "outcome": post.get("outcome", "").strip(),
    }
    minutes = post.get("duration_minutes", "").strip().replace(",", ".")
    if minutes:
        try:
            data["duration_seconds"] = max(0, round(float(minutes) * 60))
        except (ValueError, OverflowError):  # not a number, NaN, infinity: the service says so
            data["duration_seconds"] = minutes
    return data


def plan_data_from_post(post: QueryDict) -> dict[str, Any]:
    return {
        "kind": post.get("kind", "task") or "task",
        "planned": True,
        "due_at": parse_local(post.get("due_at", "")),
        "remind_at": parse_local(post.get("remind_at", "")),
        "assignee_id": post.get("assignee_id", "") or None,
        "subject": post.get("subject", "").strip(),
        "body": post.get("body", "").strip(),
    }


def interaction_errors(fields: dict[str, str]) -> dict[str, str]:
    errors = translate_errors(fields)
    if "duration_seconds" in errors:
        errors["duration_minutes"] = _("Enter the duration in minutes.")
    return errors


def interaction_edit_values(interaction) -> dict[str, Any]:
    """The inline edit form's starting values for one timeline entry."""
    minutes = interaction.duration_seconds
    return {
        "kind": interaction.kind,
        "planned": interaction.planned,
        "subject": interaction.subject,
        "body": interaction.body,
        "outcome": interaction.outcome,
        "occurred_at": local_input(interaction.occurred_at),
        "due_at": local_input(interaction.due_at),
        "assignee_id": str(interaction.assignee_id or ""),
        "duration_minutes": "" if minutes is None else f"{minutes / 60:g}",
    }


def interaction_edit_data_from_post(post: QueryDict, interaction) -> dict[str, Any]:
    """What the inline edit form changes; which fields it shows depends on the entry's kind."""
    data: dict[str, Any] = {
        "subject": post.get("subject", "").strip(),
        "body": post.get("body", "").strip(),
    }
    if interaction.kind != "note":
        data["outcome"] = post.get("outcome", "").strip()
    if interaction.planned:
        data["due_at"] = parse_local(post.get("due_at", ""))
        data["assignee_id"] = post.get("assignee_id", "") or None
    else:
        data["occurred_at"] = parse_local(post.get("occurred_at", ""))
    if interaction.kind in ("call", "meeting") and not interaction.planned:
        minutes = post.get("duration_minutes", "").strip().replace(",", ".")
        data["duration_seconds"] = None
        if minutes:
            try:
                data["duration_seconds"] = max(0, round(float(minutes) * 60))
            except ValueError:
                data["duration_seconds"] = minutes
    return data
