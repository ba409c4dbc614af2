"""Every change to the customer database: validated, transactional, audited, indexed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Choices, Model, ProtectedError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from kliento.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
    still_referenced,
)
from kliento.core.models import AuditLog, OrgSettings, User
from kliento.core.permissions import can_read, can_write, scope_for
from kliento.core.services import audit_diff, audit_record, custom_values_clean
from kliento.customers.models import (
    DEFAULT_CHANNEL,
    Channel,
    Company,
    CompanySize,
    Consent,
    ConsentChannel,
    Contact,
    ContactCompany,
    Direction,
    Gender,
    Interaction,
    InteractionKind,
    LifecycleStage,
    RecordShare,
    tags_from_db,
    tags_to_db,
)
from kliento.customers.normalize import NormalizationError, normalize_email, normalize_phone
from kliento.customers.search import index_company, index_contact, unindex

CONTACT_TEXT_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "language",
    "country",
    "region",
    "city",
    "preferences",
)
CONTACT_FIELDS = set(CONTACT_TEXT_FIELDS) | {
    "emails",
    "phones",
    "birth_date",
    "gender",
    "social",
    "tags",
    "lifecycle_stage",
    "preferred_channel",
    "owner_id",
    "custom",
    "companies",
}
COMPANY_TEXT_FIELDS = (
    "name",
    "legal_name",
    "tax_id",
    "industry",
    "country",
    "region",
    "city",
    "address",
    "postal_address",
    "website",
)
COMPANY_FIELDS = set(COMPANY_TEXT_FIELDS) | {
    "size",
    "emails",
    "phones",
    "tags",
    "owner_id",
    "custom",
}
INTERACTION_FIELDS = {
    "kind",
    "channel",
    "direction",
    "occurred_at",
    "subject",
    "body",
    "outcome",
    "duration_seconds",
    "contact_id",
    "company_id",
    "related_type",
    "related_id",
    "planned",
    "due_at",
    "assignee_id",
    "remind_at",
}


class DuplicateCandidatesError(ConflictError):
    """The new record is likely one that exists; create it only when the user confirms."""

    code = "duplicate"

    def __init__(self, message: str, *, candidates: list[dict]):
        super().__init__(message)
        self.candidates = candidates


def _check_duplicates(user: User, entity: str, values: dict[str, Any]) -> None:
    """Raise DuplicateCandidatesError when a likely existing record matches `values`."""
    # Imported here: the duplicate check lives with the duplicates area, which depends on
    # customers, not the other way round.
    from kliento.dataio.dedup.candidates import (
        company_candidates,
        contact_candidates,
        duplicate_message,
    )
    from kliento.dataio.dedup.matching import ENTRY_THRESHOLD

    find = contact_candidates if entity == "contact" else company_candidates
    found = find(user=user, data=values, min_confidence=ENTRY_THRESHOLD)
    if found:
        raise DuplicateCandidatesError(duplicate_message(), candidates=[c.as_dict() for c in found])


# --- shared cleaning helpers --------------------------------------------------------------
# The public ones are also the rules of the file import (dataio.transfer.cleaning), so an
# imported row is held to what the forms and the API accept.


def text_clean(model: type[Model], field: str, value: Any, errors: dict[str, str]) -> str:
    """`value` as the text `model.field` stores: stripped, "" for None.

    Not text, or longer than the field's max_length: the reason goes to `errors[field]`.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[field] = _("Expected text.")
        return ""
    value = value.strip()
    max_length = model._meta.get_field(field).max_length
    if max_length and len(value) > max_length:
        errors[field] = _("At most %(n)s characters.") % {"n": max_length}
    return value


class ChoicesWithBlank:
    """Choices plus the empty value, for choice_clean on optional choice fields."""

    def __init__(self, choices: type[Choices]):
        self.values = ["", *choices.values]


def choice_clean(
    value: Any, choices: type[Choices] | ChoicesWithBlank, field: str, errors: dict[str, str]
) -> str:
    """`value` ("" for None) when it is one of `choices.values`; otherwise the allowed values go
    to `errors[field]`. Wrap optional choice fields in ChoicesWithBlank."""
    value = "" if value is None else value
    if value not in choices.values:
        allowed = ", ".join(v for v in choices.values if v)
        errors[field] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(value),
            "allowed": allowed,
        }
    return value


def _emails(values: Any, field: str, errors: dict[str, str]) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        errors[field] = _("Expected a list of emails.")
        return []
    result: list[str] = []
    for i, raw in enumerate(values):
        if not isinstance(raw, str):
            errors[f"{field}.{i}"] = _("Expected an email address.")
            continue
        if not raw.strip():
            continue
        try:
            email = normalize_email(raw)
        except NormalizationError as exc:
            errors[f"{field}.{i}"] = _("Invalid email %(value)s: %(reason)s") % {
                "value": repr(raw),
                "reason": exc,
            }
            continue
        if email not in result:
            result.append(email)
    return result


def _phones(values: Any, field: str, errors: dict[str, str]) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        errors[field] = _("Expected a list of phone numbers.")
        return []
    region = OrgSettings.get().default_region
    result: list[str] = []
    for i, raw in enumerate(values):
        if not isinstance(raw, str):
            errors[f"{field}.{i}"] = _("Expected a phone number.")
            continue
        if not raw.strip():
            continue
        try:
            phone = normalize_phone(raw, region)
        except NormalizationError as exc:
            errors[f"{field}.{i}"] = _("Invalid phone %(value)s: %(reason)s") % {
                "value": repr(raw),
                "reason": exc,
            }
            continue
        if phone not in result:
            result.append(phone)
    return result


def tags_clean(values: Any, errors: dict[str, str]) -> str:
    """Tags (a list, or one comma-separated string) in their stored form ("" for None).

    Not a list of strings, a comma inside a tag, or more than 500 characters stored: the reason
    goes to `errors["tags"]`.
    """
    if values is None:
        return ""
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        errors["tags"] = _("Expected a list of tags.")
        return ""
    if any("," in v for v in values):
        errors["tags"] = _("A tag cannot contain a comma.")
        return ""
    result = tags_to_db(values)
    if len(result) > 500:
        errors["tags"] = _("Too many tags (500 characters at most).")
    return result


def _date(value: Any, field: str, errors: dict[str, str]) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        result = value
    else:
        try:
            result = parse_date(str(value))
        except ValueError:
            result = None
        if result is None:
            errors[field] = _("Expected a date as YYYY-MM-DD, got %(value)s.") % {
                "value": repr(value)
            }
            return None
    if result.year < 1900 or result > timezone.localdate():
        errors[field] = _("The date must be between 1900 and today.")
    return result


def _datetime(value: Any, field: str, errors: dict[str, str]) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        result = value
    else:
        try:
            result = parse_datetime(str(value))
        except ValueError:
            result = None
        if result is None:
            errors[field] = _("Expected a date and time (ISO 8601), got %(value)s.") % {
                "value": repr(value)
            }
            return None
    if timezone.is_naive(result):
        result = timezone.make_aware(result)
    if not (1900 <= result.year <= 2200):
        errors[field] = _("The date is out of range.")
    return result


def _owner(user: User, value: Any, errors: dict[str, str]) -> int | None:
    if value in (None, ""):
        return None
    try:
        owner_id = int(value)
    except (TypeError, ValueError):
        errors["owner_id"] = _("Expected a user id.")
        return None
    if not User.objects.filter(pk=owner_id, is_active=True).exists():
        errors["owner_id"] = _("No active user with id %(id)s.") % {"id": owner_id}
        return None
    scope = scope_for(user)
    if owner_id != user.pk and not scope.write_all and owner_id not in scope.owner_ids:
        errors["owner_id"] = _("You can only assign records to yourself or your team.")
    return owner_id


def _clean_record_fields(
    user: User, entity: str, data: dict[str, Any], record, values: dict, errors: dict
) -> None:
    """Tags, owner and custom values, which contacts and companies share."""
    if "tags" in data:
        values["tags"] = tags_clean(data["tags"], errors)
    if "owner_id" in data:
        owner_id = _owner(user, data["owner_id"], errors)
        if owner_id is not None:
            values["owner_id"] = owner_id
    if "custom" in data and not isinstance(data["custom"], dict):
        errors["custom"] = _("Expected an object of custom field values.")
    elif "custom" in data or record is None:
        # On create, required custom fields must be present even when none are sent.
        try:
            values["custom"] = custom_values_clean(
                entity=entity,
                values=data.get("custom") or {},
                current=record.custom if record else None,
            )
        except ValidationFailedError as exc:
            errors.update(exc.fields)


def _unknown(data: dict[str, Any], allowed: set[str], errors: dict[str, str]) -> None:
    for key in data:
        if key not in allowed:
            errors[key] = _("Unknown field.")


def _check_version(obj, expected_version: int | None) -> None:
    if expected_version is not None and obj.version != expected_version:
        raise StaleVersionError(
            _(
                "This record was changed by someone else (now version %(current)s, "
                "you had %(expected)s). Reload it and apply your change again."
            )
            % {"current": obj.version, "expected": expected_version}
        )


def _require_write(user: User, entity: str, obj) -> None:
    if not can_read(user, entity, obj):
        raise NotFoundError()
    if not can_write(user, entity, obj):
        raise PermissionDeniedError(_("You can view this record but not change it."))


def _require_may_write(user: User) -> None:
    if not scope_for(user).may_write:
        raise PermissionDeniedError(_("Your role is read-only."))


# --- contacts -----------------------------------------------------------------------------


def _contact_clean(user: User, data: dict[str, Any], contact: Contact | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    _unknown(data, CONTACT_FIELDS, errors)
    values: dict[str, Any] = {}
    for field in CONTACT_TEXT_FIELDS:
        if field in data:
            values[field] = text_clean(Contact, field, data[field], errors)
    if "emails" in data:
        values["emails"] = _emails(data["emails"], "emails", errors)
        values["email"] = values["emails"][0] if values["emails"] else ""
    if "phones" in data:
        values["phones"] = _phones(data["phones"], "phones", errors)
        values["phone"] = values["phones"][0] if values["phones"] else ""
    if "birth_date" in data:
        values["birth_date"] = _date(data["birth_date"], "birth_date", errors)
    if "gender" in data:
        values["gender"] = choice_clean(data["gender"], Gender, "gender", errors)
    if "lifecycle_stage" in data:
        values["lifecycle_stage"] = choice_clean(
            data["lifecycle_stage"], LifecycleStage, "lifecycle_stage", errors
        )
    if "preferred_channel" in data:
        values["preferred_channel"] = choice_clean(
            data["preferred_channel"] or "",
            ChoicesWithBlank(ConsentChannel),
            "preferred_channel",
            errors,
        )
    if "social" in data:
        social = data["social"] or {}
        if not isinstance(social, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in social.items()
        ):
            errors["social"] = _("Expected an object of network name → profile address.")
        else:
            values["social"] = {
                k.strip()[:50]: v.strip()[:255]
                for k, v in social.items()
                if k.strip() and v.strip()
            }
    _clean_record_fields(user, "contact", data, contact, values, errors)
    if "companies" in data:
        values["companies"] = _company_links(user, data["companies"], errors)
    identity = ("first_name", "last_name", "emails", "phones")
    if contact is None or any(f in values for f in identity):
        has_identity = any(
            values[f] if f in values else getattr(contact, f, None) for f in identity
        )
        if not has_identity and "first_name" not in errors:
            errors["first_name"] = _("Give at least a name, an email or a phone.")
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return values


def _company_links(user: User, links: Any, errors: dict[str, str]) -> list[dict[str, Any]]:
    if links is None:
        return []
    if not isinstance(links, list | tuple):
        errors["companies"] = _("Expected a list of {company_id, role, title}.")
        return []
    result = []
    for i, link in enumerate(links):
        if isinstance(link, int):
            link = {"company_id": link}
        if not isinstance(link, dict) or "company_id" not in link:
            errors[f"companies.{i}"] = _("Expected {company_id, role, title}.")
            continue
        extra = set(link) - {"company_id", "role", "title", "is_primary"}
        if extra:
            errors[f"companies.{i}.{sorted(extra)[0]}"] = _("Unknown field.")
            continue
        try:
            company = Company.objects.get(pk=int(link["company_id"]))
        except (Company.DoesNotExist, TypeError, ValueError):
            company = None
        if company is None or not can_read(user, "company", company):
            errors[f"companies.{i}.company_id"] = _("No company with id %(id)s.") % {
                "id": link["company_id"]
            }
            continue
        result.append(
            {
                "company": company,
                "role": str(link.get("role") or "")[:100],
                "title": str(link.get("title") or "")[:100],
                "is_primary": bool(link.get("is_primary", i == 0)),
            }
        )
    return result


def _contact_snapshot(contact: Contact, fields) -> dict[str, Any]:
    snap = {}
    for field in fields:
        if field == "companies":
            snap[field] = sorted(contact.company_links.values_list("company_id", flat=True))
        elif field == "tags":
            snap[field] = tags_from_db(contact.tags)
        else:
            snap[field] = getattr(contact, field)
    return snap


def _set_company_links(contact: Contact, links: list[dict[str, Any]]) -> None:
    keep = {link["company"].pk for link in links}
    contact.company_links.exclude(company_id__in=keep).delete()
    for link in links:
        ContactCompany.objects.update_or_create(
            contact=contact,
            company=link["company"],
            defaults={
                "role": link["role"],
                "title": link["title"],
                "is_primary": link["is_primary"],
            },
        )


@transaction.atomic
def contact_create(*, user: User, data: dict[str, Any], check_duplicates: bool = False) -> Contact:
    """Create a contact. With `check_duplicates`, a likely existing contact stops the creation
    with DuplicateCandidatesError (the UI and API ask the user to confirm, then call again
    without the check)."""
    _require_may_write(user)
    values = _contact_clean(user, data, None)
    if check_duplicates:
        _check_duplicates(user, "contact", values)
    links = values.pop("companies", [])
    values.setdefault("owner_id", user.pk)
    contact = Contact.objects.create(**values)
    if links:
        _set_company_links(contact, links)
    after = _contact_snapshot(contact, [k for k in data if k in CONTACT_FIELDS])
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="contact",
        obj=contact,
        changes=audit_diff({}, after),
    )
    index_contact(contact)
    return contact


@transaction.atomic
def contact_update(
    *, user: User, contact: Contact, data: dict[str, Any], expected_version: int | None = None
) -> Contact:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    _require_write(user, "contact", contact)
    _check_version(contact, expected_version)
    values = _contact_clean(user, data, contact)
    before = _contact_snapshot(contact, [k for k in data if k in CONTACT_FIELDS])
    links = values.pop("companies", None)
    for key, value in values.items():
        setattr(contact, key, value)
    contact.version += 1
    contact.updated_at = timezone.now()
    contact.save(update_fields=[*values, "version", "updated_at"])
    if links is not None:
        _set_company_links(contact, links)
    changes = audit_diff(before, _contact_snapshot(contact, list(before)))
    audit_record(
        user=user, action=AuditLog.Action.UPDATE, entity="contact", obj=contact, changes=changes
    )
    index_contact(contact)
    return contact


def _record_delete(
    user: User, entity: str, obj, expected_version: int | None, changes: dict
) -> None:
    """Delete a contact or company: lock, check, audit, drop its search entry and shares."""
    obj = type(obj).objects.select_for_update().get(pk=obj.pk)
    _require_write(user, entity, obj)
    _check_version(obj, expected_version)
    audit_record(
        user=user,
        action=AuditLog.Action.DELETE,
        entity=entity,
        obj=obj,
        changes={k: [v(obj), None] for k, v in changes.items()},
    )
    unindex(entity, obj.pk)
    RecordShare.objects.filter(entity=entity, object_id=obj.pk).delete()
    try:
        obj.delete()
    except ProtectedError as exc:  # orders, quotes... keep the sales history; the atomic rolls back
        raise still_referenced(exc, changes["name"](obj)) from exc


@transaction.atomic
def contact_delete(*, user: User, contact: Contact, expected_version: int | None = None) -> None:
    _record_delete(
        user,
        "contact",
        contact,
        expected_version,
        {"name": lambda c: c.full_name, "email": lambda c: c.email},
    )


@transaction.atomic
def consent_set(
    *, user: User, contact: Contact, channel: str, status: str, source: str = ""
) -> Consent:
    _require_may_write(user)
    if not can_read(user, "contact", contact):
        raise NotFoundError()
    errors: dict[str, str] = {}
    choice_clean(channel, ConsentChannel, "channel", errors)
    choice_clean(status, Consent.Status, "status", errors)
    if errors:
        raise ValidationFailedError(fields=errors)
    existing = Consent.objects.filter(contact=contact, channel=channel).first()
    old = existing.status if existing else None
    consent, _created = Consent.objects.update_or_create(
        contact=contact,
        channel=channel,
        defaults={"status": status, "at": timezone.now(), "source": (source or "")[:200]},
    )
    if old != status:
        audit_record(
            user=user,
            action=AuditLog.Action.UPDATE,
            entity="contact",
            obj=contact,
            changes={f"consent.{channel}": [old, status]},
        )
    return consent


# --- companies ----------------------------------------------------------------------------


def _company_clean(user: User, data: dict[str, Any], company: Company | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    _unknown(data, COMPANY_FIELDS, errors)
    values: dict[str, Any] = {}
    for field in COMPANY_TEXT_FIELDS:
        if field in data:
            values[field] = text_clean(Company, field, data[field], errors)
    if "tax_id" in values and values["tax_id"] and not values["tax_id"].replace(" ", "").isalnum():
        errors["tax_id"] = _("A tax id has only letters and digits.")
    if "size" in data:
        values["size"] = choice_clean(data["size"] or "", CompanySize, "size", errors)
    if "emails" in data:
        values["emails"] = _emails(data["emails"], "emails", errors)
    if "phones" in data:
        values["phones"] = _phones(data["phones"], "phones", errors)
    _clean_record_fields(user, "company", data, company, values, errors)
    if (company is None or "name" in data) and not values.get("name") and "name" not in errors:
        errors["name"] = _("A company needs a name.")
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return values


def _company_snapshot(company: Company, fields) -> dict[str, Any]:
    return {f: tags_from_db(company.tags) if f == "tags" else getattr(company, f) for f in fields}


@transaction.atomic
def company_create(*, user: User, data: dict[str, Any], check_duplicates: bool = False) -> Company:
    """Create a company; `check_duplicates` as in `contact_create`."""
    _require_may_write(user)
    values = _company_clean(user, data, None)
    if check_duplicates:
        _check_duplicates(user, "company", values)
    values.setdefault("owner_id", user.pk)
    company = Company.objects.create(**values)
    after = _company_snapshot(company, [k for k in data if k in COMPANY_FIELDS])
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="company",
        obj=company,
        changes=audit_diff({}, after),
    )
    index_company(company)
    return company


@transaction.atomic
def company_update(
    *, user: User, company: Company, data: dict[str, Any], expected_version: int | None = None
) -> Company:
    company = Company.objects.select_for_update().get(pk=company.pk)
    _require_write(user, "company", company)
    _check_version(company, expected_version)
    values = _company_clean(user, data, company)
    before = _company_snapshot(company, [k for k in data if k in COMPANY_FIELDS])
    for key, value in values.items():
        setattr(company, key, value)
    company.version += 1
    company.updated_at = timezone.now()
    company.save(update_fields=[*values, "version", "updated_at"])
    changes = audit_diff(before, _company_snapshot(company, list(before)))
    audit_record(
        user=user, action=AuditLog.Action.UPDATE, entity="company", obj=company, changes=changes
    )
    index_company(company)
    if "name" in values:
        for contact in company.contacts.all():
            index_contact(contact)
    return company


@transaction.atomic
def company_delete(*, user: User, company: Company, expected_version: int | None = None) -> None:
    _record_delete(
        user,
        "company",
        company,
        expected_version,
        {"name": lambda c: c.name, "tax_id": lambda c: c.tax_id},
    )


# --- sharing ------------------------------------------------------------------------------


@transaction.atomic
def record_share(
    *, user: User, entity: str, obj, target: User, can_edit: bool = True
) -> RecordShare:
    _require_write(user, entity, obj)
    if not target.is_active:
        raise ValidationFailedError(fields={"user_id": _("That user is not active.")})
    share, _created = RecordShare.objects.update_or_create(
        entity=entity, object_id=obj.pk, user=target, defaults={"can_edit": can_edit}
    )
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity=entity,
        obj=obj,
        changes={"shared_with": [None, target.username]},
    )
    return share


@transaction.atomic
def record_unshare(*, user: User, entity: str, obj, target: User) -> None:
    _require_write(user, entity, obj)
    deleted, _count = RecordShare.objects.filter(
        entity=entity, object_id=obj.pk, user=target
    ).delete()
    if deleted:
        audit_record(
            user=user,
            action=AuditLog.Action.UPDATE,
            entity=entity,
            obj=obj,
            changes={"shared_with": [target.username, None]},
        )


# --- interactions -------------------------------------------------------------------------


def _interaction_clean(
    user: User, data: dict[str, Any], interaction: Interaction | None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    _unknown(data, INTERACTION_FIELDS, errors)
    values: dict[str, Any] = {}
    for field in ("subject", "outcome", "related_type"):
        if field in data:
            values[field] = text_clean(Interaction, field, data[field], errors)
    if "body" in data:
        body = data["body"] or ""
        if not isinstance(body, str):
            errors["body"] = _("Expected text.")
        elif len(body) > 100_000:
            errors["body"] = _("At most %(n)s characters.") % {"n": 100_000}
        else:
            values["body"] = body
    if "kind" in data:
        values["kind"] = choice_clean(data["kind"], InteractionKind, "kind", errors)
    if "channel" in data and data["channel"]:
        values["channel"] = choice_clean(data["channel"], Channel, "channel", errors)
    if "direction" in data:
        values["direction"] = choice_clean(data["direction"], Direction, "direction", errors)
    for field in ("occurred_at", "due_at", "remind_at"):
        if field in data:
            values[field] = _datetime(data[field], field, errors)
    if "duration_seconds" in data:
        duration = data["duration_seconds"]
        if duration in (None, ""):
            values["duration_seconds"] = None
        elif isinstance(duration, bool) or not str(duration).isdigit():
            errors["duration_seconds"] = _("Expected a whole number of seconds.")
        elif int(duration) > 7 * 24 * 3600:
            errors["duration_seconds"] = _("At most a week.")
        else:
            values["duration_seconds"] = int(duration)
    if "related_id" in data:
        rid = data["related_id"]
        if rid in (None, ""):
            values["related_id"] = None
        elif isinstance(rid, bool) or not str(rid).isdigit() or int(rid) > 2**62:
            errors["related_id"] = _("Expected an id.")
        else:
            values["related_id"] = int(rid)
    if "planned" in data:
        if not isinstance(data["planned"], bool):
            errors["planned"] = _("Expected true or false.")
        else:
            values["planned"] = data["planned"]
    if "contact_id" in data:
        values["contact"] = _related(user, Contact, "contact", data["contact_id"], errors)
    if "company_id" in data:
        values["company"] = _related(user, Company, "company", data["company_id"], errors)
    if "assignee_id" in data:
        aid = data["assignee_id"]
        if aid in (None, ""):
            values["assignee_id"] = None
        else:
            try:
                assignee = User.objects.get(pk=int(aid), is_active=True)
                values["assignee_id"] = assignee.pk
            except (User.DoesNotExist, TypeError, ValueError):
                errors["assignee_id"] = _("No active user with id %(id)s.") % {"id": aid}
    merged = {
        "kind": getattr(interaction, "kind", None),
        "planned": getattr(interaction, "planned", False),
        "due_at": getattr(interaction, "due_at", None),
        "contact": getattr(interaction, "contact", None),
        "company": getattr(interaction, "company", None),
        **values,
    }
    if "occurred_at" in values and values["occurred_at"] is None and interaction is not None:
        errors["occurred_at"] = _("An interaction needs a time.")
    if interaction is None and not merged["kind"] and "kind" not in errors:
        if merged["planned"]:
            values["kind"] = merged["kind"] = InteractionKind.TASK
        else:
            errors["kind"] = _("Say what kind of interaction this is.")
    if merged["planned"] and not merged["due_at"] and "due_at" not in errors:
        errors["due_at"] = _("A planned interaction needs a due time.")
    if (
        merged["contact"] is None
        and merged["company"] is None
        and "contact_id" not in errors
        and "company_id" not in errors
    ):
        errors["contact_id"] = _("Attach the interaction to a contact or a company.")
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return values


def _related(user: User, model, entity: str, value: Any, errors: dict[str, str]):
    if value in (None, ""):
        return None
    try:
        obj = model.objects.get(pk=int(value))
    except (model.DoesNotExist, TypeError, ValueError, OverflowError):
        obj = None
    if obj is None or not can_read(user, entity, obj):
        message = (
            _("No contact with id %(id)s.")
            if entity == "contact"
            else _("No company with id %(id)s.")
        )
        errors[f"{entity}_id"] = message % {"id": value}
        return None
    return obj


def interaction_can_write(user: User, interaction: Interaction) -> bool:
    scope = scope_for(user)
    if not scope.may_write:
        return False
    if scope.write_all or user.pk in (interaction.user_id, interaction.assignee_id):
        return True
    if interaction.contact_id and can_write(user, "contact", interaction.contact):
        return True
    return bool(interaction.company_id and can_write(user, "company", interaction.company))


def interaction_writable_ids(user: User, interactions) -> set[int]:
    """Ids of `interactions` the user may change (`interaction_can_write`), each record checked
    once: a timeline page repeats the same contact or company on most of its items."""
    scope = scope_for(user)
    if not scope.may_write:
        return set()
    checked: dict[tuple[str, int], bool] = {}

    def record_ok(entity: str, obj) -> bool:
        key = (entity, obj.pk)
        if key not in checked:
            checked[key] = can_write(user, entity, obj)
        return checked[key]

    return {
        i.pk
        for i in interactions
        if scope.write_all
        or user.pk in (i.user_id, i.assignee_id)
        or (i.contact_id and record_ok("contact", i.contact))
        or (i.company_id and record_ok("company", i.company))
    }


@transaction.atomic
def interaction_create(*, user: User, data: dict[str, Any]) -> Interaction:
    _require_may_write(user)
    values = _interaction_clean(user, data, None)
    kind = values["kind"]
    values.setdefault("channel", DEFAULT_CHANNEL.get(kind, Channel.OTHER))
    if values.get("planned"):
        values.setdefault("assignee_id", user.pk)
        values["occurred_at"] = values["due_at"]
        values.setdefault("direction", Direction.OUT)
    elif not values.get("occurred_at"):
        values["occurred_at"] = timezone.now()
    if kind in {InteractionKind.NOTE, InteractionKind.TASK}:
        values.setdefault("direction", Direction.INTERNAL)
    interaction = Interaction.objects.create(user=user, **values)
    target = interaction.contact or interaction.company
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="interaction",
        obj=interaction,
        changes={"kind": [None, kind], "on": [None, str(target)]},
    )
    return interaction


@transaction.atomic
def interaction_update(
    *,
    user: User,
    interaction: Interaction,
    data: dict[str, Any],
    expected_version: int | None = None,
) -> Interaction:
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk)
    if not interaction_can_write(user, interaction):
        raise PermissionDeniedError(_("You can view this interaction but not change it."))
    _check_version(interaction, expected_version)
    values = _interaction_clean(user, data, interaction)
    before = {k: getattr(interaction, k) for k in values}
    for key, value in values.items():
        setattr(interaction, key, value)
    if interaction.planned and "due_at" in values and not interaction.done:
        interaction.occurred_at = interaction.due_at
        values["occurred_at"] = interaction.due_at
    interaction.version += 1
    interaction.updated_at = timezone.now()
    update_fields = [
        ("contact_id" if k == "contact" else "company_id" if k == "company" else k) for k in values
    ]
    interaction.save(update_fields=[*set(update_fields), "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="interaction",
        obj=interaction,
        changes=audit_diff(before, {k: getattr(interaction, k) for k in before}),
    )
    return interaction


@transaction.atomic
def interaction_delete(
    *, user: User, interaction: Interaction, expected_version: int | None = None
) -> None:
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk)
    if not interaction_can_write(user, interaction):
        raise PermissionDeniedError(_("You can view this interaction but not delete it."))
    _check_version(interaction, expected_version)
    audit_record(
        user=user,
        action=AuditLog.Action.DELETE,
        entity="interaction",
        obj=interaction,
        changes={"subject": [interaction.subject, None]},
    )
    interaction.delete()


@transaction.atomic
def task_complete(*, user: User, interaction: Interaction, outcome: str = "") -> Interaction:
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk)
    if not interaction_can_write(user, interaction):
        raise PermissionDeniedError(_("You can view this task but not complete it."))
    if not interaction.planned:
        raise ValidationFailedError(fields={"planned": _("Only planned interactions can be done.")})
    if interaction.done:
        return interaction
    now = timezone.now()
    interaction.done = True
    interaction.done_at = now
    interaction.occurred_at = now
    if outcome:
        interaction.outcome = outcome[:255]
    interaction.version += 1
    interaction.updated_at = now
    interaction.save(
        update_fields=["done", "done_at", "occurred_at", "outcome", "version", "updated_at"]
    )
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="interaction",
        obj=interaction,
        changes={"done": [False, True]},
    )
    return interaction


@transaction.atomic
def task_reopen(*, user: User, interaction: Interaction) -> Interaction:
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk)
    if not interaction_can_write(user, interaction):
        raise PermissionDeniedError(_("You can view this task but not change it."))
    if not interaction.done:
        return interaction
    interaction.done = False
    interaction.done_at = None
    interaction.occurred_at = interaction.due_at or interaction.occurred_at
    interaction.version += 1
    interaction.updated_at = timezone.now()
    interaction.save(update_fields=["done", "done_at", "occurred_at", "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="interaction",
        obj=interaction,
        changes={"done": [True, False]},
    )
    return interaction


# --- reminders ----------------------------------------------------------------------------


def task_reminders_send(*, now: datetime | None = None, batch: int = 200) -> int:
    """Email the assignee of every open task whose reminder time has come; once per task.

    Each task is claimed by setting reminded_at in its own transaction, so a retried or
    concurrent run never reminds twice. Returns how many reminders were sent.
    """
    from django.conf import settings
    from django.core.mail import send_mail

    now = now or timezone.now()
    due_ids = list(
        Interaction.objects.filter(
            planned=True, done=False, remind_at__lte=now, reminded_at__isnull=True
        ).values_list("id", flat=True)[:batch]
    )
    sent = 0
    for pk in due_ids:
        with transaction.atomic():
            claimed = Interaction.objects.filter(pk=pk, reminded_at__isnull=True).update(
                reminded_at=now
            )
            if not claimed:
                continue
            task = Interaction.objects.select_related("assignee", "contact", "company").get(pk=pk)
            if not task.assignee or not task.assignee.email:
                continue
            who = task.contact or task.company
            subject = f"Reminder: {task.subject or task.get_kind_display()}"
            body = (
                f"{task.get_kind_display()}: {task.subject}\n"
                f"Customer: {who}\n"
                f"Due: {timezone.localtime(task.due_at):%Y-%m-%d %H:%M}\n\n{task.body}"
            )
            recipient = task.assignee.email
            transaction.on_commit(
                lambda s=subject, b=body, r=recipient: send_mail(
                    s, b, settings.DEFAULT_FROM_EMAIL, [r], fail_silently=False
                )
            )
            sent += 1
    return sent
