"""Every change to leads: capture (web form, API, import, manual), assignment, scoring,
distribution, conversion, disqualification, and the admin settings behind them.

Capture never creates a duplicate: an inquiry from a known contact or an open lead is attached
to it as an interaction and its owner is told (an email after commit and a task in My tasks).
New leads are assigned by the admin's rules, first match wins; the round-robin pointer and the
load count are read under a row lock so concurrent captures never share or skip a turn. A lead no
rule places stays with whoever entered it; a web-form capture goes to the form's owner, else the
first administrator.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kliento.core.errors import (
    ConflictError,
    KlientoError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, OrgSettings, Role, User
from kliento.core.permissions import can_read, can_write, is_admin, scope_for
from kliento.core.services import audit_diff, audit_record
from kliento.customers.models import (
    Channel,
    Company,
    Contact,
    ContactCompany,
    Direction,
    Interaction,
    InteractionKind,
    LifecycleStage,
    tags_from_db,
    tags_to_db,
)
from kliento.customers.normalize import NormalizationError, normalize_email, normalize_phone
from kliento.sales.leads.assignment import assign_owner, owner_by_rules
from kliento.sales.leads.models import (
    OPEN_STATUSES,
    CaptureHit,
    DisqualifyReason,
    Lead,
    LeadSource,
    LeadStatus,
    WebForm,
)
from kliento.sales.leads.scoring import lead_interactions, lead_score_refresh

# The lead fields a web form may ask for, in the order the form builder offers them.
FORM_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "job_title",
    "website",
    "country",
    "region",
    "city",
    "message",
)
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
TRACKING_FIELDS = (*UTM_FIELDS, "referrer")
# The advisory-lock namespace of lead identities (an arbitrary 32-bit number).
LOCK_NAMESPACE = 0x4C454144 - 2**31
# A field people never see (hidden by CSS); a bot filling every input fills it too.
HONEYPOT = "fax_number"
TEXT_FIELDS = (*FORM_FIELDS, "campaign", *TRACKING_FIELDS)
LEAD_FIELDS = set(TEXT_FIELDS) | {
    "source",
    "channel",
    "status",
    "owner_id",
    "web_form_id",
    "tags",
    "custom",
}
EDITABLE_STATUSES = OPEN_STATUSES
LOG_KINDS = ("call", "email", "meeting", "note")
SCORE_FIELDS = (*FORM_FIELDS, "campaign", "channel", "source", *UTM_FIELDS)


class CaptureThrottledError(KlientoError):
    """Too many submissions from this address; try again in a minute."""

    status = 429
    code = "throttled"


@dataclass
class Intake:
    """What one inquiry became: a new lead, or an interaction on a known contact or lead."""

    lead: Lead | None = None
    contact: Contact | None = None
    interaction: Interaction | None = None
    created: bool = False
    spam: bool = False

    @property
    def duplicate_of(self) -> str:
        if self.created or self.spam:
            return ""
        return "contact" if self.contact is not None and self.lead is None else "lead"


# --- cleaning -----------------------------------------------------------------------------


def _text(field: str, value: Any, errors: dict[str, str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[field] = _("Expected text.")
        return ""
    value = value.strip()
    if "\x00" in value:
        errors[field] = _("NUL characters are not allowed.")
        return ""
    max_length = Lead._meta.get_field(field).max_length
    if max_length and len(value) > max_length:
        errors[field] = _("At most %(n)s characters.") % {"n": max_length}
    elif field == "message" and len(value) > 20_000:
        errors[field] = _("At most %(n)s characters.") % {"n": 20_000}
    return value


def _choice(value: Any, choices, field: str, errors: dict[str, str]) -> str:
    if value not in choices:
        errors[field] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(value),
            "allowed": ", ".join(choices),
        }
    return value


def _owner(user: User | None, value: Any, errors: dict[str, str]) -> int | None:
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
    if user is not None:
        scope = scope_for(user)
        if owner_id != user.pk and not scope.write_all and owner_id not in scope.owner_ids:
            errors["owner_id"] = _("You can only assign records to yourself or your team.")
    return owner_id


def lead_clean(
    *, user: User | None, data: dict[str, Any], lead: Lead | None = None
) -> dict[str, Any]:
    """Validate and normalise lead fields as every lead service does: the values to store.

    `data` holds only fields of LEAD_FIELDS (email and phone normalised, choices and the owner
    checked against `user`'s scope, at least a name, company, email or phone). `lead` is the
    lead being changed, None for a new one. Raises ValidationFailedError with the errors by
    field; saves nothing.
    """
    errors: dict[str, str] = {}
    for key in data:
        if key not in LEAD_FIELDS:
            errors[key] = _("Unknown field.")
    values: dict[str, Any] = {}
    for field in TEXT_FIELDS:
        if field in data:
            values[field] = _text(field, data[field], errors)
    region = OrgSettings.get().default_region
    if values.get("email"):
        try:
            values["email"] = normalize_email(values["email"])
        except NormalizationError as exc:
            errors["email"] = _("Invalid email %(value)s: %(reason)s") % {
                "value": repr(values["email"]),
                "reason": exc,
            }
    if values.get("phone"):
        try:
            values["phone"] = normalize_phone(values["phone"], region)
        except NormalizationError as exc:
            errors["phone"] = _("Invalid phone %(value)s: %(reason)s") % {
                "value": repr(values["phone"]),
                "reason": exc,
            }
    if values.get("country"):
        values["country"] = values["country"].upper()
        if not (len(values["country"]) == 2 and values["country"].isalpha()):
            errors["country"] = _("Use the two-letter country code, e.g. RU.")
    if "source" in data:
        values["source"] = _choice(data["source"], LeadSource.values, "source", errors)
    if "channel" in data:
        values["channel"] = _choice(data["channel"] or "other", Channel.values, "channel", errors)
    if "status" in data:
        allowed = [str(s) for s in EDITABLE_STATUSES]
        if lead is not None and data["status"] == lead.status:
            values["status"] = data["status"]
        else:
            values["status"] = _choice(data["status"], allowed, "status", errors)
    if "owner_id" in data:
        owner_id = _owner(user, data["owner_id"], errors)
        if owner_id is not None:
            values["owner_id"] = owner_id
    if "web_form_id" in data:
        form_id = data["web_form_id"]
        if form_id in (None, ""):
            values["web_form_id"] = None
        elif not WebForm.objects.filter(pk=_int(form_id)).exists():
            errors["web_form_id"] = _("No web form with id %(id)s.") % {"id": form_id}
        else:
            values["web_form_id"] = _int(form_id)
    if "tags" in data:
        tags = data["tags"] or []
        if isinstance(tags, str):
            tags = tags.split(",")
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            errors["tags"] = _("Expected a list of tags.")
        else:
            values["tags"] = tags_to_db(tags)
            if len(values["tags"]) > 500:
                errors["tags"] = _("Too many tags (500 characters at most).")
    if "custom" in data:
        if not isinstance(data["custom"], dict):
            errors["custom"] = _("Expected an object of custom field values.")
        else:
            values["custom"] = data["custom"]
    identity = ("first_name", "last_name", "company_name", "email", "phone")
    if lead is None or any(f in values for f in identity):
        has_identity = any(
            values[f] if f in values else getattr(lead, f, "") for f in identity
        ) or any(f in errors for f in identity)
        if not has_identity:
            errors["email"] = _("Give at least a name, a company, an email or a phone.")
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return values


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _check_version(lead: Lead, expected_version: int | None) -> None:
    if expected_version is not None and lead.version != expected_version:
        raise StaleVersionError(
            _(
                "This record was changed by someone else (now version %(current)s, "
                "you had %(expected)s). Reload it and apply your change again."
            )
            % {"current": lead.version, "expected": expected_version}
        )


def _require_write(user: User, lead: Lead) -> None:
    if not can_read(user, "lead", lead):
        raise NotFoundError(_("No lead with id %(id)s.") % {"id": lead.pk})
    if not can_write(user, "lead", lead):
        raise PermissionDeniedError(_("You can view this lead but not change it."))


def _require_open(lead: Lead) -> None:
    if not lead.is_open:
        raise ConflictError(
            _("This lead is already %(status)s.") % {"status": lead.get_status_display().lower()}
        )


def _snapshot(lead: Lead, fields) -> dict[str, Any]:
    return {f: tags_from_db(lead.tags) if f == "tags" else getattr(lead, f) for f in fields}


# --- duplicates ---------------------------------------------------------------------------


def find_duplicate(
    *, email: str, phone: str, exclude_lead: int | None = None
) -> tuple[Contact | None, Lead | None]:
    """The contact (first) or open lead with this normalised email or phone, if any."""
    q = Q(pk__in=[])
    if email:
        q |= Q(email=email)
    if phone:
        q |= Q(phone=phone)
    if not (email or phone):
        return None, None
    contact = Contact.objects.filter(q).select_related("owner").order_by("id").first()
    if contact is not None:
        return contact, None
    leads = Lead.objects.filter(q, status__in=OPEN_STATUSES).select_related("owner")
    if exclude_lead:
        leads = leads.exclude(pk=exclude_lead)
    return None, leads.order_by("id").first()


def _lock_identity(email: str, phone: str) -> None:
    """Serialise captures of the same email or phone until the transaction ends, so two
    simultaneous submissions of one person make one lead and one attached inquiry.

    SQLite needs nothing: its write transactions (BEGIN IMMEDIATE) already run one at a time.
    """
    if connection.vendor != "postgresql":
        return
    keys = sorted({zlib.crc32(f"lead:{v}".encode()) for v in (email, phone) if v})
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key - 2**31])


def _inquiry_body(values: dict[str, Any], *, about: bool = True) -> str:
    """The message, then (for an inquiry on a known record) what the person gave, then the
    tracking tags."""
    lines = [values.get("message", "")] if values.get("message") else []
    fields = ("first_name", "last_name", "company_name", "job_title", "email", "phone")
    given = [
        f"{str(Lead._meta.get_field(f).verbose_name).capitalize()}: {values[f]}"
        for f in (fields if about else ())
        if values.get(f)
    ]
    tracking = [f"{f}: {values[f]}" for f in (*TRACKING_FIELDS, "campaign") if values.get(f)]
    if given:
        lines.append("\n".join(given))
    if tracking:
        lines.append("\n".join(tracking))
    return "\n\n".join(lines)


def lead_inquiry_create(
    *,
    user: User | None,
    values: dict[str, Any],
    contact: Contact | None = None,
    lead: Lead | None = None,
) -> Interaction:
    """The inquiry of a known person as an entry on their timeline: on `contact`, or else on
    the open `lead` (and its contact and company). Its body is the message, what the person
    gave and the tracking tags of `values` (cleaned by `lead_clean`).

    Only the entry: no task, audit row, email or scoring. Capture adds those; the sales import
    records a known contact's inquiry quietly and audits it itself.
    """
    name = " ".join(p for p in (values.get("first_name"), values.get("last_name")) if p)
    subject = (
        _("Inquiry from %(name)s") % {"name": name or values.get("email") or values.get("phone")}
    )[:255]
    related = {"related_type": "lead", "related_id": lead.pk} if lead is not None else {}
    link = {"contact": contact} if contact is not None else {"contact_id": lead.contact_id}
    return Interaction.objects.create(
        kind=InteractionKind.WEBFORM,
        channel=values.get("channel") or Channel.WEB,
        direction=Direction.IN,
        subject=subject,
        body=_inquiry_body(values),
        user=user,
        company_id=lead.company_id if lead is not None else None,
        **link,
        **related,
    )


def _attach_inquiry(
    user: User | None, values: dict[str, Any], contact: Contact | None, lead: Lead | None
) -> Intake:
    """Record the inquiry on the known contact or lead, and tell its owner."""
    target_owner = contact.owner if contact is not None else lead.owner
    inquiry = lead_inquiry_create(user=user, values=values, contact=contact, lead=lead)
    with translation.override(target_owner.language or settings.LANGUAGE_CODE):
        task_subject = _("New inquiry from an existing customer")
    Interaction.objects.create(
        kind=InteractionKind.TASK,
        channel=Channel.OTHER,
        direction=Direction.INTERNAL,
        subject=task_subject,
        body=inquiry.body,
        planned=True,
        due_at=timezone.now(),
        occurred_at=timezone.now(),
        assignee=target_owner,
        user=user,
        contact_id=inquiry.contact_id,
        company_id=inquiry.company_id,
        related_type=inquiry.related_type,
        related_id=inquiry.related_id,
    )
    record = contact if contact is not None else lead
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="contact" if contact is not None else "lead",
        obj=record,
        changes={"inquiry": [None, inquiry.subject]},
    )
    _notify_owner(target_owner, record, values, inquiry.body)
    if lead is not None:
        lead_score_refresh(lead=lead)
    return Intake(lead=lead, contact=contact, interaction=inquiry, created=False)


def _notify_owner(owner: User, record, values: dict[str, Any], body: str) -> None:
    """Email the owner after commit, in their language, through a job (SMTP stays out of the
    capture request)."""
    if not owner.email or not owner.is_active:
        return
    from kliento.sales.leads.tasks import send_inquiry_email

    with translation.override(owner.language or settings.LANGUAGE_CODE):
        subject = _("New inquiry from %(name)s, who is already in Kliento") % {"name": record}
        text = "\n\n".join(
            [
                _("%(name)s (yours in Kliento) sent a new inquiry. It is on their timeline.")
                % {"name": record},
                body,
            ]
        )
    recipient = owner.email
    transaction.on_commit(lambda: send_inquiry_email(recipient, subject, text))


# --- create, update, delete ---------------------------------------------------------------


def _new_lead(
    user: User | None,
    values: dict[str, Any],
    web_form: WebForm | None,
    assign: bool,
) -> Intake:
    _lock_identity(values.get("email", ""), values.get("phone", ""))
    contact, existing = find_duplicate(email=values.get("email", ""), phone=values.get("phone", ""))
    if contact is not None or existing is not None:
        return _attach_inquiry(user, values, contact, existing)
    rule = None
    if "owner_id" not in values:
        if user is None:
            owner, rule = assign_owner(values, web_form)
        else:
            # The creator keeps what no rule places elsewhere: a rep must be able to open the
            # lead they just entered, not lose it to the first administrator.
            owner, rule = (owner_by_rules(values, web_form) if assign else None) or (user, None)
        values["owner_id"] = owner.pk
    values.pop("web_form_id", None)
    now = timezone.now()
    lead = Lead.objects.create(
        **values,
        web_form=web_form,
        assigned_by_rule=rule,
        created_at=now,
        updated_at=now,
    )
    changes = audit_diff({}, _snapshot(lead, [k for k in values if k != "custom"]))
    if rule is not None:
        changes["assigned_by_rule"] = [None, rule.name]
    audit_record(user=user, action=AuditLog.Action.CREATE, entity="lead", obj=lead, changes=changes)
    interaction = None
    if lead.message or lead.source == LeadSource.WEB_FORM:
        interaction = Interaction.objects.create(
            kind=InteractionKind.WEBFORM if web_form else InteractionKind.NOTE,
            channel=lead.channel or Channel.OTHER,
            direction=Direction.IN if web_form else Direction.INTERNAL,
            subject=(
                _("Web form “%(form)s”") % {"form": web_form.name}
                if web_form
                else _("Lead message")
            )[:255],
            body=_inquiry_body(values, about=False),
            user=user,
            related_type="lead",
            related_id=lead.pk,
            occurred_at=now,
        )
    lead_score_refresh(lead=lead)
    return Intake(lead=lead, interaction=interaction, created=True)


@transaction.atomic
def lead_create(*, user: User, data: dict[str, Any], assign: bool = True) -> Intake:
    """A lead entered by hand, through the API or an import.

    Without `owner_id`, the assignment rules choose its owner and, when none matches, it is the
    creator's (`assign=False`: always the creator's). A known email or phone attaches the
    inquiry instead (see Intake).
    """
    if not scope_for(user).may_write:
        raise PermissionDeniedError(_("Your role is read-only."))
    data = dict(data)
    data.setdefault("source", LeadSource.MANUAL)
    values = lead_clean(user=user, data=data)
    web_form = WebForm.objects.filter(pk=values.get("web_form_id") or 0).first()
    return _new_lead(user, values, web_form, assign)


@transaction.atomic
def lead_update(
    *, user: User, lead: Lead, data: dict[str, Any], expected_version: int | None = None
) -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_write(user, lead)
    _check_version(lead, expected_version)
    if "status" in data and data["status"] != lead.status:
        _require_open(lead)
    values = lead_clean(user=user, data=data, lead=lead)
    before = _snapshot(lead, list(values))
    for key, value in values.items():
        setattr(lead, key, value)
    changed = list(values)
    if lead.is_open and not lead.contact_id and {"email", "phone"} & set(values):
        # A corrected email or phone may show the lead is a known contact: link it, so the
        # page says so and conversion reuses that contact.
        contact, _lead = find_duplicate(email=lead.email, phone=lead.phone, exclude_lead=lead.pk)
        if contact is not None:
            lead.contact = contact
            changed.append("contact")
    lead.version += 1
    lead.updated_at = timezone.now()
    lead.save(update_fields=[*changed, "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="lead",
        obj=lead,
        changes=audit_diff(before, _snapshot(lead, list(before))),
    )
    lead_score_refresh(lead=lead)
    return lead


@transaction.atomic
def lead_delete(*, user: User, lead: Lead, expected_version: int | None = None) -> None:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_write(user, lead)
    _check_version(lead, expected_version)
    audit_record(
        user=user,
        action=AuditLog.Action.DELETE,
        entity="lead",
        obj=lead,
        changes={"name": [lead.full_name, None], "email": [lead.email, None]},
    )
    from kliento.customers.models import RecordShare

    RecordShare.objects.filter(entity="lead", object_id=lead.pk).delete()
    # The lead's own notes go with it; what reached a contact's timeline stays there.
    lead_interactions(lead).filter(contact__isnull=True, company__isnull=True).delete()
    lead.delete()


# --- web-form capture ---------------------------------------------------------------------


WEBFORM_RATE_SETTING = "KLIENTO_WEBFORM_RATE_PER_MINUTE"
WEBFORM_RATE_DEFAULT = 10


def _rate_limit() -> int:
    """Web-form submissions accepted per minute from one address: the Django setting
    KLIENTO_WEBFORM_RATE_PER_MINUTE (the environment variable of that name sets it), else 10."""
    raw = getattr(settings, WEBFORM_RATE_SETTING, None)
    if raw is None or str(raw).strip() == "":
        return WEBFORM_RATE_DEFAULT
    try:
        limit = int(str(raw).strip())
    except ValueError:
        limit = 0
    if isinstance(raw, bool) or limit < 1:
        raise ImproperlyConfigured(
            f"{WEBFORM_RATE_SETTING} must be a whole number of at least 1, got {raw!r}."
        )
    return limit


def capture_rate_check(*, ip: str) -> None:
    """Count this submission against its address; over the per-minute limit → 429.

    The count commits on its own, so refused submissions still count (a flood stays refused),
    and any serve host sees the same numbers.
    """
    ip = (ip or "unknown")[:45]
    minute = timezone.now().replace(second=0, microsecond=0)
    with transaction.atomic():
        updated = CaptureHit.objects.filter(ip=ip, minute=minute).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    CaptureHit.objects.create(ip=ip, minute=minute, count=1)
            except IntegrityError:
                CaptureHit.objects.filter(ip=ip, minute=minute).update(count=F("count") + 1)
            # Old minutes are of no use; the first hit of a minute sweeps them.
            CaptureHit.objects.filter(minute__lt=minute - timedelta(minutes=10)).delete()
        count = CaptureHit.objects.filter(ip=ip, minute=minute).values_list("count", flat=True)
        count = next(iter(count), 0)
    if count > _rate_limit():
        raise CaptureThrottledError(
            _("Too many submissions from your address. Please try again in a minute.")
        )


def web_form_allowed_fields(web_form: WebForm) -> set[str]:
    return {*web_form.fields, *TRACKING_FIELDS, HONEYPOT}


def lead_capture(*, web_form: WebForm, data: dict[str, Any], ip: str) -> Intake:
    """A submission of a public web form: rate-limited, honeypot-checked, deduplicated."""
    if not web_form.active:
        raise NotFoundError(_("This form is not available."))
    capture_rate_check(ip=ip)
    allowed = web_form_allowed_fields(web_form)
    unknown = {k: _("This form has no such field.") for k in data if k not in allowed}
    if unknown:
        raise ValidationFailedError(_("Some fields are invalid."), fields=unknown)
    if str(data.get(HONEYPOT) or "").strip():
        return Intake(spam=True)
    clean = {k: v for k, v in data.items() if k != HONEYPOT}
    clean.update(
        {"source": LeadSource.WEB_FORM, "channel": web_form.channel, "campaign": web_form.campaign}
    )
    if not clean.get("campaign") and clean.get("utm_campaign"):
        clean["campaign"] = clean["utm_campaign"]
    with transaction.atomic():
        values = lead_clean(user=None, data=clean)
        return _new_lead(None, values, web_form, assign=True)


# --- interactions on a lead ---------------------------------------------------------------


@transaction.atomic
def lead_log(*, user: User, lead: Lead, data: dict[str, Any]) -> Interaction:
    """A call, email, meeting or note on the lead's timeline (and its contact's, once known)."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_write(user, lead)
    errors: dict[str, str] = {}
    kind = data.get("kind") or "note"
    if kind not in LOG_KINDS:
        errors["kind"] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(kind),
            "allowed": ", ".join(LOG_KINDS),
        }
    subject = str(data.get("subject") or "").strip()
    body = str(data.get("body") or "").strip()
    direction = data.get("direction") or (Direction.INTERNAL if kind == "note" else Direction.OUT)
    if direction not in Direction.values:
        errors["direction"] = _("%(value)s is not one of: %(allowed)s.") % {
            "value": repr(direction),
            "allowed": ", ".join(Direction.values),
        }
    if len(subject) > 255:
        errors["subject"] = _("At most %(n)s characters.") % {"n": 255}
    if not subject and not body:
        errors["subject"] = _("Write what happened.")
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    from kliento.customers.models import DEFAULT_CHANNEL

    interaction = Interaction.objects.create(
        kind=kind,
        channel=DEFAULT_CHANNEL.get(kind, Channel.OTHER),
        direction=direction,
        subject=subject,
        body=body,
        outcome=str(data.get("outcome") or "")[:255],
        occurred_at=data.get("occurred_at") or timezone.now(),
        user=user,
        contact_id=lead.contact_id,
        company_id=lead.company_id,
        related_type="lead",
        related_id=lead.pk,
    )
    audit_record(
        user=user,
        action=AuditLog.Action.CREATE,
        entity="interaction",
        obj=interaction,
        changes={"kind": [None, kind], "on": [None, str(lead)]},
    )
    if lead.status == LeadStatus.NEW:
        lead.status = LeadStatus.WORKING
        lead.version += 1
        lead.updated_at = timezone.now()
        lead.save(update_fields=["status", "version", "updated_at"])
        audit_record(
            user=user,
            action=AuditLog.Action.UPDATE,
            entity="lead",
            obj=lead,
            changes={"status": [LeadStatus.NEW, LeadStatus.WORKING]},
        )
    lead_score_refresh(lead=lead)
    return interaction


def _timeline_note(user: User, lead: Lead, subject: str, body: str = "") -> Interaction:
    return Interaction.objects.create(
        kind=InteractionKind.NOTE,
        channel=Channel.OTHER,
        direction=Direction.INTERNAL,
        subject=subject[:255],
        body=body,
        user=user,
        contact_id=lead.contact_id,
        company_id=lead.company_id,
        related_type="lead",
        related_id=lead.pk,
    )


# --- distribution -------------------------------------------------------------------------


@transaction.atomic
def lead_distribute(*, user: User, lead_ids: list[int], user_ids: list[int]) -> dict[int, int]:
    """Share the chosen leads out among the chosen reps evenly, in turn; returns owner → count.

    Only a head (within their team) or an administrator may; every lead must be one they may
    change, or nothing changes.
    """
    if not (is_admin(user) or (user.is_active and user.role == Role.HEAD)):
        raise PermissionDeniedError(_("Only a head of sales or an administrator can distribute."))
    errors: dict[str, str] = {}
    lead_ids = sorted({_int(i) for i in lead_ids or [] if _int(i) > 0})
    user_ids = list(dict.fromkeys(_int(i) for i in user_ids or [] if _int(i) > 0))
    if not lead_ids:
        errors["lead_ids"] = _("Choose at least one lead.")
    if not user_ids:
        errors["user_ids"] = _("Choose at least one person to give leads to.")
    scope = scope_for(user)
    reps = {u.pk: u for u in User.objects.filter(pk__in=user_ids, is_active=True)}
    for uid in user_ids:
        if uid not in reps:
            errors["user_ids"] = _("No active user with id %(id)s.") % {"id": uid}
        elif not scope.write_all and uid not in scope.owner_ids:
            errors["user_ids"] = _("%(name)s is not in your team.") % {
                "name": reps[uid].display_name
            }
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    leads = list(Lead.objects.select_for_update().filter(pk__in=lead_ids).order_by("id"))
    found = {lead.pk for lead in leads}
    for lead in leads:
        if not can_write(user, "lead", lead):
            found.discard(lead.pk)
    missing = [i for i in lead_ids if i not in found]
    if missing:
        raise ValidationFailedError(
            _("Some fields are invalid."),
            fields={
                "lead_ids": _("You cannot reassign lead %(id)s.") % {"id": missing[0]},
            },
        )
    closed = [lead for lead in leads if not lead.is_open]
    if closed:
        raise ValidationFailedError(
            _("Some fields are invalid."),
            fields={
                "lead_ids": _("%(name)s is already %(status)s.")
                % {"name": closed[0], "status": closed[0].get_status_display().lower()}
            },
        )
    counts = {uid: 0 for uid in user_ids}
    now = timezone.now()
    for i, lead in enumerate(leads):
        owner = reps[user_ids[i % len(user_ids)]]
        counts[owner.pk] += 1
        if lead.owner_id == owner.pk:
            continue
        old = lead.owner_id
        lead.owner = owner
        lead.version += 1
        lead.updated_at = now
        lead.save(update_fields=["owner", "version", "updated_at"])
        audit_record(
            user=user,
            action=AuditLog.Action.UPDATE,
            entity="lead",
            obj=lead,
            changes={"owner_id": [old, owner.pk]},
        )
        _timeline_note(
            user,
            lead,
            _("Assigned to %(owner)s by %(user)s")
            % {"owner": owner.display_name, "user": user.display_name},
        )
    return counts


# --- conversion and disqualification ------------------------------------------------------


@dataclass
class Conversion:
    lead: Lead
    contact: Contact
    company: Company | None
    deal: Any | None


def _convert_owner_id(user: User, lead: Lead) -> int:
    scope = scope_for(user)
    if scope.write_all or lead.owner_id == user.pk or lead.owner_id in scope.owner_ids:
        return lead.owner_id
    return user.pk


def _contact_for(user: User, lead: Lead, owner_id: int) -> Contact:
    from kliento.customers.services import contact_create

    if lead.contact_id:
        contact = Contact.objects.filter(pk=lead.contact_id).first()
        if contact is not None:
            return contact
    contact, _existing = find_duplicate(email=lead.email, phone=lead.phone)
    if contact is not None:
        return contact
    first, last = lead.first_name, lead.last_name
    if not (first or last or lead.email or lead.phone):
        first = lead.company_name
    return contact_create(
        user=user,
        data={
            "first_name": first,
            "last_name": last,
            "emails": [lead.email] if lead.email else [],
            "phones": [lead.phone] if lead.phone else [],
            "country": lead.country,
            "region": lead.region,
            "city": lead.city,
            "lifecycle_stage": LifecycleStage.PROSPECT,
            "owner_id": owner_id,
        },
    )


def _company_for(user: User, lead: Lead, owner_id: int, company_id: Any) -> Company | None:
    from kliento.customers.selectors import company_qs
    from kliento.customers.services import company_create

    if company_id:
        company = company_qs(user).filter(pk=_int(company_id)).first()
        if company is None:
            raise ValidationFailedError(
                fields={"company_id": _("No company with id %(id)s.") % {"id": company_id}}
            )
        return company
    if lead.company_id:
        return Company.objects.filter(pk=lead.company_id).first()
    if not lead.company_name:
        return None
    existing = company_qs(user).filter(name__iexact=lead.company_name).order_by("id").first()
    if existing is not None:
        return existing
    return company_create(
        user=user,
        data={
            "name": lead.company_name,
            "website": lead.website,
            "country": lead.country,
            "region": lead.region,
            "city": lead.city,
            "owner_id": owner_id,
        },
    )


@transaction.atomic
def lead_convert(
    *,
    user: User,
    lead: Lead,
    data: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> Conversion:
    """Lead → contact (+ company) (+ deal) in one step; the lead's history follows.

    data: create_deal (bool, default true), deal_name, pipeline, stage, amount, currency,
    expected_close, company_id (link an existing company instead of the lead's name).
    """
    data = dict(data or {})
    allowed = {
        "create_deal",
        "deal_name",
        "pipeline",
        "stage",
        "amount",
        "currency",
        "expected_close",
        "company_id",
    }
    unknown = {k: _("Unknown field.") for k in data if k not in allowed}
    if unknown:
        raise ValidationFailedError(_("Some fields are invalid."), fields=unknown)
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_write(user, lead)
    _check_version(lead, expected_version)
    _require_open(lead)
    owner_id = _convert_owner_id(user, lead)
    contact = _contact_for(user, lead, owner_id)
    company = _company_for(user, lead, owner_id, data.get("company_id"))
    if (
        company is not None
        and not ContactCompany.objects.filter(contact=contact, company=company).exists()
    ):
        ContactCompany.objects.create(
            contact=contact,
            company=company,
            title=lead.job_title,
            is_primary=not contact.company_links.exists(),
        )
    deal = None
    if data.get("create_deal", True):
        from kliento.sales.deals.services import deal_create

        deal_data = {
            "name": str(data.get("deal_name") or "").strip() or _default_deal_name(lead),
            "contact": contact.pk,
            "company": company.pk if company else None,
            "owner": owner_id,
            "source": lead.get_source_display(),
        }
        for key in ("pipeline", "stage", "amount", "currency", "expected_close"):
            if data.get(key) not in (None, ""):
                deal_data[key] = data[key]
        deal = deal_create(user=user, data=deal_data)
    # The lead's history becomes the customer's: its interactions join their timelines.
    history = lead_interactions(lead)
    history.filter(contact__isnull=True).update(contact=contact)
    if company is not None:
        history.filter(company__isnull=True).update(company=company)
    before = {"status": lead.status, "contact": lead.contact_id, "company": lead.company_id}
    lead.status = LeadStatus.CONVERTED
    lead.converted_at = timezone.now()
    lead.contact = contact
    lead.company = company
    lead.deal = deal
    lead.version += 1
    lead.updated_at = lead.converted_at
    lead.save(
        update_fields=[
            "status",
            "converted_at",
            "contact",
            "company",
            "deal",
            "version",
            "updated_at",
        ]
    )
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="lead",
        obj=lead,
        changes=audit_diff(
            before,
            {
                "status": lead.status,
                "contact": contact.pk,
                "company": company.pk if company else None,
                **({"deal": deal.pk} if deal else {}),
            },
        ),
    )
    _timeline_note(
        user,
        lead,
        _("Lead converted") + (f": {deal.name}" if deal is not None else ""),
        _("Converted by %(user)s from the lead “%(lead)s” (%(source)s).")
        % {"user": user.display_name, "lead": lead.full_name, "source": lead.get_source_display()},
    )
    return Conversion(lead=lead, contact=contact, company=company, deal=deal)


def _default_deal_name(lead: Lead) -> str:
    return (lead.company_name or lead.full_name)[:255]


@transaction.atomic
def lead_disqualify(
    *,
    user: User,
    lead: Lead,
    reason: str,
    note: str = "",
    expected_version: int | None = None,
) -> Lead:
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_write(user, lead)
    _check_version(lead, expected_version)
    errors: dict[str, str] = {}
    _choice(reason, DisqualifyReason.values, "reason", errors)
    note = (note or "").strip()
    if len(note) > 5000:
        errors["note"] = _("At most %(n)s characters.") % {"n": 5000}
    if reason == DisqualifyReason.OTHER and not note:
        errors["note"] = _("Say why, when the reason is “Other”.")
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    _require_open(lead)
    old = lead.status
    lead.status = LeadStatus.DISQUALIFIED
    lead.disqualify_reason = reason
    lead.disqualify_note = note
    lead.version += 1
    lead.updated_at = timezone.now()
    lead.save(
        update_fields=["status", "disqualify_reason", "disqualify_note", "version", "updated_at"]
    )
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="lead",
        obj=lead,
        changes={"status": [old, lead.status], "disqualify_reason": [None, reason]},
    )
    _timeline_note(
        user,
        lead,
        _("Disqualified: %(reason)s") % {"reason": lead.get_disqualify_reason_display()},
        note,
    )
    return lead


@transaction.atomic
def lead_reopen(*, user: User, lead: Lead, expected_version: int | None = None) -> Lead:
    """Undo a disqualification (a converted lead stays converted: its records exist)."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    _require_write(user, lead)
    _check_version(lead, expected_version)
    if lead.status != LeadStatus.DISQUALIFIED:
        raise ConflictError(_("Only a disqualified lead can be reopened."))
    lead.status = LeadStatus.WORKING
    lead.disqualify_reason = ""
    lead.version += 1
    lead.updated_at = timezone.now()
    lead.save(update_fields=["status", "disqualify_reason", "version", "updated_at"])
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="lead",
        obj=lead,
        changes={"status": [LeadStatus.DISQUALIFIED, LeadStatus.WORKING]},
    )
    _timeline_note(user, lead, _("Lead reopened"))
    return lead
