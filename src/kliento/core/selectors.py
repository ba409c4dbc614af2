"""Reads of the core: users, the team tree, API keys, custom field definitions, failed jobs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from kliento.core.errors import NotFoundError
from kliento.core.models import ApiKey, CustomField, JobFailure, Team, User
from kliento.core.permissions import is_admin


@dataclass
class TeamNode:
    team: Team
    depth: int
    members: int


def user_list() -> QuerySet[User]:
    """Everyone, active first, by name; with their team for the admin list."""
    return User.objects.select_related("team").order_by(
        "-is_active", "first_name", "last_name", "username"
    )


def user_get(*, pk) -> User:
    user = User.objects.select_related("team").filter(pk=pk).first()
    if user is None:
        raise NotFoundError()
    return user


def team_tree() -> list[TeamNode]:
    """Every team in tree order (a parent before its children, siblings by name)."""
    teams = list(
        Team.objects.annotate(
            member_count=Count("members", filter=Q(members__is_active=True))
        ).order_by("name", "pk")
    )
    children: dict[int | None, list[Team]] = {}
    for team in teams:
        children.setdefault(team.parent_id, []).append(team)
    result: list[TeamNode] = []
    stack = [(team, 0) for team in reversed(children.get(None, []))]
    while stack:
        team, depth = stack.pop()
        result.append(TeamNode(team=team, depth=depth, members=team.member_count))
        stack.extend((child, depth + 1) for child in reversed(children.get(team.pk, [])))
    return result


def team_get(*, pk) -> Team:
    team = Team.objects.filter(pk=pk).first()
    if team is None:
        raise NotFoundError()
    return team


def apikey_list(*, user: User | None = None) -> QuerySet[ApiKey]:
    """Keys of one user, or every key (for administrators) when `user` is None; newest first."""
    qs = ApiKey.objects.select_related("user").order_by("-created_at", "-id")
    return qs.filter(user=user) if user is not None else qs


def apikey_get_for_user(*, user: User, pk) -> ApiKey:
    """A key the user may manage: their own, or any key for an administrator."""
    qs = ApiKey.objects.select_related("user")
    if not is_admin(user):
        qs = qs.filter(user=user)
    key = qs.filter(pk=pk).first()
    if key is None:
        raise NotFoundError()
    return key


def custom_field_list(*, entity: str | None = None) -> QuerySet[CustomField]:
    qs = CustomField.objects.order_by("entity", "position", "id")
    return qs.filter(entity=entity) if entity else qs


def custom_field_get(*, pk) -> CustomField:
    field = CustomField.objects.filter(pk=pk).first()
    if field is None:
        raise NotFoundError()
    return field


def job_failure_list(*, limit: int = 200) -> list[JobFailure]:
    return list(JobFailure.objects.order_by("-at", "-id")[:limit])
