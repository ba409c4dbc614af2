"""Every read of the customer database starts here, from what the user may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from kliento.core.errors import (
    BadCursorError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from kliento.core.models import AuditLog, CustomField, CustomFieldType, Role, User
from kliento.core.permissions import can_read, can_write, record_q, scope_for
from kliento.core.services import custom_field_clean_value
from kliento.customers.models import (
    Channel,
    Company,
    Contact,
    ContactCompany,
    Interaction,
    InteractionKind,
    LifecycleStage,
    RecordShare,
    tags_to_db,
)

MAX_LIMIT = 200
# What a user picker or a name on a page needs (`pk`, `display_name`): the rest of the user row
# (password hash, flags, dates) is left in the database.
USER_NAME_FIELDS = ("id", "first_name", "last_name", "username")
# What a row of the contact and company list pages shows (kliento_ui.contact_rows/company_rows)
# and sorts by: the JSON columns (emails, phones, tags, custom values) stay in the database.
CONTACT_ROW_FIELDS = (
    "id",
    "owner_id",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone",
    "lifecycle_stage",
    "city",
    "created_at",
    "updated_at",
)
COMPANY_ROW_FIELDS = (
    "id",
    "owner_id",
    "name",
    "tax_id",
    "industry",
    "size",
    "city",
    "created_at",
    "updated_at",
)


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- visibility ---------------------------------------------------------------------------


def contact_qs(user: User, *, for_write: bool = False) -> QuerySet[Contact]:
    q = record_q(user, "contact", for_write=for_write)
    qs = Contact.objects.all()
    return qs.filter(q) if q is not None else qs


def company_qs(user: User, *, for_write: bool = False) -> QuerySet[Company]:
    q = record_q(user, "company", for_write=for_write)
    qs = Company.objects.all()
    return qs.filter(q) if q is not None else qs


def interaction_qs(user: User) -> QuerySet[Interaction]:
    """Interactions on customers the user sees, plus those they wrote or are assigned."""
    qs = Interaction.objects.all()
    contact_q = record_q(user, "contact", prefix="contact__")
    if contact_q is None:
        return qs
    company_q = record_q(user, "company", prefix="company__")
    return qs.filter(contact_q | company_q | Q(user_id=user.pk) | Q(assignee_id=user.pk))


def _get(qs, user: User, entity: str, pk: Any, for_write: bool):
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    obj = qs.filter(pk=pk).first()
    if obj is None or not can_read(user, entity, obj):
        message = (
            _("No contact with id %(id)s.")
            if entity == "contact"
            else _("No company with id %(id)s.")
        )
        raise NotFoundError(message % {"id": pk})
    if for_write and not can_write(user, entity, obj):
        raise PermissionDeniedError(_("You can view this record but not change it."))
    return obj


def contact_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> Contact:
    return _get(Contact.objects.select_related("owner"), user, "contact", pk, for_write)


def company_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> Company:
    return _get(Company.objects.select_related("owner"), user, "company", pk, for_write)


def interaction_get_for_user(*, user: User, pk: Any, for_write: bool = False) -> Interaction:
    from kliento.customers.services import interaction_can_write

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFoundError() from None
    obj = (
        interaction_qs(user)
        .select_related("user", "assignee", "contact", "company")
        .filter(pk=pk)
        .first()
    )
    if obj is None:
        raise NotFoundError(_("No interaction with id %(id)s.") % {"id": pk})
    if for_write and not interaction_can_write(user, obj):
        raise PermissionDeniedError(_("You can view this interaction but not change it."))
    return obj


def record_shares(*, entity: str, obj) -> list[RecordShare]:
    """Who a contact or company is shared with, by name; call after the record's gate."""
    return list(
        RecordShare.objects.filter(entity=entity, object_id=obj.pk)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    )


def share_candidates(*, entity: str, obj) -> list[User]:
    """Active users a record can still be shared with: not its owner, not shared already."""
    shared = RecordShare.objects.filter(entity=entity, object_id=obj.pk).values("user_id")
    return list(
        User.objects.filter(is_active=True)
        .exclude(pk=obj.owner_id)
        .exclude(pk__in=shared)
        .order_by("first_name", "last_name", "username")
        .only(*USER_NAME_FIELDS)
    )


def contact_companies(*, user: User, contact: Contact) -> list[ContactCompany]:
    """The contact's company links whose company the user may see, primary first."""
    qs = contact.company_links.select_related("company").order_by("-is_primary", "id")
    # A contact has a few links: the share clause is cheap here, a probe for shares is not.
    q = record_q(user, "company", prefix="company__", probe_shares=False)
    return list(qs.filter(q) if q is not None else qs)


# --- keyset pagination --------------------------------------------------------------------


def _encode_cursor(values: list[Any], direction: str) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return signing.dumps({"v": plain, "d": direction}, salt="kliento.cursor")


def _decode_cursor(cursor: str, fields: list[tuple[str, bool, str]]) -> tuple[list[Any], str]:
    try:
        data = signing.loads(cursor, salt="kliento.cursor")
        values, direction = data["v"], data["d"]
        if direction not in {"n", "p"} or len(values) != len(fields):
            raise ValueError
        result = []
        for value, (_name, _desc, kind) in zip(values, fields, strict=True):
            if kind == "dt":
                parsed = parse_datetime(value)
                if parsed is None:
                    raise ValueError
                result.append(parsed)
            elif kind == "int":
                result.append(int(value))
            else:
                result.append(str(value))
        return result, direction
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BadCursorError(_("The cursor is invalid; start again from the first page.")) from exc


def _after(fields: list[tuple[str, bool, str]], values: list[Any], reverse: bool) -> Q:
    """Rows strictly after `values` in the (possibly reversed) sort order."""
    q = Q(pk__in=[])
    equal: dict[str, Any] = {}
    for (name, desc, _kind), value in zip(fields, values, strict=True):
        going_down = desc != reverse
        q |= Q(**equal, **{f"{name}__{'lt' if going_down else 'gt'}": value})
        equal[name] = value
    # A redundant bound on the leading column lets the database range-scan its index.
    name, desc, _kind = fields[0]
    lead = "lte" if desc != reverse else "gte"
    return q & Q(**{f"{name}__{lead}": values[0]})


def keyset_page(
    qs: QuerySet, fields: list[tuple[str, bool, str]], cursor: str | None, limit: int
) -> Page:
    """Paginate `qs` by `fields` [(name, descending, kind)] without OFFSET; last field unique."""
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise ValidationFailedError(fields={"limit": _("Expected a number.")}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailedError(
            fields={"limit": _("Must be between 1 and %(max)s.") % {"max": MAX_LIMIT}}
        )
    reverse = False
    if cursor:
        values, direction = _decode_cursor(cursor, fields)
        reverse = direction == "p"
        qs = qs.filter(_after(fields, values, reverse))
    order = [("-" if desc != reverse else "") + name for name, desc, _k in fields]
    rows = list(qs.order_by(*order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()

    def key(obj):
        return [_attr(obj, name) for name, _d, _k in fields]

    next_cursor = prev_cursor = None
    if rows:
        if has_more or reverse:
            next_cursor = _encode_cursor(key(rows[-1]), "n")
        if cursor and (not reverse or has_more):
            prev_cursor = _encode_cursor(key(rows[0]), "p")
    return Page(items=rows, next_cursor=next_cursor, prev_cursor=prev_cursor)


def _attr(obj, name: str):
    value = obj
    for part in name.split("__"):
        value = getattr(value, part)
    return value


# --- contact and company lists ------------------------------------------------------------

CONTACT_SORTS = {
    "name": [("last_name", False, "str"), ("first_name", False, "str"), ("id", False, "int")],
    "created": [("created_at", False, "dt"), ("id", False, "int")],
    "updated": [("updated_at", False, "dt"), ("id", False, "int")],
}
COMPANY_SORTS = {
    "name": [("name", False, "str"), ("id", False, "int")],
    "created": [("created_at", False, "dt"), ("id", False, "int")],
    "updated": [("updated_at", False, "dt"), ("id", False, "int")],
}
CONTACT_FILTERS = {
    "q",
    "stage",
    "owner_id",
    "city",
    "region",
    "tag",
    "company_id",
    "created_after",
    "created_before",
    "email",
    "phone",
}
COMPANY_FILTERS = {
    "q",
    "owner_id",
    "city",
    "region",
    "tag",
    "industry",
    "size",
    "tax_id",
    "created_after",
    "created_before",
}


def sort_fields(sorts: dict, sort: str) -> list[tuple[str, bool, str]]:
    """The keyset fields of `sort` (a key of `sorts`, "-" in front for descending); an unknown
    sort is a ValidationFailedError naming the allowed ones."""
    sort = sort or "name"
    desc = sort.startswith("-")
    base = sorts.get(sort.lstrip("-"))
    if base is None:
        allowed = ", ".join(f"{k}, -{k}" for k in sorts)
        raise ValidationFailedError(
            fields={
                "sort": _("Unknown sort %(sort)s; use one of %(allowed)s.")
                % {"sort": repr(sort), "allowed": allowed}
            }
        )
    return [(name, desc, kind) for name, _d, kind in base]


MAX_ID = 2**63 - 1


def parse_id(raw: Any) -> int | None:
    """A database id from user input, or None when it is not one (never an overflow)."""
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def _custom_filter(entity: str, key: str, raw: str, errors: dict[str, str]) -> Q | None:
    if "\x00" in key or "\x00" in raw:
        errors[f"custom.{key.replace(chr(0), '')}"] = _("Contains a NUL character.")
        return None
    field_def = CustomField.objects.filter(entity=entity, key=key).first()
    if field_def is None:
        errors[f"custom.{key}"] = _("Unknown custom field.")
        return None
    if field_def.type == CustomFieldType.MULTI_CHOICE:
        if raw not in field_def.choices:
            errors[f"custom.{key}"] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(raw),
                "allowed": ", ".join(field_def.choices),
            }
            return None
        # A JSON list contains the quoted choice as text on every backend.
        return Q(**{f"custom__{key}__icontains": f'"{raw}"'})
    try:
        value = custom_field_clean_value(field_def, raw)
    except ValueError as exc:
        errors[f"custom.{key}"] = str(exc)
        return None
    if value is None:
        return Q(**{f"custom__{key}__isnull": True})
    return Q(**{f"custom__{key}": value})


def _date_filter(name: str, raw: str, errors: dict[str, str]):
    try:
        value = parse_datetime(raw) or (
            datetime.combine(parse_date(raw), datetime.min.time()) if _safe_date(raw) else None
        )
    except ValueError:
        value = None
    if value is None:
        errors[name] = _("Expected a date, got %(value)s.") % {"value": repr(raw)}
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _safe_date(raw: str) -> bool:
    try:
        return parse_date(raw) is not None
    except ValueError:
        return False


def _common_filters(entity: str, qs: QuerySet, filters: dict[str, Any], allowed: set[str]):
    errors: dict[str, str] = {}
    for key, raw in filters.items():
        if raw in (None, "") or key in {"sort", "cursor", "limit"}:
            continue
        raw = str(raw).strip()
        if key.startswith("custom."):
            q = _custom_filter(entity, key[7:], raw, errors)
            if q is not None:
                qs = qs.filter(q)
            continue
        if key not in allowed:
            errors[key] = _("Unknown filter.")
            continue
        if key == "owner_id":
            owner_id = parse_id(raw)
            if owner_id is None:
                errors[key] = _("Expected a user id.")
                continue
            qs = qs.filter(owner_id=owner_id)
        elif key in {"city", "region", "industry"}:
            qs = qs.filter(**{f"{key}__iexact": raw})
        elif key == "tag":
            qs = qs.filter(tags__contains=tags_to_db([raw]))
        elif key in {"created_after", "created_before"}:
            value = _date_filter(key, raw, errors)
            if value is not None:
                lookup = "gte" if key == "created_after" else "lt"
                qs = qs.filter(**{f"created_at__{lookup}": value})
    return qs, errors


def contact_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    sort: str = "name",
    cursor: str | None = None,
    limit: int = 50,
    known_users: dict[int, User] | None = None,
    columns: tuple[str, ...] | None = None,
) -> Page:
    """A page of the contacts the user sees. `known_users` ({id: user}, e.g. the owner picker's
    users) supplies the rows' owners, saving the owner query when they are all in it; with
    `columns` (e.g. CONTACT_ROW_FIELDS) only those fields are loaded."""
    filters = dict(filters or {})
    fields = sort_fields(CONTACT_SORTS, sort)
    qs, errors = _common_filters("contact", contact_qs(user), filters, CONTACT_FILTERS)
    stage = filters.get("stage")
    if stage:
        if stage not in LifecycleStage.values:
            errors["stage"] = _("Unknown stage; use one of %(allowed)s.") % {
                "allowed": ", ".join(LifecycleStage.values)
            }
        else:
            qs = qs.filter(lifecycle_stage=stage)
    q = str(filters.get("q") or "").strip()
    if q:
        qs = qs.filter(
            Q(last_name__istartswith=q)
            | Q(first_name__istartswith=q)
            | Q(email__istartswith=q.lower())
        )
    if filters.get("email"):
        qs = qs.filter(email=str(filters["email"]).strip().lower())
    if filters.get("phone"):
        qs = qs.filter(phone=str(filters["phone"]).strip())
    company_id = filters.get("company_id")
    if company_id:
        company_id = parse_id(company_id)
        if company_id is None:
            errors["company_id"] = _("Expected a company id.")
        else:
            qs = qs.filter(
                id__in=ContactCompany.objects.filter(company_id=company_id).values("contact_id")
            )
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    return _page_with_owners(qs, fields, cursor, limit, known_users, columns)


def _page_with_owners(qs, fields, cursor, limit, known_users, columns=None) -> Page:
    if columns:
        qs = qs.only(*columns)
    # Owners are fetched in a second query: joining them lets SQLite start from the user
    # table and sort every visible row instead of walking the sort index.
    if known_users is None:
        return keyset_page(qs.prefetch_related("owner"), fields, cursor, limit)
    page = keyset_page(qs, fields, cursor, limit)
    missing = {row.owner_id for row in page.items} - known_users.keys()
    owners = {**known_users, **User.objects.in_bulk(missing)} if missing else known_users
    for row in page.items:
        row.owner = owners[row.owner_id]
    return page


def company_list(
    *,
    user: User,
    filters: dict[str, Any] | None = None,
    sort: str = "name",
    cursor: str | None = None,
    limit: int = 50,
    known_users: dict[int, User] | None = None,
    columns: tuple[str, ...] | None = None,
) -> Page:
    """A page of the companies the user sees; `known_users` and `columns` as for contact_list."""
    filters = dict(filters or {})
    fields = sort_fields(COMPANY_SORTS, sort)
    qs, errors = _common_filters("company", company_qs(user), filters, COMPANY_FILTERS)
    q = str(filters.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__istartswith=q) | Q(legal_name__istartswith=q) | Q(tax_id=q))
    if filters.get("size"):
        qs = qs.filter(size=filters["size"])
    if filters.get("tax_id"):
        qs = qs.filter(tax_id=str(filters["tax_id"]).strip())
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    return _page_with_owners(qs, fields, cursor, limit, known_users, columns)


# --- timeline -----------------------------------------------------------------------------

TIMELINE_ORDER = [("occurred_at", True, "dt"), ("id", True, "int")]


def timeline(
    *,
    user: User,
    contact: Contact | None = None,
    company: Company | None = None,
    filters: dict[str, Any] | None = None,
    cursor: str | None = None,
    limit: int = 30,
) -> Page:
    """A customer's interactions, newest first. A company's includes its contacts'."""
    related = ["user", "assignee", "contact", "company"]
    if contact is not None:
        if not can_read(user, "contact", contact):
            raise NotFoundError()
        qs = Interaction.objects.filter(contact_id=contact.pk)
        related.remove("contact")  # every item's contact is this one: set below, not joined
    elif company is not None:
        if not can_read(user, "company", company):
            raise NotFoundError()
        # Its contacts' interactions are included only for contacts the user may see.
        qs = Interaction.objects.filter(
            Q(company_id=company.pk)
            | Q(
                contact_id__in=contact_qs(user)
                .filter(company_links__company_id=company.pk)
                .values("id")
            )
        )
    else:
        raise ValueError("timeline needs a contact or a company")
    errors: dict[str, str] = {}
    for key, raw in (filters or {}).items():
        if raw in (None, ""):
            continue
        if key == "kind":
            if raw not in InteractionKind.values:
                errors[key] = _("Unknown kind.")
            qs = qs.filter(kind=raw)
        elif key == "channel":
            if raw not in Channel.values:
                errors[key] = _("Unknown channel.")
            qs = qs.filter(channel=raw)
        elif key == "user_id":
            user_id = parse_id(raw)
            if user_id is None:
                errors[key] = _("Expected a user id.")
            else:
                qs = qs.filter(user_id=user_id)
        elif key == "planned":
            qs = qs.filter(planned=str(raw).lower() in {"1", "true", "yes"})
        else:
            errors[key] = _("Unknown filter.")
    if errors:
        raise ValidationFailedError(_("Invalid filters."), fields=errors)
    page = keyset_page(qs.select_related(*related), TIMELINE_ORDER, cursor, limit)
    if contact is not None:
        for item in page.items:
            item.contact = contact
    return page


def who_worked_with(
    *, contact: Contact | None = None, company: Company | None = None
) -> list[dict[str, Any]]:
    """Users who interacted with this customer: how often and when last (done work only)."""
    if contact is not None:
        qs = Interaction.objects.filter(contact_id=contact.pk)
    elif company is not None:
        qs = Interaction.objects.filter(
            Q(company_id=company.pk)
            | Q(
                contact_id__in=ContactCompany.objects.filter(company_id=company.pk).values(
                    "contact_id"
                )
            )
        )
    else:
        raise ValueError("who_worked_with needs a contact or a company")
    rows = list(
        qs.filter(user__isnull=False)
        .filter(Q(planned=False) | Q(done=True))
        .values("user_id")
        .annotate(last_at=Max("occurred_at"), count=Count("id"))
        .order_by("-last_at")[:50]
    )
    users = User.objects.only(*USER_NAME_FIELDS).in_bulk([r["user_id"] for r in rows])
    return [
        {"user": users[r["user_id"]], "last_at": r["last_at"], "count": r["count"]}
        for r in rows
        if r["user_id"] in users
    ]


# --- tasks and activity -------------------------------------------------------------------


def task_assignees(*, user: User) -> list[User]:
    """Whose tasks `user` may list: their own; a head's whole subtree; everyone's for the roles
    that read all records. Active users, by name."""
    qs = User.objects.filter(is_active=True).only("id", "username", "first_name", "last_name")
    scope = scope_for(user)  # cached on the user: the task queries' visibility reuses it
    if not scope.read_all:
        # A head's owners are their subtree; a rep's (with team sharing) stay out of it.
        qs = qs.filter(pk__in=scope.owner_ids if user.role == Role.HEAD else {user.pk})
    return list(qs.order_by("first_name", "last_name", "username"))


def _tasks_of(user: User, assignee_ids: set[int] | None, kind: str = ""):
    if assignee_ids is None or assignee_ids == {user.pk}:
        qs = Interaction.objects.filter(assignee_id=user.pk)  # one's own: no visibility join
    else:
        # Someone else's task shows only when its customer is one the viewer sees.
        qs = interaction_qs(user).filter(assignee_id__in=assignee_ids)
    return qs.filter(kind=kind) if kind else qs


def my_tasks(
    *, user: User, limit: int = 50, assignee_ids: set[int] | None = None, kind: str = ""
) -> dict[str, list[Interaction]]:
    """Open tasks by due time: the user's own, or (`assignee_ids`, from task_assignees) those
    of the people named, as far as the user sees their customers."""
    base = (
        _tasks_of(user, assignee_ids, kind)
        .filter(planned=True, done=False)
        .select_related("contact", "company", "user", "assignee")
        .order_by("due_at", "id")
    )
    return {group: list(base.filter(q)[:limit]) for group, q in _task_groups().items()}


def task_counts(
    *, user: User, assignee_ids: set[int] | None = None, kind: str = ""
) -> dict[str, int]:
    """How many open tasks each group of my_tasks holds in all (it lists at most `limit`)."""
    qs = _tasks_of(user, assignee_ids, kind).filter(planned=True, done=False)
    return qs.aggregate(**{group: Count("id", filter=q) for group, q in _task_groups().items()})


def _task_groups() -> dict[str, Q]:
    now = timezone.now()
    end_of_today = (timezone.localtime(now) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return {
        "overdue": Q(due_at__lt=now),
        "today": Q(due_at__gte=now, due_at__lt=end_of_today),
        "upcoming": Q(due_at__gte=end_of_today),
    }


def tasks_done_recently(
    *, user: User, limit: int = 20, assignee_ids: set[int] | None = None, kind: str = ""
) -> list[Interaction]:
    return list(
        _tasks_of(user, assignee_ids, kind)
        .filter(planned=True, done=True)
        .select_related("contact", "company", "assignee")
        .order_by("-done_at", "-id")[:limit]
    )


def recent_activity(*, user: User, limit: int = 20) -> list[Interaction]:
    """The latest past interactions on customers the user can see (shared ones included)."""
    return list(
        interaction_qs(user)
        .filter(planned=False)
        .select_related("user", "contact", "company")
        .order_by("-occurred_at", "-id")[:limit]
    )


def audit_for(*, entity: str, object_id: int, limit: int = 100) -> list[AuditLog]:
    return list(
        AuditLog.objects.filter(entity=entity, object_id=object_id)
        .select_related("user")
        .order_by("-at", "-id")[:limit]
    )


def audit_list(
    *, user: User, filters: dict[str, Any] | None = None, cursor: str | None = None, limit: int = 50
) -> Page:
    """All audit rows, for administrators."""
    from kliento.core.permissions import is_admin

    if not is_admin(user):
        raise PermissionDeniedError(_("Only administrators can browse the whole audit log."))
    qs = AuditLog.objects.select_related("user")
    filters = filters or {}
    if filters.get("entity"):
        qs = qs.filter(entity=filters["entity"])
    if filters.get("user_id") and parse_id(filters["user_id"]):
        qs = qs.filter(user_id=parse_id(filters["user_id"]))
    if filters.get("action"):
        qs = qs.filter(action=filters["action"])
    return keyset_page(qs, [("at", True, "dt"), ("id", True, "int")], cursor, limit)
