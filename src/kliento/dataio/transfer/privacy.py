"""Personal data of one contact: everything held about them (right of access), and erasure
(right to be forgotten).

Erasure keeps the record and its aggregates — the row itself, its owner, lifecycle stage,
country and region, company links, consent history, the number, kinds and times of its
interactions — so reports and timelines still add up, and removes what identifies the person:
names, emails, phones, birth date, gender, city, social profiles, preferences, custom values,
external ids, and every occurrence of those in the subjects, bodies and outcomes of the
contact's interactions (and its companies' interactions) and in its earlier audit entries. It
leaves the search index, and an Erasure row plus an audit entry record that it happened.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.errors import PermissionDeniedError
from kliento.core.models import AuditLog, User
from kliento.core.permissions import is_admin
from kliento.core.services import audit_record
from kliento.customers.models import Consent, Contact, ContactCompany, Interaction
from kliento.customers.search import unindex
from kliento.customers.selectors import contact_get_for_user
from kliento.dataio.transfer.models import Erasure, ExternalRef

ERASED = "[erased]"
PERSONAL_FIELDS = [
    "first_name", "middle_name", "last_name", "email", "phone", "emails", "phones",
    "birth_date", "gender", "language", "city", "social", "preferences", "custom", "tags",
]  # fmt: skip


def _value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def contact_personal_data(*, user: User, pk: Any) -> dict[str, Any]:
    """Everything Kliento holds about one contact, as plain JSON-ready data."""
    contact = contact_get_for_user(user=user, pk=pk)
    fields = [f.attname for f in Contact._meta.concrete_fields]
    record = {name: _value(getattr(contact, name)) for name in fields}
    return {
        "contact": record,
        "companies": [
            {
                "company_id": link.company_id,
                "company": link.company.name,
                "role": link.role,
                "title": link.title,
                "is_primary": link.is_primary,
            }
            for link in ContactCompany.objects.filter(contact=contact).select_related("company")
        ],
        "consents": [
            {"channel": c.channel, "status": c.status, "at": _value(c.at), "source": c.source}
            for c in Consent.objects.filter(contact=contact)
        ],
        "interactions": [
            {
                "id": i.pk,
                "kind": i.kind,
                "channel": i.channel,
                "direction": i.direction,
                "occurred_at": _value(i.occurred_at),
                "subject": i.subject,
                "body": i.body,
                "outcome": i.outcome,
                "duration_seconds": i.duration_seconds,
            }
            for i in Interaction.objects.filter(contact=contact).order_by("occurred_at", "id")
        ],
        "external_ids": list(
            ExternalRef.objects.filter(entity="contact", object_id=contact.pk).values_list(
                "external_id", flat=True
            )
        ),
        "history": [
            {"at": _value(a.at), "action": a.action, "changes": a.changes}
            for a in AuditLog.objects.filter(entity="contact", object_id=contact.pk).order_by(
                "at", "id"
            )
        ],
        "erased_at": _value(
            Erasure.objects.filter(contact_id=contact.pk).values_list("at", flat=True).first()
        ),
        "exported_at": timezone.now().isoformat(),
    }


def _pattern(contact: Contact) -> re.Pattern | None:
    """What identifies the person in free text: names, emails, and each phone written in any
    format (separators between digits, with or without the country code or a trunk 8)."""
    words = {contact.first_name, contact.middle_name, contact.last_name, contact.full_name}
    words |= set(contact.emails) | {contact.email}
    parts = [
        re.escape(w) for w in sorted((w for w in words if w and len(w) >= 2), key=len, reverse=True)
    ]
    sep = r"[\s\-().]*"
    for phone in {*contact.phones, contact.phone} - {""}:
        try:
            number = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            continue
        national = str(number.national_number)
        prefix = (
            rf"(?:\+?{number.country_code}|8)?"
            if number.country_code == 7
            else rf"(?:\+?{number.country_code})?"
        )
        parts.insert(0, prefix + sep + sep.join(national))
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _scrub(text: str, pattern: re.Pattern | None) -> str:
    return pattern.sub(ERASED, text) if pattern and text else text


@transaction.atomic
def contact_erase(*, user: User, pk: Any) -> Contact:
    """Anonymise one contact for good (administrators only); see the module's docstring."""
    contact = contact_get_for_user(user=user, pk=pk, for_write=True)
    if not is_admin(user):
        raise PermissionDeniedError(_("Only administrators erase personal data."))
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if Erasure.objects.filter(contact_id=contact.pk).exists():
        return contact
    pattern = _pattern(contact)
    company_ids = list(contact.company_links.values_list("company_id", flat=True))
    interactions = Interaction.objects.filter(
        models.Q(contact=contact) | models.Q(company_id__in=company_ids, contact__isnull=True)
    )
    for interaction in interactions.iterator():
        subject = _scrub(interaction.subject, pattern)
        body = _scrub(interaction.body, pattern)
        outcome = _scrub(interaction.outcome, pattern)
        if (subject, body, outcome) != (interaction.subject, interaction.body, interaction.outcome):
            Interaction.objects.filter(pk=interaction.pk).update(
                subject=subject, body=body, outcome=outcome
            )
    for entry in AuditLog.objects.filter(entity="contact", object_id=contact.pk):
        entry.changes = {
            k: [ERASED, ERASED] if k.split(".")[0] in PERSONAL_FIELDS else v
            for k, v in (entry.changes or {}).items()
        }
        entry.object_repr = f"#{contact.pk}"
        entry.save(update_fields=["changes", "object_repr"])
    contact.first_name = ERASED
    for field in ("middle_name", "last_name", "email", "phone", "gender", "language", "city"):
        setattr(contact, field, "")
    contact.preferences = ""
    contact.emails, contact.phones, contact.social, contact.custom = [], [], {}, {}
    contact.birth_date = None
    contact.tags = ""
    contact.version += 1
    contact.updated_at = timezone.now()
    contact.save()
    ExternalRef.objects.filter(entity="contact", object_id=contact.pk).delete()
    unindex("contact", contact.pk)
    Erasure.objects.create(contact_id=contact.pk, user=user)
    audit_record(
        user=user,
        action=AuditLog.Action.UPDATE,
        entity="contact",
        obj=contact,
        changes={"erased": [False, True]},
    )
    return contact
