"""Normalising what people type: emails, phones, and text for search."""

from __future__ import annotations

import contextlib
import re
import unicodedata
from functools import lru_cache

import phonenumbers
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email


class NormalizationError(ValueError):
    pass


def normalize_email(raw: str) -> str:
    raw = (raw or "").strip()
    if not raw:
        raise NormalizationError(_("the address is empty"))
    try:
        info = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        # The library's own explanation is English only; ours follows the user's language.
        raise NormalizationError(_("not a valid email address")) from exc
    return info.normalized.lower()


def normalize_phone(raw: str, region: str = "RU") -> str:
    """Return the E.164 form ("+79161234567") of a phone typed in any common format."""
    raw = (raw or "").strip()
    if not raw:
        raise NormalizationError(_("the number is empty"))
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException as exc:
        reasons = {
            phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: _(
                "the country code is missing or unknown"
            ),
            phonenumbers.NumberParseException.TOO_SHORT_NSN: _("too short"),
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: _("too short"),
            phonenumbers.NumberParseException.TOO_LONG: _("too long"),
        }
        raise NormalizationError(reasons.get(exc.error_type, _("not a phone number"))) from exc
    if not phonenumbers.is_possible_number(number):
        raise NormalizationError(_("not a possible phone number"))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def format_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# One Latin spelling per Cyrillic letter, chosen so that common romanisations of Russian
# names ("Ivanov", "Sergeev", "Yulia"/"Julia") land close in trigram space.
_CYR = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "і": "i",
    "ї": "i",
    "є": "e",
    "ґ": "g",
}
# Latin spellings that differ only by convention are folded to one form.
_LAT_FOLD = [
    ("shch", "sch"),
    ("iy", "i"),
    ("yy", "y"),
    ("ij", "i"),
    ("j", "i"),
    ("x", "ks"),
    ("w", "v"),
    ("ph", "f"),
    ("ck", "k"),
    ("q", "k"),
    ("c", "k"),
    ("yu", "iu"),
    ("ya", "ia"),
    ("ye", "e"),
    ("kh", "h"),
    ("y", "i"),
]
_NON_WORD = re.compile(r"[^a-z0-9@.+ ]+")
_SPACES = re.compile(r"\s+")


_CYR_TABLE = str.maketrans(_CYR)


def fold(text: str) -> str:
    """Lowercase, transliterate Cyrillic, fold Latin spelling variants, drop accents.

    One str.translate for the Cyrillic letters, and no Unicode decomposition for text that is
    already ASCII (it has nothing to decompose): bulk imports fold every name they index."""
    text = (text or "").lower().translate(_CYR_TABLE)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    for src, dst in _LAT_FOLD:
        text = text.replace(src, dst)
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def phone_digits_variants(query: str, region: str = "RU") -> list[str]:
    """Digits a phone query may appear as in the index (E.164 digits, national forms)."""
    digits = re.sub(r"\D", "", query or "")
    if len(digits) < 5:
        return []
    variants = {digits}
    e164 = ""
    with contextlib.suppress(NormalizationError):
        e164 = normalize_phone(query, region).lstrip("+")
        variants.add(e164)
    if len(digits) == 11 and digits.startswith("8"):
        variants.add("7" + digits[1:])
    # Longest first; among equals the E.164 digits (what the index holds), then by value — the
    # first variant is the one search scores as typed, so the order must not depend on a
    # set's (per-process) iteration order.
    return sorted(variants, key=lambda v: (-len(v), v != e164, v))


def search_text(*parts: str, phones: list[str] | None = None) -> str:
    """The indexed text of a record: folded words plus the digits of every phone."""
    words = fold(" ".join(p for p in parts if p))
    digits = " ".join(p.lstrip("+") for p in phones or [] if p)
    return f"{words} {digits}".strip()
