"""/api/v1 endpoints for leads, web forms, assignment and scoring rules, and the public
web-form submission.

Handlers parse input, pass the visibility gate (hidden → 404, visible but read-only → 403),
call one selector or service, and serialise. A new lead that matches a known contact or open
lead is not created: POST /leads answers 200 with what the inquiry was attached to.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from kliento.api import error_response, expected_version, not_modified
from kliento.core.errors import (
    BadRequestError,
    KlientoError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from kliento.core.permissions import is_admin
from kliento.core.schemas import Cursor, ErrorOut, Id
from kliento.sales.leads import scoring, selectors, services, settings_services
from kliento.sales.leads.models import AssignmentRule, ScoringRule, WebForm
from kliento.sales.leads.schemas import (
    AssignmentRuleIn,
    AssignmentRuleOut,
    AssignmentRulePatch,
    ConvertIn,
    ConvertOut,
    DisqualifyIn,
    DistributeIn,
    DistributeOut,
    DuplicateOut,
    LeadFilter,
    LeadIn,
    LeadInteractionOut,
    LeadLogIn,
    LeadOut,
    LeadPage,
    LeadPatch,
    ScoreOut,
    ScoringRuleIn,
    ScoringRuleOut,
    ScoringRulePatch,
    SubmitOut,
    WebFormIn,
    WebFormOut,
    WebFormPatch,
)

router = Router(tags=["leads"])

ERRORS = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    412: ErrorOut,
    422: ErrorOut,
}
PAGING = {"cursor", "limit"}


def _written(response: HttpResponse, lead, status: int = 200):
    response["ETag"] = lead.etag
    return Status(status, lead)


def _admin(request: HttpRequest) -> None:
    if not is_admin(request.auth):
        raise PermissionDeniedError(_("Only an administrator can do this."))


def _check_filters(request: HttpRequest) -> None:
    known = set(LeadFilter.model_fields) | PAGING
    unknown = {k: _("Unknown filter.") for k in request.GET if k not in known}
    if unknown:
        raise ValidationFailedError(_("Invalid filters."), fields=unknown)


# --- leads -------------------------------------------------------------------------------------


@router.get("/leads", response={200: LeadPage, **ERRORS})
def lead_list(request: HttpRequest, filters: Query[LeadFilter], page: Query[Cursor]):
    """Leads you can see: yours as a rep, your team's as a head, all as an administrator."""
    _check_filters(request)
    data = filters.model_dump(exclude_none=True, exclude={"sort"})
    return selectors.lead_list(
        user=request.auth,
        filters={k: str(v) for k, v in data.items()},
        sort=filters.sort,
        cursor=page.cursor,
        limit=page.limit,
    )


@router.post("/leads", response={201: LeadOut, 200: DuplicateOut, **ERRORS})
def lead_create(request: HttpRequest, response: HttpResponse, payload: LeadIn):
    """A new lead (source api unless given). If its email or phone belongs to a contact or an
    open lead, no lead is created: the inquiry joins that record's timeline, its owner gets a
    task and an email, and the answer is 200 with `duplicate_of`."""
    data = payload.model_dump(exclude_unset=True)
    data.setdefault("source", "api")
    intake = services.lead_create(user=request.auth, data=data)
    if intake.created:
        response["Location"] = f"{request.path.rstrip('/')}/{intake.lead.pk}"
        return _written(response, intake.lead, 201)
    target = intake.contact if intake.duplicate_of == "contact" else intake.lead
    return Status(
        200,
        {
            "duplicate_of": intake.duplicate_of,
            "id": target.pk,
            "interaction_id": intake.interaction.pk,
            "message": _("Already known: the inquiry was added to their timeline."),
        },
    )


@router.post("/leads/distribute", response={200: DistributeOut, **ERRORS})
def lead_distribute(request: HttpRequest, payload: DistributeIn):
    """Share leads out among reps evenly, in turn (heads within their team, administrators)."""
    counts = services.lead_distribute(
        user=request.auth, lead_ids=payload.lead_ids, user_ids=payload.user_ids
    )
    return {"assigned": [{"user_id": uid, "count": n} for uid, n in counts.items()]}


@router.get("/leads/{id}", response={200: LeadOut, **ERRORS})
def lead_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    lead = selectors.lead_get_for_user(user=request.auth, pk=id)
    cached = not_modified(request, lead)
    if cached is not None:
        return cached
    response["ETag"] = lead.etag
    return lead


def _update(request: HttpRequest, response: HttpResponse, id: int, data: dict[str, Any]):
    lead = selectors.lead_get_for_user(user=request.auth, pk=id, for_write=True)
    lead = services.lead_update(
        user=request.auth, lead=lead, data=data, expected_version=expected_version(request, lead)
    )
    return _written(response, selectors.lead_get_for_user(user=request.auth, pk=lead.pk))


@router.patch("/leads/{id}", response={200: LeadOut, **ERRORS})
def lead_update(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: LeadPatch):
    """Change the fields sent; send If-Match with the ETag you read to avoid lost updates."""
    return _update(request, response, id, payload.model_dump(exclude_unset=True))


@router.put("/leads/{id}", response={200: LeadOut, **ERRORS})
def lead_replace(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: LeadIn):
    """Replace every field; send If-Match with the ETag you read."""
    data = payload.model_dump()
    if data.get("owner_id") is None:
        data.pop("owner_id")
    return _update(request, response, id, data)


@router.delete("/leads/{id}", response={204: None, **ERRORS})
def lead_delete(request: HttpRequest, id: Path[Id]):
    lead = selectors.lead_get_for_user(user=request.auth, pk=id, for_write=True)
    services.lead_delete(
        user=request.auth, lead=lead, expected_version=expected_version(request, lead)
    )
    return Status(204, None)


@router.post("/leads/{id}/convert", response={200: ConvertOut, **ERRORS})
def lead_convert(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: ConvertIn):
    """Lead → contact (+ company) (+ deal); the lead's timeline moves to the new records."""
    lead = selectors.lead_get_for_user(user=request.auth, pk=id, for_write=True)
    data = payload.model_dump(exclude_unset=True)
    if data.get("amount") is not None:
        data["amount"] = str(data["amount"])
    result = services.lead_convert(
        user=request.auth, lead=lead, data=data, expected_version=expected_version(request, lead)
    )
    response["ETag"] = result.lead.etag
    return {
        "lead": selectors.lead_get_for_user(user=request.auth, pk=lead.pk),
        "contact_id": result.contact.pk,
        "company_id": result.company.pk if result.company else None,
        "deal_id": result.deal.pk if result.deal else None,
    }


@router.post("/leads/{id}/disqualify", response={200: LeadOut, **ERRORS})
def lead_disqualify(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: DisqualifyIn
):
    lead = selectors.lead_get_for_user(user=request.auth, pk=id, for_write=True)
    lead = services.lead_disqualify(
        user=request.auth,
        lead=lead,
        reason=payload.reason,
        note=payload.note,
        expected_version=expected_version(request, lead),
    )
    return _written(response, selectors.lead_get_for_user(user=request.auth, pk=lead.pk))


@router.get("/leads/{id}/interactions", response={200: list[LeadInteractionOut], **ERRORS})
def lead_interactions(request: HttpRequest, id: Path[Id]):
    lead = selectors.lead_get_for_user(user=request.auth, pk=id)
    return selectors.lead_timeline(lead=lead)


@router.post("/leads/{id}/interactions", response={201: LeadInteractionOut, **ERRORS})
def lead_log(request: HttpRequest, id: Path[Id], payload: LeadLogIn):
    """Log a call, email, meeting or note on the lead (its score is recomputed)."""
    lead = selectors.lead_get_for_user(user=request.auth, pk=id, for_write=True)
    data = payload.model_dump(exclude_none=True)
    return Status(201, services.lead_log(user=request.auth, lead=lead, data=data))


@router.get("/leads/{id}/score", response={200: ScoreOut, **ERRORS})
def lead_score(request: HttpRequest, id: Path[Id]):
    """The lead's score and the rules behind it."""
    lead = selectors.lead_get_for_user(user=request.auth, pk=id)
    rows = scoring.score_breakdown(lead=lead)
    return {
        "score": sum(r["points"] for r in rows),
        "rules": [
            {
                "rule_id": r["rule"].pk,
                "name": r["rule"].name,
                "holds": r["holds"],
                "points": r["points"],
            }
            for r in rows
        ],
    }


# --- web forms (administrators) ------------------------------------------------------------------


def _web_form(pk: int) -> WebForm:
    form = WebForm.objects.filter(pk=pk).first()
    if form is None:
        raise NotFoundError(_("No web form with id %(id)s.") % {"id": pk})
    return form


@router.get("/web-forms", response={200: list[WebFormOut], **ERRORS}, tags=["web forms"])
def web_form_list(request: HttpRequest):
    _admin(request)
    return selectors.web_form_list()


@router.post("/web-forms", response={201: WebFormOut, **ERRORS}, tags=["web forms"])
def web_form_create(request: HttpRequest, payload: WebFormIn):
    return Status(
        201, settings_services.web_form_create(user=request.auth, data=payload.model_dump())
    )


@router.get("/web-forms/{id}", response={200: WebFormOut, **ERRORS}, tags=["web forms"])
def web_form_detail(request: HttpRequest, id: Path[Id]):
    _admin(request)
    return _web_form(id)


@router.patch("/web-forms/{id}", response={200: WebFormOut, **ERRORS}, tags=["web forms"])
def web_form_update(request: HttpRequest, id: Path[Id], payload: WebFormPatch):
    _admin(request)
    return settings_services.web_form_update(
        user=request.auth, form=_web_form(id), data=payload.model_dump(exclude_unset=True)
    )


@router.delete("/web-forms/{id}", response={204: None, **ERRORS}, tags=["web forms"])
def web_form_delete(request: HttpRequest, id: Path[Id]):
    _admin(request)
    settings_services.web_form_delete(user=request.auth, form=_web_form(id))
    return Status(204, None)


@router.post(
    "/forms/{key}/submit",
    response={200: SubmitOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    auth=None,
    tags=["web forms"],
)
def web_form_submit(request: HttpRequest, response: HttpResponse, key: str):
    """Public, no authentication: a web form's submission as a JSON object of strings.

    Only the form's own fields, `utm_*` and `referrer` are accepted (anything else → 422
    naming the field). Limited per client address (429 when exceeded). Any site may post
    from the browser (CORS allows every origin; no cookies are used).
    """
    try:
        form = selectors.web_form_by_key(key)
        data = _submission(request)
        services.lead_capture(web_form=form, data=data, ip=request.META.get("REMOTE_ADDR", ""))
    except KlientoError as exc:
        failed = error_response(request, exc.status, exc.code, exc.message, exc.fields)
        return _cors(failed)
    _cors(response)
    return {
        "ok": True,
        "message": form.success_message or _("Thank you! We will get back to you soon."),
        "redirect_url": form.redirect_url,
    }


@router.api_operation(["OPTIONS"], "/forms/{key}/submit", auth=None, include_in_schema=False)
def web_form_submit_preflight(request: HttpRequest, key: str):
    return _cors(HttpResponse(status=204))


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    return response


def _submission(request: HttpRequest) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type and content_type != "application/json":
        raise BadRequestError(_("Send the body as JSON (Content-Type: application/json)."))
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequestError(_("The request body is not valid JSON.")) from exc
    if not isinstance(data, dict):
        raise BadRequestError(_("Send a JSON object of field → value."))
    errors = {
        str(k)[:50]: _("Expected text.")
        for k, v in data.items()
        if v is not None and not isinstance(v, str)
    }
    if errors:
        raise ValidationFailedError(_("Some fields are invalid."), fields=errors)
    return {k: v or "" for k, v in data.items()}


# --- assignment and scoring rules (administrators) ---------------------------------------------


def _rule(model, pk: int):
    rule = model.objects.filter(pk=pk).first()
    if rule is None:
        raise NotFoundError()
    return rule


@router.get(
    "/assignment-rules", response={200: list[AssignmentRuleOut], **ERRORS}, tags=["lead rules"]
)
def assignment_rule_list(request: HttpRequest):
    """The rules in the order they are tried; the first that matches assigns the lead."""
    _admin(request)
    return selectors.assignment_rule_list()


@router.post("/assignment-rules", response={201: AssignmentRuleOut, **ERRORS}, tags=["lead rules"])
def assignment_rule_create(request: HttpRequest, payload: AssignmentRuleIn):
    data = payload.model_dump(exclude_none=True)
    return Status(201, settings_services.assignment_rule_create(user=request.auth, data=data))


@router.get(
    "/assignment-rules/{id}", response={200: AssignmentRuleOut, **ERRORS}, tags=["lead rules"]
)
def assignment_rule_detail(request: HttpRequest, id: Path[Id]):
    _admin(request)
    return _rule(AssignmentRule, id)


@router.patch(
    "/assignment-rules/{id}", response={200: AssignmentRuleOut, **ERRORS}, tags=["lead rules"]
)
def assignment_rule_update(request: HttpRequest, id: Path[Id], payload: AssignmentRulePatch):
    _admin(request)
    return settings_services.assignment_rule_update(
        user=request.auth,
        rule=_rule(AssignmentRule, id),
        data=payload.model_dump(exclude_unset=True),
    )


@router.delete("/assignment-rules/{id}", response={204: None, **ERRORS}, tags=["lead rules"])
def assignment_rule_delete(request: HttpRequest, id: Path[Id]):
    _admin(request)
    settings_services.assignment_rule_delete(user=request.auth, rule=_rule(AssignmentRule, id))
    return Status(204, None)


@router.get("/scoring-rules", response={200: list[ScoringRuleOut], **ERRORS}, tags=["lead rules"])
def scoring_rule_list(request: HttpRequest):
    _admin(request)
    return selectors.scoring_rule_list()


@router.post("/scoring-rules", response={201: ScoringRuleOut, **ERRORS}, tags=["lead rules"])
def scoring_rule_create(request: HttpRequest, payload: ScoringRuleIn):
    return Status(
        201, settings_services.scoring_rule_create(user=request.auth, data=payload.model_dump())
    )


@router.get("/scoring-rules/{id}", response={200: ScoringRuleOut, **ERRORS}, tags=["lead rules"])
def scoring_rule_detail(request: HttpRequest, id: Path[Id]):
    _admin(request)
    return _rule(ScoringRule, id)


@router.patch("/scoring-rules/{id}", response={200: ScoringRuleOut, **ERRORS}, tags=["lead rules"])
def scoring_rule_update(request: HttpRequest, id: Path[Id], payload: ScoringRulePatch):
    _admin(request)
    return settings_services.scoring_rule_update(
        user=request.auth,
        rule=_rule(ScoringRule, id),
        data=payload.model_dump(exclude_unset=True),
    )


@router.delete("/scoring-rules/{id}", response={204: None, **ERRORS}, tags=["lead rules"])
def scoring_rule_delete(request: HttpRequest, id: Path[Id]):
    _admin(request)
    settings_services.scoring_rule_delete(user=request.auth, rule=_rule(ScoringRule, id))
    return Status(204, None)
