"""Core web UI: sign in/out, the language switch, saved list views; the error mapping shared by
every Kliento view."""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from kliento.core import services
from kliento.core.errors import NotFoundError, PermissionDeniedError, ValidationFailedError
from kliento.core.models import SavedView

# Which list page a saved view belongs to.
SAVED_VIEW_LISTS = {"contact": "contact_list", "company": "company_list"}


def ui_errors(view):
    """Map business errors to the styled 404/403 pages: a hidden record looks like a missing one."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except PermissionDeniedError as exc:
            raise PermissionDenied(exc.message) from exc

    return wrapper


def safe_next(request: HttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # The user's stored language wins from now on (see UserLanguageMiddleware).
        translation.activate(form.get_user().language or "en")
        return response


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


@login_required
@require_POST
def user_language(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")
    try:
        services.user_set_language(user=request.user, language=language)
    except ValidationFailedError:
        messages.error(request, _("Unknown language."))
    else:
        translation.activate(language)
    response = redirect(safe_next(request))
    # Keep the cookie in step so the sign-in page after logout speaks the same language.
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    return response


def saved_views_context(user, entity: str, query: str) -> dict:
    return {
        "saved_views": list(SavedView.objects.filter(user=user, entity=entity)),
        "entity": entity,
        "current_query": query,
        "list_url_name": SAVED_VIEW_LISTS[entity],
    }


def _render_saved_views(request: HttpRequest, entity: str, query: str, errors=None):
    context = saved_views_context(request.user, entity, query)
    context["saveview_errors"] = errors or {}
    return render(request, "core/partials/_saved_views.html", context)


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    entity = request.POST.get("entity", "")
    if entity not in SAVED_VIEW_LISTS:
        raise Http404
    query = request.POST.get("query", "")
    try:
        services.saved_view_create(
            user=request.user, entity=entity, name=request.POST.get("name", ""), query=query
        )
    except ValidationFailedError:
        errors = {"name": _("Give the view a name.")}
        if request.htmx:
            return _render_saved_views(request, entity, query, errors)
        messages.error(request, errors["name"])
    if request.htmx:
        return _render_saved_views(request, entity, query)
    messages.success(request, _("View saved."))
    return redirect(_list_url(entity, query))


@login_required
@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    entity = request.POST.get("entity", "")
    if entity not in SAVED_VIEW_LISTS:
        raise Http404
    query = request.POST.get("query", "")
    try:
        services.saved_view_delete(user=request.user, pk=pk)
    except NotFoundError as exc:
        raise Http404 from exc
    if request.htmx:
        return _render_saved_views(request, entity, query)
    return redirect(_list_url(entity, query))


def _list_url(entity: str, query: str) -> str:
    url = reverse(SAVED_VIEW_LISTS[entity])
    return f"{url}?{query}" if query else url


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For a load balancer or a monitor: 200 when this process answers and reaches its
    database, 503 when the database does not answer. Needs no login and shows no data."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
