"""Core endpoints: users and teams (read), custom field definitions, my API keys, the audit log."""

from django.core import signing
from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from kliento.core import selectors, services
from kliento.core.errors import BadCursorError, NotFoundError, PermissionDeniedError
from kliento.core.models import User
from kliento.core.permissions import is_admin
from kliento.core.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    Cursor,
    CustomFieldFilter,
    CustomFieldIn,
    CustomFieldOut,
    CustomFieldPatch,
    ErrorOut,
    Id,
    MeOut,
    TeamDetailOut,
    TeamOut,
    UserFilter,
    UserOut,
    UserPage,
)

router = Router(tags=["core"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- users and teams ------------------------------------------------------------------------


@router.get("/users", response={200: UserPage, **ERRORS}, tags=["users"])
def user_list(request: HttpRequest, filters: Query[UserFilter], page: Query[Cursor]):
    """Active colleagues, by username (everyone may list them: tasks are assigned to them)."""
    qs = User.objects.filter(is_active=True)
    if filters.role:
        qs = qs.filter(role=filters.role)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    if filters.q:
        qs = qs.filter(
            Q(username__istartswith=filters.q)
            | Q(first_name__istartswith=filters.q)
            | Q(last_name__istartswith=filters.q)
        )
    if page.cursor:
        try:
            username, last_id = signing.loads(page.cursor, salt="kliento.users")
            after = Q(username__gt=username) | Q(username=username, id__gt=int(last_id))
        except (signing.BadSignature, TypeError, ValueError) as exc:
            raise BadCursorError() from exc
        qs = qs.filter(after)
    rows = list(qs.order_by("username", "id")[: page.limit + 1])
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = signing.dumps([rows[-1].username, rows[-1].pk], salt="kliento.users")
    return {"items": rows, "next_cursor": next_cursor}


@router.get("/users/me", response={200: MeOut, **ERRORS}, tags=["users"])
def user_me(request: HttpRequest):
    return request.auth


@router.get("/users/{id}", response={200: UserOut, **ERRORS}, tags=["users"])
def user_detail(request: HttpRequest, id: Path[Id]):
    return selectors.user_get(pk=id)


@router.get("/teams", response={200: list[TeamOut], **ERRORS}, tags=["teams"])
def team_list(request: HttpRequest):
    """The whole org chart in tree order: a parent before its children, siblings by name."""
    return [
        {
            "id": node.team.pk,
            "name": node.team.name,
            "parent_id": node.team.parent_id,
            "path": node.team.path,
            "depth": node.depth,
        }
        for node in selectors.team_tree()
    ]


@router.get("/teams/{id}", response={200: TeamDetailOut, **ERRORS}, tags=["teams"])
def team_detail(request: HttpRequest, id: Path[Id]):
    team = selectors.team_get(pk=id)
    team.active_members = list(team.members.filter(is_active=True).order_by("username"))
    return team


# --- custom field definitions -----------------------------------------------------------------


@router.get(
    "/custom-fields", response={200: list[CustomFieldOut], **ERRORS}, tags=["custom fields"]
)
def custom_field_list(request: HttpRequest, filters: Query[CustomFieldFilter]):
    return list(selectors.custom_field_list(entity=filters.entity))


@router.post("/custom-fields", response={201: CustomFieldOut, **ERRORS}, tags=["custom fields"])
def custom_field_create(request: HttpRequest, payload: CustomFieldIn):
    """Define a custom field (administrators only)."""
    field = services.custom_field_create(actor=request.auth, **payload.model_dump())
    return Status(201, field)


@router.patch(
    "/custom-fields/{id}", response={200: CustomFieldOut, **ERRORS}, tags=["custom fields"]
)
def custom_field_update(request: HttpRequest, id: Path[Id], payload: CustomFieldPatch):
    """Change a custom field's label, choices, required flag or position (administrators)."""
    if not is_admin(request.auth):
        raise PermissionDeniedError(_("Only an administrator can change custom fields."))
    field = selectors.custom_field_get(pk=id)
    return services.custom_field_update(
        actor=request.auth, field=field, **payload.model_dump(exclude_unset=True)
    )


@router.delete("/custom-fields/{id}", response={204: None, **ERRORS}, tags=["custom fields"])
def custom_field_delete(request: HttpRequest, id: Path[Id]):
    """Delete a custom field definition (administrators); stored values stay in the records."""
    if not is_admin(request.auth):
        raise PermissionDeniedError(_("Only an administrator can delete custom fields."))
    services.custom_field_delete(actor=request.auth, field=selectors.custom_field_get(pk=id))
    return Status(204, None)


# --- my API keys -------------------------------------------------------------------------------


@router.get("/api-keys", response={200: list[ApiKeyOut], **ERRORS}, tags=["api keys"])
def apikey_list(request: HttpRequest):
    """Your API keys (only their prefixes: the keys themselves are never stored)."""
    return list(selectors.apikey_list(user=request.auth))


@router.post("/api-keys", response={201: ApiKeyCreatedOut, **ERRORS}, tags=["api keys"])
def apikey_create(request: HttpRequest, payload: ApiKeyIn):
    """Create a key for yourself. The response is the only time the key is shown."""
    key, raw = services.apikey_create(actor=request.auth, user=request.auth, name=payload.name)
    key.key = raw
    return Status(201, key)


@router.delete("/api-keys/{id}", response={204: None, **ERRORS}, tags=["api keys"])
def apikey_revoke(request: HttpRequest, id: Path[Id]):
    key = selectors.apikey_list(user=request.auth).filter(pk=id, revoked_at__isnull=True).first()
    if key is None:
        raise NotFoundError(_("No active API key with id %(id)s.") % {"id": id})
    services.apikey_revoke(actor=request.auth, key=key)
    return Status(204, None)
