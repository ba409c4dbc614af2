"""The duplicate check on entry: existing records a new contact or company is likely to be.

A handful of indexed look-ups (primary email and phone, tax id, the search index for the
folded name with its typo corrections) gather candidates regardless of visibility; each is
scored with the same model as the batch scan. What the user may see comes back with its data;
a record they may not see only as "exists, owned by X", the way search answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from kliento.core.models import User
from kliento.core.permissions import can_read
from kliento.customers.models import Company, Contact
from kliento.customers.normalize import NormalizationError, format_phone, normalize_phone
from kliento.customers.search import search_candidate_ids
from kliento.dataio.dedup.matching import (
    SUGGEST_THRESHOLD,
    company_features,
    company_name_key,
    contact_features,
    email_key,
    evidence_text,
    score_companies,
    score_contacts,
)

MAX_LOOKUP = 40


@dataclass
class Candidate:
    entity: str
    id: int | None
    title: str
    subtitle: str
    confidence: float
    evidence: list[dict] = field(default_factory=list)
    visible: bool = True
    owner_name: str = ""
    url: str = ""

    @property
    def evidence_lines(self) -> list[str]:
        return [evidence_text(e) for e in self.evidence if e["weight"] > 0]

    def as_dict(self) -> dict[str, Any]:
        if not self.visible:
            return {
                "entity": self.entity,
                "id": None,
                "visible": False,
                "owner_name": self.owner_name,
                "confidence": round(self.confidence, 3),
            }
        return {
            "entity": self.entity,
            "id": self.id,
            "visible": True,
            "title": self.title,
            "subtitle": self.subtitle,
            "owner_name": self.owner_name,
            "confidence": round(self.confidence, 3),
            "evidence": self.evidence,
        }


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str) and v.strip()]


def _phones(values: list[str]) -> list[str]:
    from kliento.core.models import OrgSettings

    region = OrgSettings.get().default_region
    out = []
    for raw in values:
        try:
            out.append(normalize_phone(raw, region))
        except NormalizationError:
            continue
    return out


def _name_ids(entity: str, text: str) -> list[int]:
    return search_candidate_ids(entity=entity, text=text, limit=MAX_LOOKUP)


def _finish(user: User, entity: str, scored: list, limit: int) -> list[Candidate]:
    scored.sort(key=lambda s: (-s[0], s[1].pk))
    owners = User.objects.in_bulk({obj.owner_id for _c, obj, _e in scored[:limit]})
    result = []
    hidden = 0
    for confidence, obj, evidence in scored[:limit]:
        owner = owners.get(obj.owner_id)
        owner_name = owner.display_name if owner else ""
        if not can_read(user, entity, obj):
            hidden += 1
            if hidden <= 3:
                result.append(
                    Candidate(
                        entity=entity,
                        id=None,
                        title="",
                        subtitle="",
                        confidence=confidence,
                        visible=False,
                        owner_name=owner_name,
                    )
                )
            continue
        if entity == "contact":
            subtitle = " · ".join(p for p in [obj.email, format_phone(obj.phone), obj.city] if p)
            title = obj.full_name
        else:
            subtitle = " · ".join(p for p in [obj.tax_id, obj.city, obj.website] if p)
            title = obj.name
        result.append(
            Candidate(
                entity=entity,
                id=obj.pk,
                title=title,
                subtitle=subtitle,
                confidence=confidence,
                evidence=evidence,
                owner_name=owner_name,
                url=reverse(f"{entity}_detail", args=[obj.pk]),
            )
        )
    return result


def contact_candidates(
    *,
    user: User,
    data: dict[str, Any],
    exclude_id: int | None = None,
    min_confidence: float = SUGGEST_THRESHOLD,
    limit: int = 5,
) -> list[Candidate]:
    """Existing contacts the contact described by `data` (service field names) may be."""
    emails = [e.strip().lower() for e in _list(data.get("emails") or data.get("email"))]
    phones = _phones(_list(data.get("phones") or data.get("phone")))
    first, last = (data.get("first_name") or "").strip(), (data.get("last_name") or "").strip()
    new = contact_features(
        0,
        first,
        data.get("middle_name") or "",
        last,
        emails,
        phones,
        data.get("birth_date") or None,
        data.get("city") or "",
    )
    if not (new.emails or new.phones or (new.first and new.last) or new.last):
        return []
    ids: set[int] = set()
    q = Q(pk__in=[])
    if emails:
        keys = {email_key(e) for e in emails} | set(emails)
        q |= Q(email__in=keys)
    if phones:
        q |= Q(phone__in=phones)
    ids |= set(Contact.objects.filter(q).values_list("pk", flat=True)[:MAX_LOOKUP])
    if last and first:
        ids |= set(_name_ids("contact", f"{first} {last}"))
    elif last or first:
        ids |= set(_name_ids("contact", last or first)[:10])
    ids.discard(exclude_id)
    scored = []
    for obj in Contact.objects.filter(pk__in=ids):
        confidence, evidence = score_contacts(new, features_of("contact", obj))
        if confidence >= min_confidence:
            scored.append((confidence, obj, evidence))
    return _finish(user, "contact", scored, limit)


def company_candidates(
    *,
    user: User,
    data: dict[str, Any],
    exclude_id: int | None = None,
    min_confidence: float = SUGGEST_THRESHOLD,
    limit: int = 5,
) -> list[Candidate]:
    emails = [e.strip().lower() for e in _list(data.get("emails"))]
    phones = _phones(_list(data.get("phones")))
    new = company_features(
        0,
        data.get("name") or "",
        data.get("legal_name") or "",
        data.get("tax_id") or "",
        data.get("website") or "",
        emails,
        phones,
        data.get("city") or "",
    )
    if not (new.name or new.tax_id or new.domain):
        return []
    ids: set[int] = set()
    if new.tax_id:
        raw = (data.get("tax_id") or "").strip()
        ids |= set(
            Company.objects.filter(tax_id__in={raw, new.tax_id}).values_list("pk", flat=True)[
                :MAX_LOOKUP
            ]
        )
    if new.name:
        ids |= set(_name_ids("company", new.name))
    name = company_name_key(data.get("legal_name") or "")
    if name and name != new.name:
        ids |= set(_name_ids("company", name))
    ids.discard(exclude_id)
    scored = []
    for obj in Company.objects.filter(pk__in=ids):
        confidence, evidence = score_companies(new, features_of("company", obj))
        if confidence >= min_confidence:
            scored.append((confidence, obj, evidence))
    return _finish(user, "company", scored, limit)


def features_of(entity: str, obj):
    """The matching features of a stored contact or company."""
    if entity == "contact":
        return contact_features(
            obj.pk,
            obj.first_name,
            obj.middle_name,
            obj.last_name,
            obj.emails or [obj.email],
            obj.phones or [obj.phone],
            obj.birth_date,
            obj.city,
        )
    return company_features(
        obj.pk, obj.name, obj.legal_name, obj.tax_id, obj.website, obj.emails, obj.phones, obj.city
    )


def score_records(entity: str, a, b) -> tuple[float, list[dict]]:
    """(confidence, evidence) that two stored records are one customer, as a scan scores."""
    score = score_contacts if entity == "contact" else score_companies
    return score(features_of(entity, a), features_of(entity, b))


def duplicate_message() -> str:
    return _(
        "This looks like a record that already exists. Open it, or send the request again "
        "with confirm_duplicate=true to create a new one anyway."
    )


def candidate_rows(entity: str, candidates: list[dict]) -> list[dict]:
    """Candidates (as_dict) as the entry hints and the duplicate warning show them."""
    rows = []
    for c in candidates:
        row = dict(c)
        row["percent"] = round(100 * c["confidence"])
        if c.get("visible"):
            row["url"] = reverse(f"{entity}_detail", args=[c["id"]])
            row["why"] = [evidence_text(e) for e in c.get("evidence", []) if e["weight"] > 0]
        rows.append(row)
    return rows
