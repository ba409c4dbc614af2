"""Web UI of leads: the list (with distribution), the form, the detail page with its
timeline and the convert/disqualify actions, the public web-form endpoint, and the admin
settings for web forms, assignment rules and scoring rules."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from kliento.core.errors import (
    BadCursorError,
    ConflictError,
    NotFoundError,
    StaleVersionError,
    ValidationFailedError,
)
from kliento.core.models import Team, User
from kliento.core.permissions import can_write, scope_for
from kliento.core.settings_views import admin_required
from kliento.core.views import ui_errors
from kliento.customers.forms import translate_errors
from kliento.customers.models import Channel, InteractionKind
from kliento.customers.selectors import Page
from kliento.sales.leads import forms, scoring, selectors, services, settings_services
from kliento.sales.leads.models import (
    AssignmentRule,
    DisqualifyReason,
    LeadSource,
    LeadStatus,
    ScoringRule,
    WebForm,
)
from kliento.sales.leads.templatetags.leads_ui import lead_field_label

PAGE_SIZE = 50
FILTER_KEYS = ("q", "status", "owner_id", "source", "campaign", "web_form_id")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _active_users() -> list[User]:
    return list(User.objects.filter(is_active=True).order_by("first_name", "last_name", "username"))


def _sort_links(sort: str) -> dict[str, dict]:
    links = []
    for key, label in (
        ("name", pgettext("lead", "Name")),
        ("score", _("Score")),
        ("created", pgettext("lead", "Created")),
    ):
        if sort == key:
            target, state = f"-{key}", "desc" if key != "name" else "asc"
        elif sort == f"-{key}":
            target, state = key, "asc" if key != "name" else "desc"
        else:
            target, state = key, ""
        links.append({"key": key, "label": label, "target": target, "state": state})
    return {link["key"]: link for link in links}


# --- list and distribution ------------------------------------------------------------------


def _list_context(request: HttpRequest) -> dict[str, Any]:
    filters = {
        k: request.GET.get(k, "").strip() for k in FILTER_KEYS if request.GET.get(k, "").strip()
    }
    # Newest first: the inquiries that came in today are the ones to work on.
    sort = request.GET.get("sort") or "created"
    cursor = request.GET.get("cursor") or None
    errors: dict[str, str] = {}
    notice = ""
    try:
        page = selectors.lead_list(
            user=request.user, filters=filters, sort=sort, cursor=cursor, limit=PAGE_SIZE
        )
    except BadCursorError:
        notice = _("That page link has expired; showing the first page.")
        page = selectors.lead_list(user=request.user, filters=filters, sort=sort, limit=PAGE_SIZE)
    except ValidationFailedError as exc:
        errors = translate_errors(exc.fields)
        page = Page(items=[])
    distribute = selectors.can_distribute(request.user)
    return {
        "section": "leads",
        "page": page,
        "filters": filters,
        "filter_errors": errors,
        "notice": notice,
        "sort": sort,
        "sorts": _sort_links(sort),
        "statuses": [("open", pgettext("lead status", "Open")), *LeadStatus.choices],
        "sources": LeadSource.choices,
        "owners": _active_users(),
        "campaigns": selectors.lead_campaigns(request.user),
        "has_filters": bool(filters),
        "can_distribute": distribute,
        "targets": selectors.distribution_targets(request.user) if distribute else [],
        "may_write": scope_for(request.user).may_write,
    }


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    context = _list_context(request)
    if request.htmx and not request.htmx.boosted:
        return render(request, "leads/partials/_lead_results.html", context)
    return render(request, "leads/lead_list.html", context)


@login_required
@require_POST
@ui_errors
def lead_distribute(request: HttpRequest) -> HttpResponse:
    back = reverse("lead_list") + ("?" + request.POST["back"] if request.POST.get("back") else "")
    try:
        counts = services.lead_distribute(
            user=request.user,
            lead_ids=request.POST.getlist("lead_ids"),
            user_ids=request.POST.getlist("user_ids"),
        )
    except ValidationFailedError as exc:
        for message in exc.fields.values():
            messages.error(request, message)
        return redirect(back)
    names = {u.pk: u.display_name for u in User.objects.filter(pk__in=counts)}
    summary = ", ".join(f"{names[uid]}: {n}" for uid, n in counts.items())
    messages.success(
        request,
        _("%(count)s leads distributed — %(summary)s.")
        % {"count": sum(counts.values()), "summary": summary},
    )
    return redirect(back)


# --- create and edit ------------------------------------------------------------------------


def _form_page(request, *, lead, values, errors, conflict=False, status=200) -> HttpResponse:
    context = {
        "section": "leads",
        "obj": lead,
        "values": values,
        "errors": errors,
        "conflict": conflict,
        "owners": _active_users(),
        "statuses": [(s, label) for s, label in LeadStatus.choices if s in services.OPEN_STATUSES],
        "sources": LeadSource.choices,
        "channels": Channel.choices,
    }
    return render(request, "leads/lead_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def lead_create(request: HttpRequest) -> HttpResponse:
    if not scope_for(request.user).may_write:
        raise Http404
    if request.method == "GET":
        values = {
            "owner_id": str(request.user.pk),
            "status": "new",
            "source": "manual",
            "channel": "phone",
        }
        return _form_page(request, lead=None, values=values, errors={})
    data = forms.lead_data_from_post(request.POST)
    try:
        intake = services.lead_create(user=request.user, data=data)
    except ValidationFailedError as exc:
        return _form_page(
            request,
            lead=None,
            values=request.POST.dict(),
            errors=translate_errors(exc.fields),
            status=422,
        )
    if intake.created:
        messages.success(request, _("Lead created."))
        return redirect("lead_detail", pk=intake.lead.pk)
    return _after_duplicate(request, intake)


def _after_duplicate(request: HttpRequest, intake) -> HttpResponse:
    if intake.duplicate_of == "contact":
        contact = intake.contact
        messages.info(
            request,
            _(
                "%(name)s is already a contact (owner: %(owner)s). The inquiry was added to "
                "their timeline and the owner was told."
            )
            % {"name": contact.full_name, "owner": contact.owner.display_name},
        )
        from kliento.core.permissions import can_read

        if can_read(request.user, "contact", contact):
            return redirect("contact_detail", pk=contact.pk)
        return redirect("lead_list")
    lead = intake.lead
    messages.info(
        request,
        _(
            "There is already an open lead with this email or phone (owner: %(owner)s). The "
            "inquiry was added to it and the owner was told."
        )
        % {"owner": lead.owner.display_name},
    )
    from kliento.core.permissions import can_read

    if can_read(request.user, "lead", lead):
        return redirect("lead_detail", pk=lead.pk)
    return redirect("lead_list")


@login_required
@require_http_methods(["GET", "POST"])
@ui_errors
def lead_edit(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(user=request.user, pk=pk, for_write=True)
    if request.method == "GET":
        values = forms.lead_values(lead)
        values["version"] = lead.version
        return _form_page(request, lead=lead, values=values, errors={})
    data = forms.lead_data_from_post(request.POST)
    version = _int(request.POST.get("version")) or None
    try:
        services.lead_update(user=request.user, lead=lead, data=data, expected_version=version)
    except StaleVersionError:
        values = {**request.POST.dict(), "version": lead.version}
        return _form_page(request, lead=lead, values=values, errors={}, conflict=True, status=412)
    except ValidationFailedError as exc:
        return _form_page(
            request,
            lead=lead,
            values=request.POST.dict(),
            errors=translate_errors(exc.fields),
            status=422,
        )
    except ConflictError as exc:
        messages.error(request, exc.message)
        return redirect("lead_detail", pk=lead.pk)
    messages.success(request, _("Lead saved."))
    return redirect("lead_detail", pk=lead.pk)


@login_required
@require_POST
@ui_errors
def lead_delete(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(user=request.user, pk=pk, for_write=True)
    services.lead_delete(user=request.user, lead=lead)
    messages.success(request, _("Lead deleted."))
    return redirect("lead_list")


# --- detail, timeline, actions -------------------------------------------------------------


def _detail_context(request: HttpRequest, lead, **extra) -> dict[str, Any]:
    from kliento.customers.selectors import audit_for

    rows = scoring.score_breakdown(lead=lead)
    context = {
        "section": "leads",
        "obj": lead,
        "can_edit": can_write(request.user, "lead", lead),
        "timeline": selectors.lead_timeline(lead=lead),
        "score_rows": rows,
        "score_total": sum(r["points"] for r in rows),
        "reasons": DisqualifyReason.choices,
        "log_kinds": [
            ("call", _("Log call")),
            ("email", _("Log email")),
            ("meeting", _("Log meeting")),
            ("note", _("Add note")),
        ],
        "history": audit_for(entity="lead", object_id=lead.pk, limit=20),
        "utm": [
            (f, getattr(lead, f))
            for f in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
            if getattr(lead, f)
        ],
        "log_errors": {},
        "log_values": {},
        "convert_errors": {},
        "disqualify_errors": {},
        **extra,
    }
    if context["can_edit"] and lead.is_open:
        from kliento.sales.deals.models import Pipeline

        context["pipelines"] = list(Pipeline.objects.filter(active=True).order_by("position", "id"))
    return context


@login_required
@ui_errors
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(user=request.user, pk=pk)
    return render(request, "leads/lead_detail.html", _detail_context(request, lead))


@login_required
@require_POST
@ui_errors
def lead_log(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(user=request.user, pk=pk, for_write=True)
    data = {k: request.POST.get(k, "") for k in ("kind", "subject", "body", "outcome")}
    try:
        services.lead_log(user=request.user, lead=lead, data=data)
    except ValidationFailedError as exc:
        lead = selectors.lead_get_for_user(user=request.user, pk=pk)
        context = _detail_context(
            request, lead, log_errors=translate_errors(exc.fields), log_values=data
        )
        template = (
            "leads/partials/_lead_timeline.html" if request.htmx else "leads/lead_detail.html"
        )
        return render(request, template, context, status=422)
    if request.htmx:
        lead = selectors.lead_get_for_user(user=request.user, pk=pk)
        context = _detail_context(request, lead, oob=True)
        return render(request, "leads/partials/_lead_timeline.html", context)
    messages.success(request, _("Saved to the timeline."))
    return redirect("lead_detail", pk=lead.pk)


@login_required
@require_POST
@ui_errors
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(user=request.user, pk=pk, for_write=True)
    data = {
        "create_deal": bool(request.POST.get("create_deal")),
        "deal_name": request.POST.get("deal_name", ""),
        "pipeline": request.POST.get("pipeline") or None,
        "amount": request.POST.get("amount", "").replace(" ", "").replace(",", ".") or None,
    }
    if not data["create_deal"]:
        data = {"create_deal": False}
    version = _int(request.POST.get("version")) or None
    try:
        result = services.lead_convert(
            user=request.user, lead=lead, data=data, expected_version=version
        )
    except (ValidationFailedError, StaleVersionError, ConflictError) as exc:
        errors = translate_errors(exc.fields) if exc.fields else {"form": exc.message}
        context = _detail_context(
            request,
            lead,
            convert_errors=errors,
            convert_values=request.POST.dict(),
            open_panel="convert",
        )
        return render(request, "leads/lead_detail.html", context, status=exc.status)
    messages.success(
        request,
        _("Converted: %(contact)s is now a contact.") % {"contact": result.contact.full_name}
        + (" " + _("Deal “%(deal)s” created.") % {"deal": result.deal.name} if result.deal else ""),
    )
    return redirect("lead_detail", pk=lead.pk)


@login_required
@require_POST
@ui_errors
def lead_disqualify(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(user=request.user, pk=pk, for_write=True)
    version = _int(request.POST.get("version")) or None
    try:
        services.lead_disqualify(
            user=request.user,
            lead=lead,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
            expected_version=version,
        )
    except (ValidationFailedError, StaleVersionError, ConflictError) as exc:
        errors = translate_errors(exc.fields) if exc.fields else {"form": exc.message}
        context = _detail_context(
            request,
            lead,
            disqualify_errors=errors,
            disqualify_values=request.POST.dict(),
            open_panel="disqualify",
        )
        return render(request, "leads/lead_detail.html", context, status=exc.status)
    messages.success(request, _("Lead disqualified."))
    return redirect("lead_detail", pk=lead.pk)


@login_required
@require_POST
@ui_errors
def lead_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get_for_user(user=request.user, pk=pk, for_write=True)
    try:
        services.lead_reopen(user=request.user, lead=lead)
    except ConflictError as exc:
        messages.error(request, exc.message)
    return redirect("lead_detail", pk=lead.pk)


# --- the public web form -------------------------------------------------------------------


@csrf_exempt
@require_POST
def web_form_submit(request: HttpRequest, key: str) -> HttpResponse:
    """Where the embedded HTML form posts: no login, no CSRF token (it lives on another site)."""
    try:
        form = selectors.web_form_by_key(key)
    except NotFoundError:
        return render(request, "leads/form_missing.html", status=404)
    data = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    try:
        services.lead_capture(web_form=form, data=data, ip=request.META.get("REMOTE_ADDR", ""))
    except services.CaptureThrottledError as exc:
        return render(
            request, "leads/form_result.html", {"form": form, "error": exc.message}, status=429
        )
    except ValidationFailedError as exc:
        labels = forms.field_labels()
        errors = [(labels.get(k, k), translate_errors({k: v})[k]) for k, v in exc.fields.items()]
        return render(
            request, "leads/form_result.html", {"form": form, "errors": errors}, status=422
        )
    if form.redirect_url:
        return HttpResponseRedirect(form.redirect_url)
    return render(request, "leads/form_result.html", {"form": form, "ok": True})


# --- settings: web forms -------------------------------------------------------------------


def _settings(request, template: str, area: str, context: dict, status: int = 200):
    return render(
        request,
        template,
        {"section": "settings", "settings_area": area, "is_admin": True, **context},
        status=status,
    )


@admin_required
def settings_web_forms(request: HttpRequest) -> HttpResponse:
    return _settings(
        request, "leads/settings/web_forms.html", "web_forms", {"forms": selectors.web_form_list()}
    )


def _web_form_page(request, form, values, errors, status=200) -> HttpResponse:
    base = request.build_absolute_uri("/").rstrip("/")
    return _settings(
        request,
        "leads/settings/web_form_form.html",
        "web_forms",
        {
            "form": form,
            "values": values,
            "errors": errors,
            "field_choices": list(forms.field_labels().items()),
            "channels": Channel.choices,
            "owners": _active_users(),
            "snippet": forms.embed_snippet(form, base) if form else "",
            "api_url": f"{base}/api/v1/forms/{form.key}/submit" if form else "",
        },
        status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def settings_web_form_create(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        values = {
            "fields": ["first_name", "email", "phone", "message"],
            "channel": "web",
            "active": True,
        }
        return _web_form_page(request, None, values, {})
    data = forms.web_form_data_from_post(request.POST)
    try:
        form = settings_services.web_form_create(user=request.user, data=data)
    except ValidationFailedError as exc:
        return _web_form_page(request, None, data, translate_errors(exc.fields), 422)
    messages.success(request, _("Web form created. Copy the snippet below into your site."))
    return redirect("settings_web_form_edit", pk=form.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def settings_web_form_edit(request: HttpRequest, pk: int) -> HttpResponse:
    form = WebForm.objects.filter(pk=pk).first()
    if form is None:
        raise Http404
    if request.method == "GET":
        values = {
            f: getattr(form, f)
            for f in (
                "name",
                "fields",
                "campaign",
                "channel",
                "success_message",
                "redirect_url",
                "active",
            )
        }
        values["default_owner_id"] = form.default_owner_id
        return _web_form_page(request, form, values, {})
    if request.POST.get("action") == "new_key":
        settings_services.web_form_new_key(user=request.user, form=form)
        messages.success(request, _("The form has a new key: update the snippet on your site."))
        return redirect("settings_web_form_edit", pk=form.pk)
    if request.POST.get("action") == "delete":
        settings_services.web_form_delete(user=request.user, form=form)
        messages.success(request, _("Web form deleted."))
        return redirect("settings_web_forms")
    data = forms.web_form_data_from_post(request.POST)
    try:
        settings_services.web_form_update(user=request.user, form=form, data=data)
    except ValidationFailedError as exc:
        return _web_form_page(request, form, data, translate_errors(exc.fields), 422)
    messages.success(request, _("Web form saved."))
    return redirect("settings_web_form_edit", pk=form.pk)


# --- settings: assignment and scoring rules ------------------------------------------------


def _rules_page(request, *, editing=None, values=None, errors=None, status=200) -> HttpResponse:
    rules = selectors.assignment_rule_list()
    if values is None:
        values = _rule_values(editing) if editing else {"kind": "round_robin", "active": True}
    return _settings(
        request,
        "leads/settings/assignment_rules.html",
        "assignment_rules",
        {
            "rules": rules,
            "editing": editing,
            "values": values,
            "errors": errors or {},
            "kinds": AssignmentRule.Kind.choices,
            "teams": list(Team.objects.order_by("path")),
            "users": _active_users(),
            "web_forms": list(WebForm.objects.order_by("name")),
            "sources": LeadSource.choices,
            "loads": selectors.open_lead_counts(u.pk for u in _active_users()),
        },
        status,
    )


def _rule_values(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "active": rule.active,
        "regions": ", ".join(rule.regions),
        "cities": ", ".join(rule.cities),
        "sources": rule.sources,
        "web_form_id": str(rule.web_form_id or ""),
        "team_id": str(rule.team_id or ""),
        "user_id": str(rule.user_id or ""),
    }


def _rule_being_edited(request: HttpRequest, model):
    """The rule named by ?edit= (or the posted rule_id), None for a new one; 404 if unknown."""
    edit_id = request.GET.get("edit") or request.POST.get("rule_id")
    if not edit_id:
        return None
    rule = model.objects.filter(pk=_int(edit_id)).first()
    if rule is None:
        raise Http404
    return rule


@admin_required
@require_http_methods(["GET", "POST"])
def settings_assignment_rules(request: HttpRequest) -> HttpResponse:
    editing = _rule_being_edited(request, AssignmentRule)
    if request.method == "GET":
        return _rules_page(request, editing=editing)
    action = request.POST.get("action", "save")
    if editing is not None and action in {"up", "down"}:
        settings_services.assignment_rule_move(
            user=request.user, rule=editing, offset=-1 if action == "up" else 1
        )
        return redirect("settings_assignment_rules")
    if editing is not None and action == "delete":
        settings_services.assignment_rule_delete(user=request.user, rule=editing)
        messages.success(request, _("Rule deleted."))
        return redirect("settings_assignment_rules")
    data = forms.rule_data_from_post(request.POST)
    try:
        if editing is None:
            settings_services.assignment_rule_create(user=request.user, data=data)
        else:
            settings_services.assignment_rule_update(user=request.user, rule=editing, data=data)
    except ValidationFailedError as exc:
        values = {**request.POST.dict(), "sources": data["sources"], "active": data["active"]}
        return _rules_page(
            request,
            editing=editing,
            values=values,
            errors=translate_errors(exc.fields),
            status=422,
        )
    messages.success(request, _("Rule saved."))
    return redirect("settings_assignment_rules")


def _scoring_page(request, *, editing=None, values=None, errors=None, status=200) -> HttpResponse:
    if values is None:
        values = (
            {
                f: getattr(editing, f)
                for f in ("name", "kind", "field", "value", "points", "active", "position")
            }
            if editing
            else {"kind": "field_filled", "points": 10, "active": True, "position": 0}
        )
    return _settings(
        request,
        "leads/settings/scoring_rules.html",
        "scoring_rules",
        {
            "rules": selectors.scoring_rule_list(),
            "editing": editing,
            "values": values,
            "errors": errors or {},
            "kinds": ScoringRule.Kind.choices,
            "fields": [(f, lead_field_label(f)) for f in services.SCORE_FIELDS],
            "sources": LeadSource.choices,
            "interaction_kinds": InteractionKind.choices,
        },
        status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def settings_scoring_rules(request: HttpRequest) -> HttpResponse:
    editing = _rule_being_edited(request, ScoringRule)
    if request.method == "GET":
        return _scoring_page(request, editing=editing)
    if editing is not None and request.POST.get("action") == "delete":
        settings_services.scoring_rule_delete(user=request.user, rule=editing)
        messages.success(request, _("Rule deleted; open leads are rescored."))
        return redirect("settings_scoring_rules")
    data = forms.scoring_data_from_post(request.POST)
    try:
        if editing is None:
            settings_services.scoring_rule_create(user=request.user, data=data)
        else:
            settings_services.scoring_rule_update(user=request.user, rule=editing, data=data)
    except ValidationFailedError as exc:
        values = {**request.POST.dict(), "active": data["active"]}
        return _scoring_page(
            request,
            editing=editing,
            values=values,
            errors=translate_errors(exc.fields),
            status=422,
        )
    messages.success(request, _("Rule saved; open leads are rescored."))
    return redirect("settings_scoring_rules")
