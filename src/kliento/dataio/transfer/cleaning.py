"""One imported row → the field values the customer services would store, or reasons why not.

The rules are the services' (customers.services text_clean, choice_clean, tags_clean), with
two shortcuts for speed that give the same result: a plain ASCII email is checked by a regular
expression and lowercased (email-validator is asked only about anything else), and the
phone region is read once per import instead of once per number. `search_text` is
customers.normalize.search_text made cheap for bulk indexing (same result, tested on many
inputs against the original).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.models import CustomField, OrgSettings, User
from kliento.core.permissions import scope_for
from kliento.core.services import custom_field_clean_value
from kliento.customers.models import (
    Channel,
    Company,
    CompanySize,
    ConsentChannel,
    Contact,
    Direction,
    Gender,
    Interaction,
    InteractionKind,
    LifecycleStage,
)
from kliento.customers.normalize import (
    NormalizationError,
    fold,
    normalize_email,
    normalize_phone,
)
from kliento.customers.services import ChoicesWithBlank, choice_clean, tags_clean, text_clean
from kliento.dataio.transfer.fields import (
    ValueProblem,
    parse_date_value,
    parse_datetime_value,
    parse_decimal,
    split_multi,
)

_PLAIN_EMAIL = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$"
)
_CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")
# ASCII digits only: other scripts' digits go to phonenumbers, which reads them as 0-9.
_RU_PHONE = re.compile(r"^\s*(?:\+7|8|7)[\s\-().]*9(?:[\s\-().]*\d){9}\s*$", re.ASCII)
_NOT_DIGIT = re.compile(r"\D", re.ASCII)
_GENDERS = {
    "f": "f", "female": "f", "woman": "f", "ж": "f", "жен": "f", "женский": "f",
    "m": "m", "male": "m", "man": "m", "м": "m", "муж": "m", "мужской": "m",
}  # fmt: skip


_HAS_DIGIT_OR_AT = re.compile(r"[\d@]")
_folded: dict[str, str] = {}


def _fold_part(part: str) -> str:
    # Names repeat across a customer base (emails and numbers do not): remember them.
    if _HAS_DIGIT_OR_AT.search(part):
        return fold(part)
    folded = _folded.get(part)
    if folded is None:
        if len(_folded) > 100_000:
            _folded.clear()
        folded = _folded[part] = fold(part)
    return folded


def search_text(*parts: str, phones: list[str] | None = None) -> str:
    """customers.normalize.search_text, folding part by part: no folding rule reaches across
    the space that joins two parts, so the words are the same."""
    words = " ".join(w for w in (_fold_part(p) for p in parts if p) if w)
    digits = " ".join(p.lstrip("+") for p in phones or [] if p)
    return f"{words} {digits}".strip()


def _lookup(choices, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """Values and their English/Russian labels, lowercased, → the stored value."""
    from django.utils import translation

    table = dict(aliases or {})
    for value, label in choices.choices:
        table[str(value).lower()] = value
        table[str(label).lower()] = value
        with translation.override("ru"):
            table[str(label).lower()] = value
        with translation.override("en"):
            table[str(label).lower()] = value
    return table


class Cleaner:
    """Per-import caches (region, owners, custom fields) and the per-entity row cleaning."""

    def __init__(self, *, user: User, entity: str, options: dict[str, Any]):
        self.user = user
        self.entity = entity
        self.date_format = options.get("date_format") or "dmy"
        self.decimal = options.get("decimal") or "."
        self.region = OrgSettings.get().default_region
        self.scope = scope_for(user)
        self.owners: dict[str, int | None] = {}
        custom_entity = {"contacts": "contact", "companies": "company"}.get(entity)
        self.custom = (
            {f.key: f for f in CustomField.objects.filter(entity=custom_entity)}
            if custom_entity
            else {}
        )
        self.required_custom = [k for k, f in self.custom.items() if f.required]
        self.stages = _lookup(LifecycleStage)
        self.channels = _lookup(ConsentChannel)
        self.kinds = _lookup(InteractionKind)
        self.ichannels = _lookup(Channel)
        self.directions = _lookup(Direction, {"входящий": "in", "исходящий": "out"})
        self.sizes = _lookup(CompanySize)
        self.users: dict[str, int | None] = {}
        self.today = timezone.localdate()

    # --- values ---------------------------------------------------------------------------

    def email(self, raw: str) -> str:
        raw = raw.strip()
        if _PLAIN_EMAIL.match(raw) and ".." not in raw:
            return raw.lower()
        return normalize_email(raw)

    def emails(self, raw: str, errors: dict, field: str = "email") -> list[str]:
        result: list[str] = []
        for part in split_multi(raw):
            try:
                email = self.email(part)
            except NormalizationError as exc:
                errors[field] = _("Invalid email %(value)s: %(reason)s") % {
                    "value": repr(part),
                    "reason": exc,
                }
                continue
            if email not in result:
                result.append(email)
        return result

    def phone(self, raw: str) -> str:
        """E.164. Russian mobiles written +7 9xx…, 8 9xx… or 7 9xx… (the bulk of a Russian base)
        are read directly — the result phonenumbers gives for them; everything else goes to it."""
        if self.region == "RU" and _RU_PHONE.match(raw):
            return "+7" + _NOT_DIGIT.sub("", raw)[1:]
        return normalize_phone(raw, self.region)

    def phones(self, raw: str, errors: dict, field: str = "phone") -> list[str]:
        result: list[str] = []
        for part in split_multi(raw):
            try:
                phone = self.phone(part)
            except NormalizationError as exc:
                errors[field] = _("Invalid phone %(value)s: %(reason)s") % {
                    "value": repr(part),
                    "reason": exc,
                }
                continue
            if phone not in result:
                result.append(phone)
        return result

    def owner(self, raw: str, errors: dict) -> int | None:
        key = raw.strip().lower()
        if not key:
            return None
        if key not in self.owners:
            user = (
                User.objects.filter(is_active=True).filter(username__iexact=key).only("id").first()
                or User.objects.filter(is_active=True, email__iexact=key).only("id").first()
            )
            self.owners[key] = user.pk if user else None
        owner_id = self.owners[key]
        if owner_id is None:
            errors["owner"] = _("No active user %(name)s.") % {"name": repr(raw.strip())}
            return None
        scope = self.scope
        if owner_id != self.user.pk and not scope.write_all and owner_id not in scope.owner_ids:
            errors["owner"] = _("You can only assign records to yourself or your team.")
            return None
        return owner_id

    def user_id(self, raw: str, errors: dict, field: str = "user") -> int | None:
        key = raw.strip().lower()
        if not key:
            return None
        if key not in self.users:
            user = User.objects.filter(username__iexact=key).only("id").first()
            self.users[key] = user.pk if user else None
        if self.users[key] is None:
            errors[field] = _("No user %(name)s.") % {"name": repr(raw.strip())}
        return self.users[key]

    def choice(self, raw: str, table: dict[str, str], choices, field: str, errors: dict) -> str:
        text = raw.strip()
        if not text:
            return ""
        value = table.get(text.lower())
        if value is None:
            return choice_clean(text, choices, field, errors)
        return value

    def custom_values(self, raw: dict[str, str], errors: dict, creating: bool) -> dict | None:
        result: dict[str, Any] = {}
        for key, text in raw.items():
            definition = self.custom.get(key)
            if definition is None:
                errors[f"custom.{key}"] = _("Unknown custom field.")
                continue
            value: Any = text.strip()
            try:
                if value and definition.type == "number":
                    value = str(parse_decimal(value, self.decimal))
                elif value and definition.type == "date":
                    value = parse_date_value(value, self.date_format).isoformat()
                elif value and definition.type == "multichoice":
                    value = split_multi(value)
                cleaned = custom_field_clean_value(definition, value or None)
            except (ValueError, ValueProblem) as exc:
                errors[f"custom.{key}"] = str(exc)
                continue
            if cleaned is not None:
                result[key] = cleaned
        if creating:
            for key in self.required_custom:
                if key not in result and f"custom.{key}" not in errors:
                    errors[f"custom.{key}"] = _("This field is required.")
        return result

    def moment(self, raw: str, field: str, errors: dict) -> datetime | None:
        try:
            value = parse_datetime_value(raw, self.date_format)
        except ValueProblem as exc:
            errors[field] = str(exc)
            return None
        if value is None:
            return None
        if not isinstance(value, datetime):
            value = datetime.combine(value, datetime.min.time())
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        if not (1900 <= value.year <= 2200):
            errors[field] = _("The date is out of range.")
        return value

    # --- entities -------------------------------------------------------------------------

    def contact(self, raw: dict[str, str], custom: dict[str, str]) -> tuple[dict, dict]:
        """Cleaned contact values (only fields with a value) and errors by field."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        full = raw.get("full_name", "").strip()
        if full:
            parts = full.split()
            if len(parts) == 3 and _CYRILLIC.search(full):
                values["last_name"], values["first_name"], values["middle_name"] = parts
            elif len(parts) == 1:
                values["first_name"] = parts[0]
            else:
                values["first_name"], values["last_name"] = parts[0], " ".join(parts[1:])
        for field in (
            "first_name",
            "middle_name",
            "last_name",
            "language",
            "region",
            "city",
            "preferences",
        ):
            text = raw.get(field, "")
            if text.strip():
                values[field] = text_clean(Contact, field, text, errors)
        country = raw.get("country", "").strip()
        if country:
            if len(country) != 2 or not country.isalpha():
                errors["country"] = _("Use the two-letter country code, e.g. RU.")
            else:
                values["country"] = country.upper()
        if raw.get("email", "").strip():
            values["emails"] = self.emails(raw["email"], errors)
        if raw.get("phone", "").strip():
            values["phones"] = self.phones(raw["phone"], errors)
        if raw.get("birth_date", "").strip():
            try:
                born = parse_date_value(raw["birth_date"], self.date_format)
            except ValueProblem as exc:
                errors["birth_date"] = str(exc)
            else:
                if born.year < 1900 or born > self.today:
                    errors["birth_date"] = _("The date must be between 1900 and today.")
                values["birth_date"] = born
        if raw.get("gender", "").strip():
            values["gender"] = self.choice(raw["gender"], _GENDERS, Gender, "gender", errors)
        if raw.get("lifecycle_stage", "").strip():
            values["lifecycle_stage"] = self.choice(
                raw["lifecycle_stage"], self.stages, LifecycleStage, "lifecycle_stage", errors
            )
        if raw.get("preferred_channel", "").strip():
            values["preferred_channel"] = self.choice(
                raw["preferred_channel"],
                self.channels,
                ChoicesWithBlank(ConsentChannel),
                "preferred_channel",
                errors,
            )
        self._record_fields(raw, custom, values, errors)
        identity = ("first_name", "last_name", "emails", "phones")
        if not errors and not any(values.get(f) for f in identity):
            errors["first_name"] = _("Give at least a name, an email or a phone.")
        return values, errors

    def company(self, raw: dict[str, str], custom: dict[str, str]) -> tuple[dict, dict]:
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for field in (
            "name", "legal_name", "tax_id", "industry", "region", "city", "address",
            "postal_address", "website",
        ):  # fmt: skip
            text = raw.get(field, "")
            if text.strip():
                values[field] = text_clean(Company, field, text, errors)
        if values.get("tax_id"):
            values["tax_id"] = values["tax_id"].replace(" ", "")
            if not values["tax_id"].isalnum():
                errors["tax_id"] = _("A tax id has only letters and digits.")
        country = raw.get("country", "").strip()
        if country:
            if len(country) != 2 or not country.isalpha():
                errors["country"] = _("Use the two-letter country code, e.g. RU.")
            else:
                values["country"] = country.upper()
        if raw.get("size", "").strip():
            values["size"] = self.choice(raw["size"], self.sizes, CompanySize, "size", errors)
        if raw.get("email", "").strip():
            values["emails"] = self.emails(raw["email"], errors)
        if raw.get("phone", "").strip():
            values["phones"] = self.phones(raw["phone"], errors)
        self._record_fields(raw, custom, values, errors)
        if not values.get("name") and "name" not in errors:
            errors["name"] = _("A company needs a name.")
        return values, errors

    def _record_fields(self, raw, custom, values, errors) -> None:
        if raw.get("tags", "").strip():
            values["tags"] = tags_clean(split_multi(raw["tags"]), errors)
        if raw.get("owner", "").strip():
            owner_id = self.owner(raw["owner"], errors)
            if owner_id:
                values["owner_id"] = owner_id
        if raw.get("created_at", "").strip():
            created = self.moment(raw["created_at"], "created_at", errors)
            if created:
                values["created_at"] = created
        if custom or self.required_custom:
            values["custom"] = self.custom_values(custom, errors, creating=True)

    def interaction(self, raw: dict[str, str]) -> tuple[dict, dict]:
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for field in ("subject", "outcome"):
            if raw.get(field, "").strip():
                values[field] = text_clean(Interaction, field, raw[field], errors)
        if raw.get("body", ""):
            if len(raw["body"]) > 100_000:
                errors["body"] = _("At most %(n)s characters.") % {"n": 100_000}
            values["body"] = raw["body"]
        kind = self.choice(raw.get("kind", ""), self.kinds, InteractionKind, "kind", errors)
        if not kind and "kind" not in errors:
            errors["kind"] = _("Say what kind of interaction this is.")
        values["kind"] = kind
        if raw.get("channel", "").strip():
            values["channel"] = self.choice(
                raw["channel"], self.ichannels, Channel, "channel", errors
            )
        if raw.get("direction", "").strip():
            values["direction"] = self.choice(
                raw["direction"], self.directions, Direction, "direction", errors
            )
        if raw.get("occurred_at", "").strip():
            values["occurred_at"] = self.moment(raw["occurred_at"], "occurred_at", errors)
        if raw.get("duration_seconds", "").strip():
            try:
                seconds = parse_decimal(raw["duration_seconds"], self.decimal)
            except ValueProblem as exc:
                errors["duration_seconds"] = str(exc)
            else:
                if seconds < 0 or seconds > 7 * 24 * 3600:
                    errors["duration_seconds"] = _("At most a week.")
                else:
                    values["duration_seconds"] = int(seconds)
        if raw.get("user", "").strip():
            values["user_id"] = self.user_id(raw["user"], errors)
        return values, errors
