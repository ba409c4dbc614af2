"""Web UI of the customer database: home, lists, detail pages, forms, tasks, search.

Views parse the request, call a selector or a service, and render; a request from htmx gets the
fragment it swaps in. Visibility lives in the selectors and services, never here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core.errors import (
    BadCursorError,
    ConflictError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import CustomField, User
from kliento.core.panels import panels_for
from kliento.core.permissions import can_write, scope_for
from kliento.core.views import saved_views_context, ui_errors
from kliento.customers import forms, search, selectors, services
from kliento.customers.models import (
    Channel,
    CompanySize,
    Consent,
    ConsentChannel,
    Gender,
    InteractionKind,
    LifecycleStage,
)

PAGE_SIZE = 50
TIMELINE_PAGE = 30


def _page(request: HttpRequest, template: str, context: dict[str, Any], partial: str = ""):
    """Render the full page, or only `partial` when htmx asks for a fragment."""
    if partial and request.htmx and not request.htmx.boosted:
        return render(request, partial, context)
    return render(request, template, context)


def _active_users():
    return list(
        User.objects.filter(is_active=True)
        .order_by("first_name", "last_name", "username")
        .only(*selectors.USER_NAME_FIELDS)
    )


# --- home and tasks -----------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    tasks, counts = _tasks_and_counts(user=request.user)
    context = {
        "section": "home",
        "tasks": tasks,
        "task_counts": counts,
        "task_total": sum(counts.values()),
        "activity": selectors.recent_activity(user=request.user, limit=15),
    }
    return render(request, "customers/home.html", context)


TASK_KINDS = [
    ("task", InteractionKind.TASK.label),
    ("call", InteractionKind.CALL.label),
    ("meeting", InteractionKind.MEETING.label),
]


TASKS_SHOWN = 50  # per group (overdue, today, upcoming); the counts say how many in all


def _tasks_and_counts(**which) -> tuple[dict, dict[str, int]]:
    """The open tasks by group, and how many each group holds in all (a count query only when
    a group was cut at TASKS_SHOWN)."""
    tasks = selectors.my_tasks(**which, limit=TASKS_SHOWN)
    counts = {group: len(items) for group, items in tasks.items()}
    if any(n == TASKS_SHOWN for n in counts.values()):
        counts = selectors.task_counts(**which)
    return tasks, counts


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    """My tasks; a head also picks their team's or one member's, admins and analysts anyone's."""
    kind = request.GET.get("kind", "")
    assignees = selectors.task_assignees(user=request.user)
    allowed = {u.pk for u in assignees}
    raw = request.GET.get("assignee", "")
    if raw == "all" and len(allowed) > 1:
        assignee, assignee_ids = "all", allowed
    elif (pk := selectors.parse_id(raw)) in allowed:
        assignee, assignee_ids = str(pk), {pk}
    else:  # no choice, or one that isn't (or is no longer) yours to make: your own
        assignee, assignee_ids = "", None
    which = {"user": request.user, "assignee_ids": assignee_ids, "kind": kind}
    tasks, counts = _tasks_and_counts(**which)
    done = selectors.tasks_done_recently(**which, limit=20)
    context = {
        "section": "tasks",
        "tasks": tasks,
        "done": done,
        "kind": kind,
        "kinds": [(k, InteractionKind(k).label) for k in forms.PLAN_KINDS],
        "task_counts": counts,
        "task_total": sum(counts.values()),
        "assignee": assignee,
        "assignees": [u for u in assignees if u.pk != request.user.pk],
        "others": assignee not in ("", str(request.user.pk)),
    }
    return _page(
        request, "customers/task_list.html", context, "customers/partials/_task_board.html"
    )


@login_required
@require_POST
@ui_errors
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    task = selectors.interaction_get_for_user(user=request.user, pk=pk, for_write=True)
    if request.POST.get("undo"):
        task = services.task_reopen(user=request.user, interaction=task)
    else:
        task = services.task_complete(user=request.user, interaction=task)
    if request.htmx:
        others = task.assignee_id != request.user.pk  # on a colleague's list: keep their name
        return render(request, "customers/partials/_task.html", {"task": task, "others": others})
    messages.success(request, _("Task completed."))
    return redirect(request.POST.get("next") or reverse("task_list"))


# --- search -------------------------------------------------------------------------------


@login_required
def search_page(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    hits = search.search(user=request.user, q=q, limit=30) if q else []
    context = {
        "search_q": q,
        "visible_hits": [h for h in hits if h.visible],
        "hidden_hits": [h for h in hits if not h.visible],
    }
    return render(request, "customers/search.html", context)


# --- lists --------------------------------------------------------------------------------

CONTACT_FILTER_KEYS = ("q", "stage", "owner_id", "city", "tag", "company_id")
COMPANY_FILTER_KEYS = ("q", "owner_id", "city", "industry", "size", "tag")


def _list_state(request: HttpRequest, entity: str, keys: tuple[str, ...]):
    """Filters, sort and cursor from the query string; `query` is what a saved view stores."""
    filters = {k: request.GET.get(k, "").strip() for k in keys if request.GET.get(k, "").strip()}
    for key, value in request.GET.items():
        if key.startswith("custom.") and value.strip():
            filters[key] = value.strip()
    sort = request.GET.get("sort", "name") or "name"
    query = urlencode(
        [(k, v) for k, v in filters.items()] + ([("sort", sort)] if sort != "name" else [])
    )
    return filters, sort, request.GET.get("cursor") or None, query


def _custom_filter_rows(entity: str, filters: dict[str, str]) -> list[dict]:
    return [
        {"field": f, "name": f"custom.{f.key}", "value": filters.get(f"custom.{f.key}", "")}
        for f in CustomField.objects.filter(entity=entity)
    ]


def _run_list(request: HttpRequest, list_fn, filters, sort, cursor, owners, columns):
    errors: dict[str, str] = {}
    notice = ""
    # The owner picker's users are most rows' owners too: no separate owner query for them.
    known = {u.pk: u for u in owners}

    def run(cursor):
        return list_fn(
            user=request.user,
            filters=filters,
            sort=sort,
            cursor=cursor,
            limit=PAGE_SIZE,
            known_users=known,
            columns=columns,
        )

    try:
        page = run(cursor)
    except BadCursorError:
        notice = _("That page link has expired; showing the first page.")
        page = run(None)
    except ValidationFailedError as exc:
        errors = forms.translate_errors(exc.fields)
        page = selectors.Page(items=[])
    return page, errors, notice


def _sort_links(sort: str, columns: list[tuple[str, str]]) -> list[dict]:
    links = []
    for key, label in columns:
        if sort == key:
            target, state = f"-{key}", "asc"
        elif sort == f"-{key}":
            target, state = key, "desc"
        else:
            target, state = key, ""
        links.append({"key": key, "label": label, "target": target, "state": state})
    return links


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    filters, sort, cursor, query = _list_state(request, "contact", CONTACT_FILTER_KEYS)
    owners = _active_users()
    page, errors, notice = _run_list(
        request,
        selectors.contact_list,
        filters,
        sort,
        cursor,
        owners,
        selectors.CONTACT_ROW_FIELDS,
    )
    context = {
        "section": "contacts",
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "notice": notice,
        "sort": sort,
        "sorts": _sort_links(
            sort,
            [
                ("name", pgettext("person", "Name")),
                ("updated", _("Updated")),
                ("created", _("Created")),
            ],
        ),
        "stages": LifecycleStage.choices,
        "owners": owners,
        "custom_filters": _custom_filter_rows("contact", filters),
        "has_filters": bool(filters),
        **saved_views_context(request.user, "contact", query),
    }
    return _page(
        request, "customers/contact_list.html", context, "customers/partials/_contact_results.html"
    )


@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    filters, sort, cursor, query = _list_state(request, "company", COMPANY_FILTER_KEYS)
    owners = _active_users()
    page, errors, notice = _run_list(
        request,
        selectors.company_list,
        filters,
        sort,
        cursor,
        owners,
        selectors.COMPANY_ROW_FIELDS,
    )
    context = {
        "section": "companies",
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "notice": notice,
        "sort": sort,
        "sorts": _sort_links(
            sort, [("name", _("Name")), ("updated", _("Updated")), ("created", _("Created"))]
        ),
        "sizes": [c for c in CompanySize.choices if c[0]],
        "owners": owners,
        "custom_filters": _custom_filter_rows("company", filters),
        "has_filters": bool(filters),
        **saved_views_context(request.user, "company", query),
    }
    return _page(
        request, "customers/company_list.html", context, "customers/partials/_company_results.html"
    )


@login_required
def company_pick(request: HttpRequest) -> HttpResponse:
    """Companies for the link picker on the contact form (visible ones, by name prefix)."""
    q = request.GET.get("company_q", "").strip()
    page = selectors.company_list(user=request.user, filters={"q": q}, limit=8) if q else None
    return render(
        request,
        "customers/partials/_company_pick.html",
        {"companies": page.items if page else [], "q": q},
    )


# --- detail pages -------------------------------------------------------------------------


def _timeline_filters(request: HttpRequest) -> dict[str, str]:
    return {
        k: request.GET.get(k, "") for k in ("kind", "channel", "user_id") if request.GET.get(k, "")
    }


def _timeline_context(request, *, contact=None, company=None) -> dict[str, Any]:
    filters = _timeline_filters(request)
    try:
        page = selectors.timeline(
            user=request.user,
            contact=contact,
            company=company,
            filters=filters,
            cursor=request.GET.get("cursor") or None,
            limit=TIMELINE_PAGE,
        )
    except (BadCursorError, ValidationFailedError):
        page = selectors.timeline(
            user=request.user, contact=contact, company=company, filters={}, limit=TIMELINE_PAGE
        )
        filters = {}
    obj = contact or company
    entity = "contact" if contact is not None else "company"
    base = reverse(f"{entity}_timeline", args=[obj.pk])
    more_url = ""
    if page.next_cursor:
        more_url = f"{base}?{urlencode({**filters, 'cursor': page.next_cursor})}"
    return {
        "timeline": page,
        "tl_filters": filters,
        "more_url": more_url,
        "timeline_url": base,
        "writable": services.interaction_writable_ids(request.user, page.items),
    }


def _history(entity: str, obj) -> list:
    """Audit rows of the record; owner changes name people rather than user ids."""
    rows = selectors.audit_for(entity=entity, object_id=obj.pk, limit=30)
    ids = {v for r in rows for v in r.changes.get("owner_id", []) if isinstance(v, int)}
    if ids:
        names = {u.pk: u.display_name for u in User.objects.filter(pk__in=ids)}
        for row in rows:
            if "owner_id" in row.changes:
                row.changes["owner_id"] = [names.get(v, v) for v in row.changes["owner_id"]]
    return rows


def _detail_context(request: HttpRequest, entity: str, obj) -> dict[str, Any]:
    kwargs = {entity: obj}
    worked = selectors.who_worked_with(**kwargs)
    fields = forms.custom_fields_for(entity)
    return {
        "obj": obj,
        "entity": entity,
        "can_edit": can_write(request.user, entity, obj),
        "may_write": scope_for(request.user).may_write,
        "custom_shown": forms.custom_display(fields, obj.custom or {}),
        "worked": worked,
        "worked_users": [w["user"] for w in worked],
        "history": _history(entity, obj),
        "kinds": InteractionKind.choices,
        "channels": Channel.choices,
        "log_kinds": list(forms.LOG_LABELS.items()),
        "plan_kinds": [(k, InteractionKind(k).label) for k in forms.PLAN_KINDS],
        "log_url": reverse(f"{entity}_log", args=[obj.pk]),
        "plan_url": reverse(f"{entity}_plan", args=[obj.pk]),
        **_shares_context(request, entity, obj),
        **_timeline_context(request, **kwargs),
        # Deals, orders, leads… contributed by other apps (core/panels.py).
        "panels": panels_for(request.user, entity, obj),
    }


@login_required
@ui_errors
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get_for_user(user=request.user, pk=pk)
    context = _detail_context(request, "contact", contact)
    links = selectors.contact_companies(user=request.user, contact=contact)
    context.update(
        {
            "section": "contacts",
            "company_links": links,
            "consents": _consent_rows(contact),
        }
    )
    return render(request, "customers/contact_detail.html", context)


@login_required
@ui_errors
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = selectors.company_get_for_user(user=request.user, pk=pk)
    context = _detail_context(request, "company", company)
    contacts = selectors.contact_list(
        user=request.user, filters={"company_id": company.pk}, limit=20
    )
    context.update({"section": "companies", "contacts_page": contacts})
    return render(request, "customers/company_detail.html", context)


def _record(request: HttpRequest, entity: str, pk: int, for_write: bool = False):
    getter = (
        selectors.contact_get_for_user if entity == "contact" else selectors.company_get_for_user
    )
    return getter(user=request.user, pk=pk, for_write=for_write)


@login_required
@ui_errors
def record_timeline(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    """The timeline fragment: a filter change replaces it, "load more" appends a page."""
    obj = _record(request, entity, pk)
    context = {"obj": obj, "entity": entity, **_timeline_context(request, **{entity: obj})}
    template = (
        "customers/partials/_timeline_page.html"
        if request.GET.get("cursor")
        else "customers/partials/_timeline.html"
    )
    return render(request, template, context)


# --- consent ------------------------------------------------------------------------------


def _consent_rows(contact) -> list[dict]:
    by_channel = {c.channel: c for c in contact.consents.all()}
    return [
        {"channel": value, "label": label, "consent": by_channel.get(value)}
        for value, label in ConsentChannel.choices
    ]


@login_required
@require_POST
@ui_errors
def consent_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get_for_user(user=request.user, pk=pk)
    channel = request.POST.get("channel", "")
    status = request.POST.get("status", "")
    if channel not in ConsentChannel.values or status not in Consent.Status.values:
        raise Http404
    services.consent_set(
        user=request.user,
        contact=contact,
        channel=channel,
        status=status,
        source=_("Changed in the web app by %(user)s") % {"user": request.user.display_name},
    )
    context = {
        "obj": contact,
        "consents": _consent_rows(contact),
        "may_write": scope_for(request.user).may_write,
    }
    if request.htmx:
        return render(request, "customers/partials/_consent.html", context)
    return redirect("contact_detail", pk=contact.pk)


# --- logging and planning interactions ----------------------------------------------------


def _interaction_target(entity: str, obj) -> dict[str, Any]:
    return {"contact_id": obj.pk} if entity == "contact" else {"company_id": obj.pk}


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def interaction_log(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    """The inline "log a call/meeting/note" form (GET) and its submission (POST)."""
    obj = _record(request, entity, pk)
    post_url = reverse(f"{entity}_log", args=[obj.pk])
    if request.method == "GET":
        kind = request.GET.get("kind", "call")
        kind = kind if kind in forms.LOG_KINDS else "call"
        return render(
            request,
            "customers/partials/_log_form.html",
            {
                "obj": obj,
                "values": forms.log_defaults(kind),
                "errors": {},
                "post_url": post_url,
                "kind_label": forms.LOG_LABELS[kind],
            },
        )
    data = {**forms.log_data_from_post(request.POST), **_interaction_target(entity, obj)}
    try:
        services.interaction_create(user=request.user, data=data)
    except ValidationFailedError as exc:
        values = {**forms.log_defaults(data["kind"] or "call"), **request.POST.dict()}
        kind = data["kind"] if data["kind"] in forms.LOG_LABELS else "call"
        return render(
            request,
            "customers/partials/_log_form.html",
            {
                "obj": obj,
                "values": values,
                "errors": forms.interaction_errors(exc.fields),
                "post_url": post_url,
                "kind_label": forms.LOG_LABELS[kind],
            },
        )
    return _after_interaction(request, entity, obj)


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def interaction_plan(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    """The inline "plan a task/call/meeting" form and its submission."""
    obj = _record(request, entity, pk)
    post_url = reverse(f"{entity}_plan", args=[obj.pk])
    context = {
        "obj": obj,
        "post_url": post_url,
        "users": _active_users(),
        "plan_kinds": [(k, InteractionKind(k).label) for k in forms.PLAN_KINDS],
    }
    if request.method == "GET":
        kind = request.GET.get("kind", "task")
        kind = kind if kind in forms.PLAN_KINDS else "task"
        return render(
            request,
            "customers/partials/_plan_form.html",
            {**context, "values": forms.plan_defaults(kind, request.user.pk), "errors": {}},
        )
    data = {**forms.plan_data_from_post(request.POST), **_interaction_target(entity, obj)}
    try:
        services.interaction_create(user=request.user, data=data)
    except ValidationFailedError as exc:
        return render(
            request,
            "customers/partials/_plan_form.html",
            {
                **context,
                "values": request.POST.dict(),
                "errors": forms.interaction_errors(exc.fields),
            },
        )
    return _after_interaction(request, entity, obj)


def _after_interaction(request: HttpRequest, entity: str, obj) -> HttpResponse:
    if request.htmx:
        # The form closes; the timeline (and "who worked with") reload themselves.
        response = HttpResponse("")
        response["HX-Trigger"] = "timeline-changed"
        return response
    messages.success(request, _("Saved to the timeline."))
    return redirect(f"{entity}_detail", pk=obj.pk)


@login_required
@ui_errors
def worked_with(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    obj = _record(request, entity, pk)
    return render(
        request,
        "customers/partials/_worked_with.html",
        {"worked": selectors.who_worked_with(**{entity: obj}), "obj": obj, "entity": entity},
    )


# --- create and edit ----------------------------------------------------------------------


def _form_context(request: HttpRequest, entity: str, obj, values, errors, fields) -> dict:
    context = {
        "section": "contacts" if entity == "contact" else "companies",
        "obj": obj,
        "entity": entity,
        "values": values,
        "errors": errors,
        "email_rows": forms.multi_rows(values.get("emails") or [""], "emails", errors),
        "phone_rows": forms.multi_rows(values.get("phones") or [""], "phones", errors),
        "custom_rows": forms.custom_rows(fields, values.get("custom") or {}, errors),
        "owners": _active_users(),
        "stages": LifecycleStage.choices,
        "genders": Gender.choices,
        "channels": ConsentChannel.choices,
        "sizes": CompanySize.choices,
        "social_networks": list(forms.SOCIAL_LABELS.items()),
        "version": request.POST.get("version") or (obj.version if obj else ""),
        "conflict": False,
    }
    return context


def _edit(request: HttpRequest, entity: str, pk: int | None) -> HttpResponse:
    fields = forms.custom_fields_for(entity)
    obj = _record(request, entity, pk, for_write=True) if pk else None
    is_contact = entity == "contact"
    if request.method == "GET":
        values = forms.contact_form_values(obj) if is_contact else forms.company_form_values(obj)
        return render(
            request,
            f"customers/{entity}_form.html",
            _form_context(request, entity, obj, values, {}, fields),
        )
    data = (
        forms.contact_data_from_post(request.POST, fields)
        if is_contact
        else forms.company_data_from_post(request.POST, fields)
    )
    if is_contact and obj is not None:
        # Profiles on networks the form doesn't show are kept as they are.
        kept = {k: v for k, v in (obj.social or {}).items() if k not in forms.SOCIAL_NETWORKS}
        data["social"] = {**kept, **data["social"]}
    errors: dict[str, str] = {}
    conflict = False
    duplicates: list[dict] = []
    try:
        if obj is None:
            create = services.contact_create if is_contact else services.company_create
            confirmed = request.POST.get("confirm_duplicate") == "1"
            obj = create(user=request.user, data=data, check_duplicates=not confirmed)
            messages.success(request, _("Created."))
        else:
            try:
                expected = int(request.POST.get("version", ""))
            except ValueError:
                expected = None
            if is_contact:
                obj = services.contact_update(
                    user=request.user, contact=obj, data=data, expected_version=expected
                )
            else:
                obj = services.company_update(
                    user=request.user, company=obj, data=data, expected_version=expected
                )
            messages.success(request, _("Changes saved."))
    except ValidationFailedError as exc:
        errors = forms.translate_errors(exc.fields)
    except StaleVersionError:
        conflict = True
    except services.DuplicateCandidatesError as exc:
        duplicates = exc.candidates
    if not errors and not conflict and not duplicates:
        return redirect(f"{entity}_detail", pk=obj.pk)
    values = (
        forms.contact_values_from_post(request.POST, fields)
        if is_contact
        else forms.company_values_from_post(request.POST, fields)
    )
    context = _form_context(request, entity, obj, values, errors, fields)
    context["conflict"] = conflict
    context["duplicates"] = _duplicate_rows(entity, duplicates)
    if obj is not None and conflict:
        context["current_version"] = obj.version
    status = 409 if conflict or duplicates else 422
    return render(request, f"customers/{entity}_form.html", context, status=status)


def _duplicate_rows(entity: str, candidates: list[dict]) -> list[dict]:
    if not candidates:
        return []
    from kliento.dataio.dedup.candidates import candidate_rows

    return candidate_rows(entity, candidates)


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def contact_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, "contact", None)


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, "contact", pk)


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def company_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, "company", None)


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, "company", pk)


# --- delete -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def record_delete(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    """The "delete this record?" page (GET) and the deletion (POST).

    The version comes from the detail page the user looked at, so a change made since then
    stops the deletion instead of deleting something they haven't seen.
    """
    obj = _record(request, entity, pk, for_write=True)
    version = request.POST.get("version") or request.GET.get("version") or obj.version
    context = {
        "section": "contacts" if entity == "contact" else "companies",
        "obj": obj,
        "entity": entity,
        "version": version,
        "conflict": "",
    }
    if request.method == "GET":
        return render(request, "customers/record_delete.html", context)
    try:
        expected = int(version)
    except (TypeError, ValueError):
        expected = None
    try:
        if entity == "contact":
            services.contact_delete(user=request.user, contact=obj, expected_version=expected)
        else:
            services.company_delete(user=request.user, company=obj, expected_version=expected)
    except (StaleVersionError, ConflictError) as exc:
        # Stale: confirm again against what is there now. Still referenced: nothing to confirm.
        blocked = not isinstance(exc, StaleVersionError)
        context.update({"conflict": exc.message, "version": obj.version, "blocked": blocked})
        return render(request, "customers/record_delete.html", context, status=409)
    name = obj.full_name if entity == "contact" else obj.name
    messages.success(request, _("%(name)s is deleted.") % {"name": name})
    return redirect(f"{entity}_list")


# --- sharing ------------------------------------------------------------------------------


def _shares_context(request: HttpRequest, entity: str, obj, errors=None) -> dict[str, Any]:
    can_share = can_write(request.user, entity, obj)
    return {
        "shares": selectors.record_shares(entity=entity, obj=obj),
        "can_share": can_share,
        "share_candidates": (
            selectors.share_candidates(entity=entity, obj=obj) if can_share else []
        ),
        "shares_url": reverse(f"{entity}_shares", args=[obj.pk]),
        "share_errors": errors or {},
    }


def _render_shares(request: HttpRequest, entity: str, obj, errors=None) -> HttpResponse:
    context = {"obj": obj, "entity": entity, **_shares_context(request, entity, obj, errors)}
    return render(request, "customers/partials/_shares.html", context)


def _share_target(request: HttpRequest) -> User | None:
    user_id = selectors.parse_id(request.POST.get("user_id"))
    if user_id is None:
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def record_shares(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    """The "Shared with" box (GET) and sharing the record with one more user (POST)."""
    obj = _record(request, entity, pk)
    if request.method == "GET":
        return _render_shares(request, entity, obj)
    target = _share_target(request)
    errors: dict[str, str] = {}
    if target is None:
        errors["user_id"] = _("Choose a user to share with.")
    else:
        try:
            services.record_share(
                user=request.user,
                entity=entity,
                obj=obj,
                target=target,
                can_edit=bool(request.POST.get("can_edit")),
            )
        except ValidationFailedError as exc:
            errors = forms.translate_errors(exc.fields)
    if request.htmx:
        return _render_shares(request, entity, obj, errors)
    if errors:
        messages.error(request, next(iter(errors.values())))
    return redirect(f"{entity}_detail", pk=obj.pk)


@login_required
@require_POST
@ui_errors
def record_unshare(request: HttpRequest, entity: str, pk: int, user_id: int) -> HttpResponse:
    obj = _record(request, entity, pk)
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        raise Http404
    services.record_unshare(user=request.user, entity=entity, obj=obj, target=target)
    if request.htmx:
        return _render_shares(request, entity, obj)
    return redirect(f"{entity}_detail", pk=obj.pk)


# --- editing and deleting timeline entries ------------------------------------------------


def _item_response(request: HttpRequest, interaction, **extra) -> HttpResponse:
    """One timeline item, as the timeline shows it to this user."""
    context = {
        "i": interaction,
        "entity": request.GET.get("entity") or request.POST.get("entity") or "contact",
        "writable": services.interaction_writable_ids(request.user, [interaction]),
        **extra,
    }
    return render(request, "customers/partials/_timeline_item.html", context)


def _interaction_detail_url(interaction) -> str:
    if interaction.contact_id:
        return reverse("contact_detail", args=[interaction.contact_id])
    return reverse("company_detail", args=[interaction.company_id])


def _version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


@login_required
@ui_errors
def interaction_item(request: HttpRequest, pk: int) -> HttpResponse:
    """A timeline item as shown: "Cancel" on its edit form or delete question puts it back."""
    return _item_response(request, selectors.interaction_get_for_user(user=request.user, pk=pk))


def _edit_form(request, interaction, values, errors, conflict="") -> HttpResponse:
    context = {
        "i": interaction,
        "entity": request.GET.get("entity") or request.POST.get("entity") or "contact",
        "values": values,
        "errors": errors,
        "conflict": conflict,
        "users": _active_users() if interaction.planned else [],
    }
    return render(request, "customers/partials/_interaction_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def interaction_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The inline edit form of a timeline item (GET) and its submission (POST).

    Errors come back as 200 with the form: htmx swaps only successful responses.
    """
    interaction = selectors.interaction_get_for_user(user=request.user, pk=pk, for_write=True)
    if request.method == "GET":
        return _edit_form(request, interaction, forms.interaction_edit_values(interaction), {})
    data = forms.interaction_edit_data_from_post(request.POST, interaction)
    try:
        interaction = services.interaction_update(
            user=request.user,
            interaction=interaction,
            data=data,
            expected_version=_version(request),
        )
    except ValidationFailedError as exc:
        values = {**forms.interaction_edit_values(interaction), **request.POST.dict()}
        return _edit_form(request, interaction, values, forms.interaction_errors(exc.fields))
    except StaleVersionError as exc:
        # Show what is there now; the user re-applies their change to it.
        interaction.refresh_from_db()
        values = forms.interaction_edit_values(interaction)
        return _edit_form(request, interaction, values, {}, conflict=exc.message)
    if not request.htmx:
        messages.success(request, _("Changes saved."))
        return redirect(_interaction_detail_url(interaction))
    # The item updates in place; the timeline re-sorts itself in case the time changed.
    response = _item_response(request, interaction)
    response["HX-Trigger"] = "timeline-changed"
    return response


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def interaction_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """The inline "delete this entry?" question (GET) and the deletion (POST)."""
    interaction = selectors.interaction_get_for_user(user=request.user, pk=pk, for_write=True)
    if request.method == "GET":
        return _item_response(request, interaction, confirm_delete=True)
    detail_url = _interaction_detail_url(interaction)
    try:
        services.interaction_delete(
            user=request.user, interaction=interaction, expected_version=_version(request)
        )
    except StaleVersionError as exc:
        interaction.refresh_from_db()
        return _item_response(request, interaction, item_error=exc.message)
    if not request.htmx:
        messages.success(request, _("Deleted from the timeline."))
        return redirect(detail_url)
    response = HttpResponse("")
    response["HX-Trigger"] = "timeline-changed"
    return response
