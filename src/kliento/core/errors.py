"""One family of business errors; the API and the UI each map them to responses in one place.

Messages are user-visible: raise them with text already translated (`gettext` at raise time,
while the request's language is active). An error raised without a message takes its class's
`default_message`, translated into the active language when the error is created.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class KlientoError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str = "", *, fields: dict[str, str] | None = None):
        message = message or self._default_message()
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    @classmethod
    def _default_message(cls) -> str:
        """The nearest class's `default_message`, or its docstring, or the code."""
        for klass in cls.__mro__:
            if klass is Exception:
                break
            if "default_message" in klass.__dict__:
                return str(klass.__dict__["default_message"])
            if klass.__dict__.get("__doc__"):
                return klass.__dict__["__doc__"].strip()
        return cls.code


class NotFoundError(KlientoError):
    """Not found."""

    status = 404
    code = "not_found"
    default_message = gettext_lazy("Not found.")


class PermissionDeniedError(KlientoError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"
    default_message = gettext_lazy("You are not allowed to do this.")


class ValidationFailedError(KlientoError):
    """Invalid input."""

    status = 422
    code = "invalid"
    default_message = gettext_lazy("Invalid input.")


class ConflictError(KlientoError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"
    default_message = gettext_lazy("The request conflicts with the current state.")


class StaleVersionError(KlientoError):
    """The record was changed by someone else since you loaded it."""

    status = 412
    code = "stale"
    default_message = gettext_lazy("The record was changed by someone else since you loaded it.")


class BadCursorError(KlientoError):
    """The pagination cursor is malformed or expired."""

    status = 400
    code = "bad_cursor"
    default_message = gettext_lazy("The pagination cursor is malformed or expired.")


class BadRequestError(KlientoError):
    """The request could not be read."""

    status = 400
    code = "bad_request"
    default_message = gettext_lazy("The request could not be read.")


def still_referenced(exc: ProtectedError, name: str = "") -> ConflictError:
    """The 409 for a deletion the database refused: names what still refers to the record
    (e.g. "orders: 3, quotes: 1") so the user knows what to delete or reassign first."""
    counts = Counter(str(type(obj)._meta.verbose_name_plural) for obj in exc.protected_objects)
    refs = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items()))
    if name:
        message = _(
            "“%(name)s” can't be deleted while other records refer to it (%(refs)s). "
            "Delete or reassign those first."
        ) % {"name": name, "refs": refs}
    else:
        message = _(
            "This can't be deleted while other records refer to it (%(refs)s). "
            "Delete or reassign those first."
        ) % {"refs": refs}
    return ConflictError(message)
