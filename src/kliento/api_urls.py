"""Mounts the one NinjaAPI (kliento.api) under /api/v1/ (included by the root urls.py)."""

from functools import wraps

from django.urls import path, re_path

from kliento.api import api, api_not_found, method_not_allowed


def _json_405(view):
    """Ninja answers a wrong method with a plain-text 405; answer it in the API's error shape."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
            return method_not_allowed(request, response)
        return response

    return wrapper


_patterns, _app_name, _namespace = api.urls
for _pattern in _patterns:
    _pattern.callback = _json_405(_pattern.callback)

urlpatterns = [
    path("", (_patterns, _app_name, _namespace)),
    # Anything else under /api/v1/ answers the API's JSON 404, not the HTML page.
    re_path(r"^.*$", api_not_found),
]
