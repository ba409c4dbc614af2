"""Reading the settings forms into service arguments, and service errors back into the user's
language.

The forms are plain HTML like the rest of the UI; services validate, and the views show
`ValidationFailedError.fields` beside the inputs after `translate_errors`.
"""

from __future__ import annotations

from django.http import QueryDict
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

# Fixed wording the core services raise; listed so it is translated on screen.
SERVICE_MESSAGES = [
    gettext_noop("A username is required."),
    gettext_noop("A password needs at least 8 characters."),
    gettext_noop("Enter a password."),
    gettext_noop("Your current password is not correct."),
    gettext_noop("A team needs a name."),
    gettext_noop("At most 150 characters."),
    gettext_noop("At most 200 characters."),
    gettext_noop("Enter a valid email address."),
    gettext_noop("You can't remove your own administrator role."),
    gettext_noop("You can't deactivate your own account."),
    gettext_noop("A team can't be moved under itself or one of its own teams."),
    gettext_noop("The company needs a name."),
    gettext_noop("Use a two-letter country code such as RU, GB or US."),
    gettext_noop("A label is required."),
    gettext_noop("A key of latin letters, digits and underscores is required."),
    gettext_noop("A choice field needs at least one choice."),
]


def translate_errors(fields: dict[str, str], fallbacks: dict[str, str] | None = None) -> dict:
    """Service error texts (already in the user's language) → what the user reads.

    Fixed wording is kept; a message with values in it (e.g. "User 'x' already exists.")
    is replaced by the field's fallback, already translated by the caller.
    """
    known = {_(message) for message in SERVICE_MESSAGES}
    result = {}
    for key, message in fields.items():
        if message in known:
            result[key] = message
        elif fallbacks and key in fallbacks:
            result[key] = fallbacks[key]
        else:
            result[key] = message
    return result


# Russian letters → Latin for keys derived from a Cyrillic label (simplified GOST 7.79 B).
# fmt: off
_LATIN = (
    "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p",
    "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "iu", "ia",
)
# fmt: on
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _LATIN, strict=True))


def custom_field_key(label: str) -> str:
    """A key derived from the label, Cyrillic transliterated: "Размер обуви" → "razmer_obuvi"."""
    latin = "".join(_TRANSLIT.get(ch, ch) for ch in (label or "").lower()).replace("-", " ")
    return slugify(latin).replace("-", "_")[:50]


def choices_from_text(text: str) -> list[str]:
    """One choice per line; blank lines and repeats dropped, order kept."""
    seen: list[str] = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and line not in seen:
            seen.append(line)
    return seen


def checkbox(post: QueryDict, name: str) -> bool:
    return post.get(name) in {"on", "1", "true", "yes"}


def int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except (TypeError, ValueError):
        return None
