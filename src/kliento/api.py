"""The REST API at /api/v1: one NinjaAPI, its authentication, and one error shape for everything.

Every error answers `{"code": ..., "message": ..., "fields": {field: problem}}`:
KlientoError subclasses keep their own status; invalid input is 422 naming each field
("emails.0"); a body that is not JSON is 400 (wrong content type 415); missing credentials 401.
Handlers live in core/api.py and customers/api.py and call selectors/services only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pydantic
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf

from kliento.core.errors import (
    BadRequestError,
    KlientoError,
    PermissionDeniedError,
    StaleVersionError,
    still_referenced,
)
from kliento.core.services import apikey_authenticate

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


# --- authentication ------------------------------------------------------------------------


class CsrfFailedError(PermissionDeniedError):
    """CSRF check failed: send the X-CSRFToken header with session authentication."""

    code = "csrf_failed"


class UnsupportedMediaTypeError(KlientoError):
    """Send the request body as JSON (Content-Type: application/json)."""

    status = 415
    code = "unsupported_media_type"


class BearerAuth(HttpBearer):
    """`Authorization: Bearer kl_...` — an API key created in the UI or with `kliento apikey`."""

    def authenticate(self, request: HttpRequest, token: str):
        return apikey_authenticate(token.strip())


class SessionAuth(APIKeyCookie):
    """The browser's Django session; unsafe methods must carry the CSRF token.

    Unlike Ninja's own SessionAuth, CSRF is checked only once the session is known to be
    valid, so an anonymous request answers 401, not a CSRF 403.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise CsrfFailedError(_("CSRF check failed: send the X-CSRFToken header."))
        return user


# --- request parsing -------------------------------------------------------------------------


class JsonParser(Parser):
    """Only JSON bodies; the reason a body is refused is kept for the error message."""

    def parse_body(self, request: HttpRequest):
        content_type = request.content_type or ""
        if content_type and not (
            content_type == "application/json" or content_type.endswith("+json")
        ):
            raise UnsupportedMediaTypeError(
                _("Send the body as JSON (Content-Type: application/json), not %(type)s.")
                % {"type": content_type}
            )
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequestError(_("The request body is not valid UTF-8.")) from exc
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise BadRequestError(_("The JSON body is nested too deeply.")) from exc
        except ValueError as exc:
            raise BadRequestError(
                _("The request body is not valid JSON: %(error)s") % {"error": exc}
            ) from exc


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


# --- the API ---------------------------------------------------------------------------------

api = NinjaAPI(
    title="Kliento API",
    version="1",
    description=(
        "The Kliento CRM REST API. Authenticate with `Authorization: Bearer <api key>` "
        "(create keys in the UI or with `kliento apikey create USERNAME`). "
        "Errors answer `{code, message, fields}`. See docs/api.md."
    ),
    urls_namespace="api",
    auth=[BearerAuth(), SessionAuth()],
    parser=JsonParser(),
    docs=Swagger(settings={"persistAuthorization": True}),
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
) -> HttpResponse:
    response = api.create_response(
        request,
        {
            "code": code,
            "message": str(message),
            "fields": {k: str(v) for k, v in (fields or {}).items()},
        },
        status=status,
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="kliento"'
    return response


@api.exception_handler(KlientoError)
def on_kliento_error(request: HttpRequest, exc: KlientoError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, exc.message, exc.fields)


def _field_name(loc: tuple[Any, ...] | list[Any], body_params: set[str]) -> str:
    parts = list(loc)
    source = parts.pop(0) if parts and parts[0] in {"body", "query", "path", "header"} else ""
    if source == "body" and parts and parts[0] in body_params:
        parts.pop(0)
    return ".".join(str(p) for p in parts) or (source or "body")


_MESSAGES = {
    "extra_forbidden": gettext_noop("Unknown field."),
    "missing": gettext_noop("This field is required."),
}


def validation_fields(errors: list[dict[str, Any]], body_params: set[str] | None = None) -> dict:
    fields: dict[str, str] = {}
    for error in errors:
        name = _field_name(error.get("loc") or (), body_params or {"payload"})
        message = _MESSAGES.get(error.get("type", ""))
        message = _(message) if message else str(error.get("msg", ""))
        # "Value error, Not an email" -> "Not an email"
        message = re.sub(r"^(Value|Assertion) error, ", "", message)
        fields.setdefault(name, message)
    return fields


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(
        request, 422, "invalid", _("Invalid input."), validation_fields(exc.errors)
    )


@api.exception_handler(pydantic.ValidationError)
def on_pydantic_error(request: HttpRequest, exc: pydantic.ValidationError) -> HttpResponse:
    errors = exc.errors(include_url=False)
    return error_response(request, 422, "invalid", _("Invalid input."), validation_fields(errors))


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, KlientoError):
        # The parser's own error, wrapped by Ninja in a generic 400.
        return on_kliento_error(request, cause)
    if isinstance(exc, AuthenticationError):
        message = _("Authentication required: send `Authorization: Bearer <api key>`.")
    elif exc.status_code == 400:
        message = _("The request body could not be read.")
    else:
        message = str(exc)
    return error_response(
        request, exc.status_code, _HTTP_CODES.get(exc.status_code, "error"), message
    )


@api.exception_handler(Http404)
def on_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found."))


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, 413, "too_large", _("The request body is too large."))


@api.exception_handler(RawPostDataException)
def on_raw_post(request: HttpRequest, exc: RawPostDataException) -> HttpResponse:
    return error_response(
        request,
        415,
        "unsupported_media_type",
        _("Send the body as JSON (Content-Type: application/json)."),
    )


@api.exception_handler(MultiPartParserError)
def on_bad_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return error_response(
        request,
        400,
        "bad_request",
        _("The multipart body could not be read: %(error)s") % {"error": exc},
    )


@api.exception_handler(ProtectedError)
def on_protected(request: HttpRequest, exc: ProtectedError) -> HttpResponse:
    """A deletion that other records still block: 409 naming them, whichever endpoint it was."""
    return on_kliento_error(request, still_referenced(exc))


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    if settings.DEBUG:
        raise exc
    return error_response(request, 500, "server_error", _("Something went wrong on our side."))


# --- ETags -------------------------------------------------------------------------------------

_ETAG = re.compile(r'^(?:W/)?"(\d+)-(\d+)"$')


def not_modified(request: HttpRequest, obj) -> HttpResponse | None:
    """A 304 when the client's If-None-Match already names this version."""
    header = request.headers.get("If-None-Match")
    if not header:
        return None
    tags = [t.strip() for t in header.split(",")]
    if "*" in tags or obj.etag in tags or f"W/{obj.etag}" in tags:
        response = HttpResponseNotModified()
        response["ETag"] = obj.etag
        return response
    return None


def expected_version(request: HttpRequest, obj) -> int | None:
    """The version an If-Match header expects; None when the client sent none.

    The service compares it again under a row lock, so a concurrent write in between still
    answers 412. A tag naming another object or another version, or garbage, is stale.
    """
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    for tag in (t.strip() for t in header.split(",")):
        match = _ETAG.match(tag)
        if match and int(match.group(1)) == obj.pk and int(match.group(2)) == obj.version:
            return obj.version
    raise StaleVersionError(
        _("The record was changed since you loaded it (If-Match %(sent)s, now %(now)s).")
        % {"sent": header.strip()[:100], "now": obj.etag}
    )


def with_etag(response: HttpResponse, obj) -> None:
    response["ETag"] = obj.etag


def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return error_response(request, 404, "not_found", _("No such API endpoint."))


def method_not_allowed(request: HttpRequest, plain: HttpResponse) -> HttpResponse:
    response = error_response(
        request,
        405,
        "method_not_allowed",
        _("%(method)s is not allowed here.") % {"method": request.method},
    )
    response["Allow"] = plain.get("Allow", "")
    return response


def _register_routers() -> None:
    from kliento.core.api import router as core_router
    from kliento.customers.api import router as customers_router
    from kliento.dataio.dedup.api import router as dedup_router
    from kliento.dataio.transfer.api import router as transfer_router
    from kliento.sales.catalog.api import router as catalog_router
    from kliento.sales.deals.api import router as deals_router
    from kliento.sales.leads.api import router as leads_router
    from kliento.sales.orders.api import router as orders_router
    from kliento.sales.plans.api import router as plans_router
    from kliento.sales.quotes.api import router as quotes_router
    from kliento.sales.reports.api import router as reports_router

    api.add_router("", core_router)
    api.add_router("", customers_router)
    for router in (
        leads_router,
        deals_router,
        catalog_router,
        quotes_router,
        orders_router,
        plans_router,
        reports_router,
        transfer_router,
        dedup_router,
    ):
        api.add_router("", router)


_register_routers()
