from __future__ import annotations

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse
from django.utils import translation
from django.views.defaults import bad_request


class ApiBodyLimitMiddleware:
    """Refuse API request bodies over API_MAX_BODY_BYTES with a JSON 413 before parsing them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    {
                        "code": "too_large",
                        "message": f"Request body is {length} bytes; the limit is {limit}.",
                        "fields": {},
                    },
                    status=413,
                )
        return self.get_response(request)


class UserLanguageMiddleware:
    """A signed-in user's language choice wins over the browser's Accept-Language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


class RefuseNulMiddleware:
    """A page request whose query or form holds a NUL character gets the 400 page.

    No one types one, PostgreSQL cannot store or compare one, and every filter and form
    would otherwise have to check for it. The API answers 422 naming the field instead
    (see core.schemas), so /api/ is left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/") and (
            _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST))
        ):
            return bad_request(request, SuspiciousOperation("NUL character in the request"))
        return self.get_response(request)


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())
