"""Every role × every endpoint × every kind of record: nothing leaks over the API.

Each test builds, for the role under test, one contact and one company of each kind —
its own, a teammate's, another team's, one shared with it for editing and one shared
read-only — each with an interaction by a stranger, and checks the endpoint answers exactly
what core/permissions.py promises: hidden → 404 (never 403, never data), visible but not
writable → 403, lists and search contain exactly the visible records.
"""

import datetime

import pytest

from kliento.core.models import OrgSettings, Role, User
from kliento.core.services import team_create
from kliento.customers.models import Company, Contact, Interaction, RecordShare

JSON = "application/json"
ROLES = ["admin", "head", "rep", "rep_peer", "other_rep", "marketer", "support", "analyst"]
KINDS = ["own", "same_team", "other_team", "shared", "shared_ro"]
ENDPOINTS = [
    "list",
    "detail",
    "update",
    "delete",
    "timeline",
    "who_worked",
    "search",
    "interaction",
    "history",
]
# Distinct words so a search for one record never fuzzily matches another.
NAMES = {
    "own": "Quillfeather",
    "same_team": "Marchbanks",
    "other_team": "Thistlewood",
    "shared": "Bramblecote",
    "shared_ro": "Pennywhistle",
}
READ_ALL = {"admin", "analyst", "marketer", "support"}


def can_see(role: str, kind: str, team_sharing: bool = False) -> bool:
    if role in READ_ALL or kind in {"own", "shared", "shared_ro"}:
        return True
    if kind == "same_team":
        return role == "head" or (team_sharing and role in {"rep", "rep_peer", "other_rep"})
    return False


def can_edit(role: str, kind: str, team_sharing: bool = False) -> bool:
    if role == "analyst":
        return False
    if role == "admin" or kind in {"own", "shared"}:
        return True
    if kind == "same_team":
        return role == "head" or (team_sharing and role in {"rep", "rep_peer", "other_rep"})
    return False


def _rep(username: str, team) -> User:
    return User.objects.create_user(username=username, password="x" * 12, role=Role.REP, team=team)


def build_world(org, role: str) -> dict:
    """{(entity, kind): record} for the user of `role`, plus the users involved."""
    me = org.users[role]
    elsewhere = team_create(actor=None, name="Elsewhere", parent=org.teams["company"])
    stranger = _rep("stranger", elsewhere)
    peer = _rep("peer", me.team)
    owners = {
        "own": me,
        "same_team": peer,
        "other_team": stranger,
        "shared": stranger,
        "shared_ro": stranger,
    }
    world = {"me": me, "stranger": stranger, "peer": peer}
    when = datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC)
    for kind, owner in owners.items():
        name = NAMES[kind]
        contact = _contact(owner, name)
        company = _company(owner, f"{name} Trading")
        for entity, obj in (("contact", contact), ("company", company)):
            if kind.startswith("shared"):
                RecordShare.objects.create(
                    entity=entity, object_id=obj.pk, user=me, can_edit=kind == "shared"
                )
            world[(entity, kind)] = obj
            world[(entity, kind, "interaction")] = Interaction.objects.create(
                kind="call",
                channel="phone",
                user=stranger,
                occurred_at=when,
                subject=f"Secret about {name}",
                **{entity: obj},
            )
    return world


def _contact(owner, last_name):
    from kliento.conftest import ContactFactory

    return ContactFactory(owner=owner, first_name="Zed", last_name=last_name)


def _company(owner, name):
    from kliento.conftest import CompanyFactory

    return CompanyFactory(owner=owner, name=name)


def _path(entity: str) -> str:
    return "contacts" if entity == "contact" else "companies"


def _model(entity: str):
    return Contact if entity == "contact" else Company


def _expected_detail(role, kind, team_sharing=False):
    return 200 if can_see(role, kind, team_sharing) else 404


def _expected_write(role, kind, ok, team_sharing=False):
    if not can_see(role, kind, team_sharing):
        return 404
    return ok if can_edit(role, kind, team_sharing) else 403


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", ROLES)
def test_visibility(org, api, role, endpoint, kind):
    world = build_world(org, role)
    client = api(world["me"])
    for entity in ("contact", "company"):
        check(world, client, role, endpoint, kind, entity, team_sharing=False)


@pytest.mark.parametrize("kind", ["same_team", "other_team"])
@pytest.mark.parametrize("endpoint", ["list", "detail", "update", "search"])
@pytest.mark.parametrize("role", ["rep", "head", "marketer"])
def test_visibility_with_team_sharing(org, api, role, endpoint, kind):
    OrgSettings.objects.update_or_create(pk=1, defaults={"team_sharing": True})
    world = build_world(org, role)
    client = api(world["me"])
    for entity in ("contact", "company"):
        check(world, client, role, endpoint, kind, entity, team_sharing=True)


def check(world, client, role, endpoint, kind, entity, *, team_sharing):
    obj = world[(entity, kind)]
    url = f"/api/v1/{_path(entity)}/{obj.pk}"
    visible = can_see(role, kind, team_sharing)

    if endpoint == "list":
        response = client.get(f"/api/v1/{_path(entity)}?limit=200")
        assert response.status_code == 200
        ids = {row["id"] for row in response.json()["items"]}
        expected = {world[(entity, k)].pk for k in KINDS if can_see(role, k, team_sharing)}
        # Exactly the visible records of this world (plus none of anyone else's).
        assert ids == expected
        assert (obj.pk in ids) is visible

    elif endpoint == "detail":
        response = client.get(url)
        assert response.status_code == _expected_detail(role, kind, team_sharing)
        if not visible:
            assert NAMES[kind] not in response.content.decode()

    elif endpoint == "update":
        before = _model(entity).objects.get(pk=obj.pk)
        response = client.patch(url, {"city": "Changed"}, content_type=JSON)
        expected = _expected_write(role, kind, 200, team_sharing)
        assert response.status_code == expected, response.content
        after = _model(entity).objects.get(pk=obj.pk)
        if expected == 200:
            assert (after.city, after.version) == ("Changed", before.version + 1)
        else:
            assert (after.city, after.version) == (before.city, before.version)
            assert NAMES[kind] not in response.content.decode()

    elif endpoint == "delete":
        response = client.delete(url)
        expected = _expected_write(role, kind, 204, team_sharing)
        assert response.status_code == expected, response.content
        assert _model(entity).objects.filter(pk=obj.pk).exists() is (expected != 204)

    elif endpoint == "timeline":
        response = client.get(f"{url}/timeline")
        assert response.status_code == _expected_detail(role, kind, team_sharing)
        if visible:
            ids = [i["id"] for i in response.json()["items"]]
            assert ids == [world[(entity, kind, "interaction")].pk]
        else:
            assert "Secret" not in response.content.decode()

    elif endpoint == "who_worked":
        response = client.get(f"{url}/who-worked")
        assert response.status_code == _expected_detail(role, kind, team_sharing)
        if visible:
            assert [w["user"]["id"] for w in response.json()] == [world["stranger"].pk]

    elif endpoint == "interaction":
        interaction = world[(entity, kind, "interaction")]
        response = client.get(f"/api/v1/interactions/{interaction.pk}")
        assert response.status_code == _expected_detail(role, kind, team_sharing)
        listed = client.get("/api/v1/interactions?limit=200").json()["items"]
        assert (interaction.pk in {i["id"] for i in listed}) is visible

    elif endpoint == "history":
        response = client.get(f"/api/v1/audit?entity={entity}&object_id={obj.pk}")
        assert response.status_code == _expected_detail(role, kind, team_sharing)

    elif endpoint == "search":
        response = client.get(f"/api/v1/search?q={NAMES[kind]}")
        assert response.status_code == 200
        hits = [h for h in response.json()["items"] if h["entity"] == entity]
        shown = [h for h in hits if h["visible"]]
        hidden = [h for h in hits if not h["visible"]]
        assert all(h["id"] is None and h["title"] == "" and h["subtitle"] == "" for h in hidden)
        if visible:
            assert obj.pk in [h["id"] for h in shown]
            title = next(h["title"] for h in shown if h["id"] == obj.pk)
            assert NAMES[kind] in title
        else:
            # The record exists and whose it is — and nothing else.
            assert obj.pk not in [h["id"] for h in shown]
            assert NAMES[kind] not in response.content.decode()
            assert obj.owner_id in [h["owner_id"] for h in hidden]
    else:  # pragma: no cover
        raise AssertionError(endpoint)
