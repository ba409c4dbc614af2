"""One family of business errors; the API and the UI each map them to responses in one place."""

from __future__ import annotations


class KlientoError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str = "", *, fields: dict[str, str] | None = None):
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.fields = fields or {}


class NotFoundError(KlientoError):
    """Not found."""

    status = 404
    code = "not_found"


class PermissionDeniedError(KlientoError):
    """You are not allowed to do this."""

    status = 403
    code = "forbidden"


class ValidationFailedError(KlientoError):
    """Invalid input."""

    status = 422
    code = "invalid"


class ConflictError(KlientoError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class StaleVersionError(KlientoError):
    """The record was changed by someone else since you loaded it."""

    status = 412
    code = "stale"


class BadCursorError(KlientoError):
    """The pagination cursor is malformed or expired."""

    status = 400
    code = "bad_cursor"


class BadRequestError(KlientoError):
    """The request could not be read."""

    status = 400
    code = "bad_request"
