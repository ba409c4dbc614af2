"""Customer endpoints: contacts, companies, interactions and tasks, consent, shares, timelines,
"who worked with this client", search and record history.

Handlers parse input, pass the visibility gate (hidden → 404, visible but read-only → 403),
call one selector or service, and serialise. Every single-object GET carries an ETag; writes
honour If-Match (stale → 412).
"""

import re
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from kliento.api import api as ninja_api
from kliento.api import expected_version, not_modified
from kliento.core.errors import PermissionDeniedError, ValidationFailedError
from kliento.core.models import OrgSettings, User
from kliento.core.permissions import is_admin
from kliento.core.schemas import (
    AuditFilter,
    AuditLogFilter,
    AuditOut,
    AuditPage,
    Cursor,
    ErrorOut,
    Id,
)
from kliento.customers import selectors, services
from kliento.customers.models import ConsentChannel, RecordShare
from kliento.customers.normalize import NormalizationError, normalize_phone
from kliento.customers.schemas import (
    CompanyFilter,
    CompanyIn,
    CompanyOut,
    CompanyPage,
    CompanyPatch,
    ConsentIn,
    ConsentOut,
    ContactFilter,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    InteractionFilter,
    InteractionIn,
    InteractionOut,
    InteractionPage,
    InteractionPatch,
    SearchOut,
    SearchQuery,
    ShareIn,
    ShareOut,
    TaskCompleteIn,
    TasksOut,
    TimelineFilter,
    WhoWorkedOut,
)
from kliento.customers.search import search as search_records
from kliento.dataio.dedup.schemas import CandidateOut, CompanyCheck, ContactCheck

router = Router()

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
CUSTOM_PARAM = re.compile(r"^custom\.[A-Za-z0-9_-]{1,50}\Z")


def _list_filters(request: HttpRequest, filters, exclude: set[str] = frozenset()) -> dict:
    """Validated filters as the selector expects them, plus `custom.<key>` parameters.

    A query parameter that is neither a known filter nor `custom.<key>` is a 422, so a typo
    never silently returns the unfiltered list.
    """
    known = set(type(filters).model_fields) | PAGING
    errors = {}
    result: dict[str, Any] = {}
    for key in request.GET:
        if CUSTOM_PARAM.match(key):
            value = request.GET[key]
            if "\x00" in value or len(value) > 200:
                errors[key] = _("Invalid value.")
            elif value != "":
                result[key] = value
        elif key not in known:
            errors[key] = _("Unknown filter.")
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    for key, value in filters.model_dump(exclude_none=True).items():
        if key in exclude:
            continue
        result[key] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return result


def _detail(request: HttpRequest, response: HttpResponse, obj):
    cached = not_modified(request, obj)
    if cached is not None:
        return cached
    response["ETag"] = obj.etag
    return obj


def _written(response: HttpResponse, obj, status: int = 200):
    response["ETag"] = obj.etag
    return Status(status, obj)


def _put_data(payload, current_custom: dict) -> dict:
    """PUT replaces the record: every field is sent, custom values not named are cleared."""
    data = payload.model_dump(exclude={"companies"})
    if data.get("owner_id") is None:
        data.pop("owner_id", None)
    data["custom"] = {**{k: None for k in current_custom}, **data["custom"]}
    if hasattr(payload, "companies"):
        data["companies"] = [link.model_dump(exclude_unset=True) for link in payload.companies]
    return data


def _patch_data(payload) -> dict:
    data = payload.model_dump(exclude_unset=True, exclude={"companies"})
    if getattr(payload, "companies", None) is not None:
        data["companies"] = [link.model_dump(exclude_unset=True) for link in payload.companies]
    return data


# --- contacts --------------------------------------------------------------------------------


@router.get("/contacts", response={200: ContactPage, **ERRORS}, tags=["contacts"])
def contact_list(request: HttpRequest, filters: Query[ContactFilter], page: Query[Cursor]):
    """Contacts you can see. Filter with the parameters below or `custom.<key>=value`."""
    data = _list_filters(request, filters, exclude={"sort"})
    if "phone" in data:
        try:
            data["phone"] = normalize_phone(data["phone"], OrgSettings.get().default_region)
        except NormalizationError as exc:
            raise ValidationFailedError(fields={"phone": str(exc)}) from exc
    return selectors.contact_list(
        user=request.auth, filters=data, sort=filters.sort, cursor=page.cursor, limit=page.limit
    )


def _duplicate_response(request: HttpRequest, exc: services.DuplicateCandidatesError):
    return ninja_api.create_response(
        request,
        {
            "code": exc.code,
            "message": str(exc.message),
            "fields": {},
            "candidates": exc.candidates,
        },
        status=409,
    )


@router.post("/contacts", response={201: ContactOut, **ERRORS}, tags=["contacts"])
def contact_create(
    request: HttpRequest,
    response: HttpResponse,
    payload: ContactIn,
    confirm_duplicate: bool = False,
):
    """Create a contact. When it is likely one that exists, the answer is 409
    `{"code": "duplicate", "candidates": [...]}` (records you cannot see appear only with
    their owner); send the request again with `?confirm_duplicate=true` to create it anyway."""
    data = _patch_data(payload)
    try:
        contact = services.contact_create(
            user=request.auth, data=data, check_duplicates=not confirm_duplicate
        )
    except services.DuplicateCandidatesError as exc:
        return _duplicate_response(request, exc)
    response["Location"] = f"{request.path.rstrip('/')}/{contact.pk}"
    return _written(response, contact, 201)


def _check_data(check) -> dict:
    data = check.model_dump(exclude_none=True)
    if "email" in data:
        data["emails"] = [data.pop("email")]
    if "phone" in data:
        data["phones"] = [data.pop("phone")]
    return data


def _candidates_out(found) -> list[dict]:
    from kliento.dataio.dedup.matching import evidence_text

    out = []
    for candidate in found:
        row = candidate.as_dict()
        if row.get("evidence"):
            row["evidence"] = [{**e, "text": evidence_text(e)} for e in row["evidence"]]
        out.append(row)
    return out


@router.get(
    "/contacts/duplicates", response={200: list[CandidateOut], **ERRORS}, tags=["duplicates"]
)
def contact_duplicates(request: HttpRequest, check: Query[ContactCheck]):
    """Existing contacts a new one with these values is likely to be (the entry check a client
    runs while a user types). Records you cannot see appear only with their owner's name."""
    from kliento.dataio.dedup.candidates import contact_candidates

    _list_filters(request, check)
    return _candidates_out(contact_candidates(user=request.auth, data=_check_data(check)))


@router.get(
    "/companies/duplicates", response={200: list[CandidateOut], **ERRORS}, tags=["duplicates"]
)
def company_duplicates(request: HttpRequest, check: Query[CompanyCheck]):
    """Existing companies a new one with these values is likely to be."""
    from kliento.dataio.dedup.candidates import company_candidates

    _list_filters(request, check)
    return _candidates_out(company_candidates(user=request.auth, data=_check_data(check)))


@router.get("/contacts/{id}", response={200: ContactOut, **ERRORS}, tags=["contacts"])
def contact_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    return _detail(request, response, selectors.contact_get_for_user(user=request.auth, pk=id))


@router.put("/contacts/{id}", response={200: ContactOut, **ERRORS}, tags=["contacts"])
def contact_replace(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: ContactIn):
    """Replace every field; send If-Match with the ETag you read to avoid lost updates."""
    contact = selectors.contact_get_for_user(user=request.auth, pk=id, for_write=True)
    contact = services.contact_update(
        user=request.auth,
        contact=contact,
        data=_put_data(payload, contact.custom),
        expected_version=expected_version(request, contact),
    )
    return _written(response, contact)


@router.patch("/contacts/{id}", response={200: ContactOut, **ERRORS}, tags=["contacts"])
def contact_update(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: ContactPatch
):
    """Change the fields sent; send If-Match with the ETag you read to avoid lost updates."""
    contact = selectors.contact_get_for_user(user=request.auth, pk=id, for_write=True)
    contact = services.contact_update(
        user=request.auth,
        contact=contact,
        data=_patch_data(payload),
        expected_version=expected_version(request, contact),
    )
    return _written(response, contact)


@router.delete("/contacts/{id}", response={204: None, **ERRORS}, tags=["contacts"])
def contact_delete(request: HttpRequest, id: Path[Id]):
    contact = selectors.contact_get_for_user(user=request.auth, pk=id, for_write=True)
    services.contact_delete(
        user=request.auth, contact=contact, expected_version=expected_version(request, contact)
    )
    return Status(204, None)


@router.get("/contacts/{id}/timeline", response={200: InteractionPage, **ERRORS}, tags=["contacts"])
def contact_timeline(
    request: HttpRequest, id: Path[Id], filters: Query[TimelineFilter], page: Query[Cursor]
):
    """Every interaction with this contact, newest first."""
    contact = selectors.contact_get_for_user(user=request.auth, pk=id)
    return selectors.timeline(
        user=request.auth,
        contact=contact,
        filters=_list_filters(request, filters),
        cursor=page.cursor,
        limit=page.limit,
    )


@router.get(
    "/contacts/{id}/who-worked", response={200: list[WhoWorkedOut], **ERRORS}, tags=["contacts"]
)
def contact_who_worked(request: HttpRequest, id: Path[Id]):
    """Who has interacted with this contact, how often and when last."""
    contact = selectors.contact_get_for_user(user=request.auth, pk=id)
    return selectors.who_worked_with(contact=contact)


@router.put(
    "/contacts/{id}/consent/{channel}", response={200: ConsentOut, **ERRORS}, tags=["contacts"]
)
def contact_consent(
    request: HttpRequest, id: Path[Id], channel: Path[ConsentChannel], payload: ConsentIn
):
    """Record the contact's opt-in or opt-out for one channel."""
    contact = selectors.contact_get_for_user(user=request.auth, pk=id, for_write=True)
    return services.consent_set(
        user=request.auth,
        contact=contact,
        channel=channel.value,
        status=payload.status.value,
        source=payload.source,
    )


# --- companies -------------------------------------------------------------------------------


@router.get("/companies", response={200: CompanyPage, **ERRORS}, tags=["companies"])
def company_list(request: HttpRequest, filters: Query[CompanyFilter], page: Query[Cursor]):
    """Companies you can see. Filter with the parameters below or `custom.<key>=value`."""
    return selectors.company_list(
        user=request.auth,
        filters=_list_filters(request, filters, exclude={"sort"}),
        sort=filters.sort,
        cursor=page.cursor,
        limit=page.limit,
    )


@router.post("/companies", response={201: CompanyOut, **ERRORS}, tags=["companies"])
def company_create(
    request: HttpRequest,
    response: HttpResponse,
    payload: CompanyIn,
    confirm_duplicate: bool = False,
):
    """Create a company; a likely existing one answers 409 with the candidates unless
    `?confirm_duplicate=true` (see POST /contacts)."""
    try:
        company = services.company_create(
            user=request.auth, data=_patch_data(payload), check_duplicates=not confirm_duplicate
        )
    except services.DuplicateCandidatesError as exc:
        return _duplicate_response(request, exc)
    response["Location"] = f"{request.path.rstrip('/')}/{company.pk}"
    return _written(response, company, 201)


@router.get("/companies/{id}", response={200: CompanyOut, **ERRORS}, tags=["companies"])
def company_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    return _detail(request, response, selectors.company_get_for_user(user=request.auth, pk=id))


@router.put("/companies/{id}", response={200: CompanyOut, **ERRORS}, tags=["companies"])
def company_replace(request: HttpRequest, response: HttpResponse, id: Path[Id], payload: CompanyIn):
    company = selectors.company_get_for_user(user=request.auth, pk=id, for_write=True)
    company = services.company_update(
        user=request.auth,
        company=company,
        data=_put_data(payload, company.custom),
        expected_version=expected_version(request, company),
    )
    return _written(response, company)


@router.patch("/companies/{id}", response={200: CompanyOut, **ERRORS}, tags=["companies"])
def company_update(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: CompanyPatch
):
    company = selectors.company_get_for_user(user=request.auth, pk=id, for_write=True)
    company = services.company_update(
        user=request.auth,
        company=company,
        data=_patch_data(payload),
        expected_version=expected_version(request, company),
    )
    return _written(response, company)


@router.delete("/companies/{id}", response={204: None, **ERRORS}, tags=["companies"])
def company_delete(request: HttpRequest, id: Path[Id]):
    company = selectors.company_get_for_user(user=request.auth, pk=id, for_write=True)
    services.company_delete(
        user=request.auth, company=company, expected_version=expected_version(request, company)
    )
    return Status(204, None)


@router.get(
    "/companies/{id}/timeline", response={200: InteractionPage, **ERRORS}, tags=["companies"]
)
def company_timeline(
    request: HttpRequest, id: Path[Id], filters: Query[TimelineFilter], page: Query[Cursor]
):
    """Every interaction with this company and its contacts, newest first."""
    company = selectors.company_get_for_user(user=request.auth, pk=id)
    return selectors.timeline(
        user=request.auth,
        company=company,
        filters=_list_filters(request, filters),
        cursor=page.cursor,
        limit=page.limit,
    )


@router.get(
    "/companies/{id}/who-worked",
    response={200: list[WhoWorkedOut], **ERRORS},
    tags=["companies"],
)
def company_who_worked(request: HttpRequest, id: Path[Id]):
    company = selectors.company_get_for_user(user=request.auth, pk=id)
    return selectors.who_worked_with(company=company)


# --- shares (contacts and companies) ---------------------------------------------------------

_GET = {
    "contacts": ("contact", selectors.contact_get_for_user),
    "companies": ("company", selectors.company_get_for_user),
}


def _share_target(user_id: int) -> User:
    target = User.objects.filter(pk=user_id, is_active=True).first()
    if target is None:
        raise ValidationFailedError(fields={"user_id": _("No active user with this id.")})
    return target


def _register_shares(collection: str) -> None:
    entity, get = _GET[collection]
    tags = [collection]

    @router.get(
        f"/{collection}/{{id}}/shares",
        response={200: list[ShareOut], **ERRORS},
        tags=tags,
        url_name=f"{entity}_share_list",
        operation_id=f"{entity}_share_list",
    )
    def share_list(request: HttpRequest, id: Path[Id]):
        """Users this record is shared with."""
        obj = get(user=request.auth, pk=id)
        return list(
            RecordShare.objects.filter(entity=entity, object_id=obj.pk)
            .select_related("user")
            .order_by("user__username")
        )

    @router.post(
        f"/{collection}/{{id}}/shares",
        response={200: ShareOut, **ERRORS},
        tags=tags,
        url_name=f"{entity}_share",
        operation_id=f"{entity}_share",
    )
    def share(request: HttpRequest, id: Path[Id], payload: ShareIn):
        """Share the record with a colleague (for editing unless can_edit is false)."""
        obj = get(user=request.auth, pk=id, for_write=True)
        return services.record_share(
            user=request.auth,
            entity=entity,
            obj=obj,
            target=_share_target(payload.user_id),
            can_edit=payload.can_edit,
        )

    @router.delete(
        f"/{collection}/{{id}}/shares/{{user_id}}",
        response={204: None, **ERRORS},
        tags=tags,
        url_name=f"{entity}_unshare",
        operation_id=f"{entity}_unshare",
    )
    def unshare(request: HttpRequest, id: Path[Id], user_id: Path[Id]):
        obj = get(user=request.auth, pk=id, for_write=True)
        services.record_unshare(
            user=request.auth, entity=entity, obj=obj, target=_share_target(user_id)
        )
        return Status(204, None)


_register_shares("contacts")
_register_shares("companies")


# --- interactions and tasks ------------------------------------------------------------------

INTERACTION_SORTS = {
    "-occurred": [("occurred_at", True, "dt"), ("id", True, "int")],
    "occurred": [("occurred_at", False, "dt"), ("id", False, "int")],
}


@router.get("/interactions", response={200: InteractionPage, **ERRORS}, tags=["interactions"])
def interaction_list(request: HttpRequest, filters: Query[InteractionFilter], page: Query[Cursor]):
    """Interactions on customers you can see, and those you wrote or are assigned."""
    _list_filters(request, filters)  # refuses unknown parameters
    qs = selectors.interaction_qs(request.auth)
    data = filters.model_dump(exclude_none=True, exclude={"sort"})
    lookups = {
        "occurred_after": "occurred_at__gte",
        "occurred_before": "occurred_at__lt",
    }
    qs = qs.filter(**{lookups.get(key, key): value for key, value in data.items()})
    return selectors.keyset_page(qs, INTERACTION_SORTS[filters.sort], page.cursor, page.limit)


@router.post("/interactions", response={201: InteractionOut, **ERRORS}, tags=["interactions"])
def interaction_create(request: HttpRequest, response: HttpResponse, payload: InteractionIn):
    """Log a past interaction, or plan one (planned=true with due_at; assignee defaults to you)."""
    interaction = services.interaction_create(
        user=request.auth, data=payload.model_dump(exclude_unset=True)
    )
    response["Location"] = f"{request.path.rstrip('/')}/{interaction.pk}"
    return _written(response, interaction, 201)


@router.get("/interactions/{id}", response={200: InteractionOut, **ERRORS}, tags=["interactions"])
def interaction_detail(request: HttpRequest, response: HttpResponse, id: Path[Id]):
    return _detail(request, response, selectors.interaction_get_for_user(user=request.auth, pk=id))


@router.put("/interactions/{id}", response={200: InteractionOut, **ERRORS}, tags=["interactions"])
def interaction_replace(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: InteractionIn
):
    interaction = selectors.interaction_get_for_user(user=request.auth, pk=id, for_write=True)
    data = payload.model_dump()
    for key in ("kind", "channel", "direction", "occurred_at"):
        if data[key] is None:
            data.pop(key)
    interaction = services.interaction_update(
        user=request.auth,
        interaction=interaction,
        data=data,
        expected_version=expected_version(request, interaction),
    )
    return _written(response, interaction)


@router.patch("/interactions/{id}", response={200: InteractionOut, **ERRORS}, tags=["interactions"])
def interaction_update(
    request: HttpRequest, response: HttpResponse, id: Path[Id], payload: InteractionPatch
):
    interaction = selectors.interaction_get_for_user(user=request.auth, pk=id, for_write=True)
    interaction = services.interaction_update(
        user=request.auth,
        interaction=interaction,
        data=payload.model_dump(exclude_unset=True),
        expected_version=expected_version(request, interaction),
    )
    return _written(response, interaction)


@router.delete("/interactions/{id}", response={204: None, **ERRORS}, tags=["interactions"])
def interaction_delete(request: HttpRequest, id: Path[Id]):
    interaction = selectors.interaction_get_for_user(user=request.auth, pk=id, for_write=True)
    services.interaction_delete(
        user=request.auth,
        interaction=interaction,
        expected_version=expected_version(request, interaction),
    )
    return Status(204, None)


@router.post(
    "/interactions/{id}/complete",
    response={200: InteractionOut, **ERRORS},
    tags=["interactions"],
)
def interaction_complete(
    request: HttpRequest,
    response: HttpResponse,
    id: Path[Id],
    payload: TaskCompleteIn | None = None,
):
    """Mark a planned interaction done, optionally with its outcome."""
    interaction = selectors.interaction_get_for_user(user=request.auth, pk=id, for_write=True)
    expected_version(request, interaction)  # a stale If-Match is refused here
    interaction = services.task_complete(
        user=request.auth,
        interaction=interaction,
        outcome=payload.outcome if payload else "",
    )
    return _written(response, interaction)


@router.get("/tasks", response={200: TasksOut, **ERRORS}, tags=["interactions"])
def my_tasks(request: HttpRequest):
    """Your open planned interactions: overdue, due today, upcoming."""
    return selectors.my_tasks(user=request.auth)


# --- search and history ----------------------------------------------------------------------


@router.get("/search", response={200: SearchOut, **ERRORS}, tags=["search"])
def search(request: HttpRequest, query: Query[SearchQuery]):
    """Contacts and companies by name, email, phone (any format) or tax id, typo-tolerant.

    A record you may not see appears only as `visible: false` with its owner — no id, no title.
    """
    hits = search_records(user=request.auth, q=query.q, limit=query.limit)
    for hit in hits:
        if not hit.visible:
            hit.id, hit.title, hit.subtitle = None, "", ""
    return {"items": hits}


_AUDIT_GATES = {
    "contact": selectors.contact_get_for_user,
    "company": selectors.company_get_for_user,
    "interaction": selectors.interaction_get_for_user,
}


@router.get("/audit", response={200: list[AuditOut], **ERRORS}, tags=["audit"])
def audit(request: HttpRequest, filters: Query[AuditFilter]):
    """The history of one record, newest first: who changed which fields from what to what.

    Anyone who can see a contact, company or interaction sees its history; other kinds of
    record (users, teams, custom fields, API keys) and deleted records are for administrators.
    """
    user = request.auth
    if not is_admin(user):
        gate = _AUDIT_GATES.get(filters.entity)
        if gate is None:
            raise PermissionDeniedError(_("Only administrators can read this history."))
        gate(user=user, pk=filters.object_id)
    return selectors.audit_for(
        entity=filters.entity, object_id=filters.object_id, limit=filters.limit
    )


@router.get("/audit/log", response={200: AuditPage, **ERRORS}, tags=["audit"])
def audit_log(request: HttpRequest, filters: Query[AuditLogFilter], page: Query[Cursor]):
    """The whole audit log, newest first (administrators only)."""
    return selectors.audit_list(
        user=request.auth,
        filters=_list_filters(request, filters),
        cursor=page.cursor,
        limit=page.limit,
    )
