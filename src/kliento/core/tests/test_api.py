"""The API's plumbing (auth, the error shape, OpenAPI/docs) and the core endpoints over HTTP."""

import json
import re

import pytest
from django.test import Client

from kliento.core.models import ApiKey, AuditLog, CustomField
from kliento.core.services import apikey_create, apikey_revoke, custom_field_create

JSON = "application/json"


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    return body


# --- authentication --------------------------------------------------------------------------


def test_no_credentials_is_401_json(org):
    response = Client().get("/api/v1/contacts")

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="kliento"'


@pytest.mark.parametrize(
    "header",
    ["Bearer nope", "Bearer kl_wrong", "Basic dXNlcjpwYXNz", "Bearer", "kl_only"],
)
def test_bad_bearer_is_401(org, header):
    response = Client(HTTP_AUTHORIZATION=header).get("/api/v1/users/me")

    assert response.status_code == 401
    assert error(response)["code"] == "unauthenticated"


def test_bearer_key_authenticates_its_user(org, api):
    response = api(org.rep).get("/api/v1/users/me")

    assert response.status_code == 200
    assert response.json()["username"] == "rep"


def test_revoked_key_is_401(org):
    key, raw = apikey_create(actor=org.rep, user=org.rep)
    apikey_revoke(actor=org.rep, key=key)

    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/users/me")

    assert response.status_code == 401


def test_inactive_users_key_is_401(org):
    _key, raw = apikey_create(actor=org.rep, user=org.rep)
    org.rep.is_active = False
    org.rep.save(update_fields=["is_active"])

    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/users/me")

    assert response.status_code == 401


def test_session_authenticates_safe_methods(org, login):
    response = login(org.head).get("/api/v1/users/me")

    assert response.status_code == 200
    assert response.json()["username"] == "head"


def test_session_write_without_csrf_token_is_403_and_changes_nothing(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.rep)

    response = client.post("/api/v1/contacts", {"first_name": "Eve"}, content_type=JSON)

    assert response.status_code == 403
    assert error(response)["code"] == "csrf_failed"
    assert not AuditLog.objects.filter(entity="contact").exists()


def test_session_write_with_csrf_token_succeeds(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.rep)
    page = client.get("/api/v1/docs")
    token = re.search(r'data-csrf-token="([^"]+)"', page.content.decode()).group(1)

    response = client.post(
        "/api/v1/contacts", {"first_name": "Eve"}, content_type=JSON, HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 201
    assert response.json()["first_name"] == "Eve"


def test_bearer_write_needs_no_csrf_token(org):
    _key, raw = apikey_create(actor=org.rep, user=org.rep)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {raw}")

    response = client.post("/api/v1/contacts", {"first_name": "Eve"}, content_type=JSON)

    assert response.status_code == 201


def test_anonymous_write_is_401_not_csrf_403(org):
    response = Client(enforce_csrf_checks=True).post(
        "/api/v1/contacts", {"first_name": "Eve"}, content_type=JSON
    )

    assert response.status_code == 401


# --- the error shape for malformed requests ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{bad json", JSON, 400, "bad_request"),
        (b"\xff\xfe\xfa", JSON, 400, "bad_request"),
        ('{"first_name": NaN}', JSON, 400, "bad_request"),
        ("[" * 100_000, JSON, 400, "bad_request"),
        ("first_name=Eve", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("first_name,Eve", "text/csv", 415, "unsupported_media_type"),
        ("[1, 2]", JSON, 422, "invalid"),
        ('"text"', JSON, 422, "invalid"),
        ("null", JSON, 422, "invalid"),
        ("", JSON, 422, "invalid"),
    ],
)
def test_unreadable_body_is_a_4xx_in_the_error_shape(org, api, body, content_type, status, code):
    response = api(org.rep).post("/api/v1/contacts", body, content_type=content_type)

    assert response.status_code == status
    assert error(response)["code"] == code


def test_multipart_body_is_415(org, api):
    response = api(org.rep).post("/api/v1/contacts", {"first_name": "Eve"})

    assert response.status_code == 415


def test_body_over_one_megabyte_is_413(org, api):
    body = json.dumps({"first_name": "x" * (1024 * 1024)})

    response = api(org.rep).post("/api/v1/contacts", body, content_type=JSON)

    assert response.status_code == 413
    assert error(response)["code"] == "too_large"


def test_unknown_endpoint_is_json_404(org, api):
    response = api(org.rep).get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_wrong_method_is_json_405(org, api):
    response = api(org.rep).delete("/api/v1/users")

    assert response.status_code == 405
    assert error(response)["code"] == "method_not_allowed"
    assert response["Allow"] == "GET"


# --- OpenAPI and docs --------------------------------------------------------------------------


def test_openapi_lists_every_endpoint(db):
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for expected in [
        "/api/v1/contacts",
        "/api/v1/contacts/{id}",
        "/api/v1/contacts/{id}/timeline",
        "/api/v1/contacts/{id}/who-worked",
        "/api/v1/contacts/{id}/consent/{channel}",
        "/api/v1/companies",
        "/api/v1/companies/{id}",
        "/api/v1/companies/{id}/timeline",
        "/api/v1/companies/{id}/who-worked",
        "/api/v1/interactions",
        "/api/v1/interactions/{id}",
        "/api/v1/interactions/{id}/complete",
        "/api/v1/tasks",
        "/api/v1/search",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/users/me",
        "/api/v1/teams",
        "/api/v1/teams/{id}",
        "/api/v1/custom-fields",
        "/api/v1/custom-fields/{id}",
        "/api/v1/audit",
    ]:
        assert expected in paths, expected
    assert set(paths["/api/v1/contacts/{id}"]) == {"get", "put", "patch", "delete"}


def test_docs_page_uses_only_local_assets(db):
    response = Client().get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    assert all(url.startswith("/static/") for url in urls), urls
    assert "cdn" not in html.lower()
    assert "/api/v1/openapi.json" in html


def test_docs_assets_are_served(db):
    for asset in ["ninja/swagger-ui.css", "ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js"]:
        response = Client().get(f"/static/{asset}")
        assert response.status_code == 200, asset


# --- users and teams --------------------------------------------------------------------------


def test_user_list_is_ordered_by_username(org, api):
    response = api(org.analyst).get("/api/v1/users")

    assert response.status_code == 200
    names = [u["username"] for u in response.json()["items"]]
    assert names == sorted(org.users)
    assert response.json()["next_cursor"] is None


def test_user_list_pages_with_cursor(org, api):
    client = api(org.rep)

    first = client.get("/api/v1/users?limit=3").json()
    second = client.get(f"/api/v1/users?limit=3&cursor={first['next_cursor']}").json()

    assert [u["username"] for u in first["items"]] == ["admin", "analyst", "head"]
    assert [u["username"] for u in second["items"]] == ["marketer", "other_rep", "rep"]


def test_user_list_filters_by_role_and_team(org, api):
    client = api(org.rep)

    reps = client.get("/api/v1/users?role=rep").json()["items"]
    moscow = client.get(f"/api/v1/users?team_id={org.teams['moscow'].pk}").json()["items"]

    assert [u["username"] for u in reps] == ["other_rep", "rep", "rep_peer"]
    assert [u["username"] for u in moscow] == ["rep", "rep_peer"]


@pytest.mark.parametrize("query", ["role=king", "team_id=x", "limit=0", "limit=201", "cursor=zz"])
def test_user_list_refuses_bad_parameters(org, api, query):
    response = api(org.rep).get(f"/api/v1/users?{query}")

    assert response.status_code in {400, 422}
    error(response)


def test_user_detail_and_me(org, api):
    client = api(org.rep)

    detail = client.get(f"/api/v1/users/{org.head.pk}")
    me = client.get("/api/v1/users/me")

    assert detail.json() == {
        "id": org.head.pk,
        "username": "head",
        "first_name": "Head",
        "last_name": "",
        "display_name": "Head",
        "role": "head",
        "team_id": org.teams["sales"].pk,
        "is_active": True,
    }
    assert me.json()["language"] == "en"
    assert "password" not in detail.json()


def test_user_detail_unknown_is_404(org, api):
    assert api(org.rep).get("/api/v1/users/999999").status_code == 404


def test_team_list_and_detail(org, api):
    client = api(org.rep)

    teams = client.get("/api/v1/teams").json()
    moscow = client.get(f"/api/v1/teams/{org.teams['moscow'].pk}").json()

    assert [t["name"] for t in teams] == ["Acme", "Marketing", "Sales", "Kazan", "Moscow"]
    assert [t["depth"] for t in teams] == [0, 1, 1, 2, 2]
    assert [m["username"] for m in moscow["members"]] == ["rep", "rep_peer"]
    assert moscow["parent_id"] == org.teams["sales"].pk


def test_team_unknown_is_404(org, api):
    assert api(org.rep).get("/api/v1/teams/999999").status_code == 404


def test_user_list_query_count(org, api, django_assert_max_num_queries):
    client = api(org.rep)
    client.get("/api/v1/users/me")  # key's last_used_at is touched once

    with django_assert_max_num_queries(3):
        response = client.get("/api/v1/users")
    assert response.status_code == 200


# --- custom field definitions ----------------------------------------------------------------


def test_admin_creates_custom_field(org, api):
    response = api(org.admin).post(
        "/api/v1/custom-fields",
        {"entity": "contact", "label": "Shoe size", "type": "number"},
        content_type=JSON,
    )

    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "entity": "contact",
        "key": "shoe_size",
        "label": "Shoe size",
        "type": "number",
        "choices": [],
        "required": False,
        "position": 0,
    }


@pytest.mark.parametrize("role", ["head", "rep", "marketer", "support", "analyst"])
def test_only_admin_defines_custom_fields(org, api, role):
    response = api(org.users[role]).post(
        "/api/v1/custom-fields",
        {"entity": "contact", "label": "Shoe size", "type": "number"},
        content_type=JSON,
    )

    assert response.status_code == 403
    assert not CustomField.objects.exists()


def test_custom_field_validation(org, api):
    response = api(org.admin).post(
        "/api/v1/custom-fields",
        {"entity": "deal", "label": "", "type": "colour", "extra": 1},
        content_type=JSON,
    )

    assert response.status_code == 422
    assert set(error(response)["fields"]) == {"entity", "label", "type", "extra"}


def test_custom_field_choice_needs_choices(org, api):
    response = api(org.admin).post(
        "/api/v1/custom-fields",
        {"entity": "company", "label": "Tier", "type": "choice"},
        content_type=JSON,
    )

    assert response.status_code == 422
    assert set(error(response)["fields"]) == {"choices"}


def test_duplicate_custom_field_key_is_409(org, api):
    client = api(org.admin)
    payload = {"entity": "contact", "label": "Tier", "type": "text"}
    client.post("/api/v1/custom-fields", payload, content_type=JSON)

    response = client.post("/api/v1/custom-fields", payload, content_type=JSON)

    assert response.status_code == 409
    assert error(response)["fields"] == {"key": "A contact field 'tier' already exists."}


def test_everyone_lists_custom_fields(org, api):
    custom_field_create(actor=org.admin, entity="contact", label="B", type="text", position=2)
    custom_field_create(actor=org.admin, entity="contact", label="A", type="text", position=1)
    custom_field_create(actor=org.admin, entity="company", label="C", type="text")

    contacts = api(org.analyst).get("/api/v1/custom-fields?entity=contact").json()
    every = api(org.rep).get("/api/v1/custom-fields").json()

    assert [f["key"] for f in contacts] == ["a", "b"]
    assert [f["key"] for f in every] == ["c", "a", "b"]


def test_admin_updates_and_deletes_custom_field(org, api):
    field = custom_field_create(actor=org.admin, entity="contact", label="Tier", type="text")
    client = api(org.admin)

    patched = client.patch(
        f"/api/v1/custom-fields/{field.pk}", {"label": "Level", "required": True}, content_type=JSON
    )
    deleted = client.delete(f"/api/v1/custom-fields/{field.pk}")

    assert patched.status_code == 200
    assert patched.json()["label"] == "Level"
    assert patched.json()["required"] is True
    assert deleted.status_code == 204
    assert not CustomField.objects.exists()


@pytest.mark.parametrize("role", ["head", "rep", "analyst"])
def test_non_admin_cannot_change_custom_field(org, api, role):
    field = custom_field_create(actor=org.admin, entity="contact", label="Tier", type="text")
    client = api(org.users[role])

    patched = client.patch(
        f"/api/v1/custom-fields/{field.pk}", {"label": "Level"}, content_type=JSON
    )
    deleted = client.delete(f"/api/v1/custom-fields/{field.pk}")

    assert patched.status_code == 403
    assert deleted.status_code == 403
    field.refresh_from_db()
    assert field.label == "Tier"


def test_custom_field_patch_refuses_null_and_unknown(org, api):
    field = custom_field_create(actor=org.admin, entity="contact", label="Tier", type="text")

    response = api(org.admin).patch(
        f"/api/v1/custom-fields/{field.pk}", {"label": None, "type": "number"}, content_type=JSON
    )

    assert response.status_code == 422
    assert set(error(response)["fields"]) == {"label", "type"}


# --- API keys ---------------------------------------------------------------------------------


def test_apikey_create_shows_key_once_and_it_works(org, api):
    client = api(org.rep)

    created = client.post("/api/v1/api-keys", {"name": "laptop"}, content_type=JSON)
    listed = client.get("/api/v1/api-keys").json()

    assert created.status_code == 201
    raw = created.json()["key"]
    assert raw.startswith("kl_")
    assert all("key" not in k for k in listed)
    assert [k["name"] for k in listed] == ["laptop", "test"]
    me = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/users/me")
    assert me.json()["username"] == "rep"


def test_apikey_revoke_own_only(org, api):
    other_key, _raw = apikey_create(actor=org.rep_peer, user=org.rep_peer)
    client = api(org.rep)

    assert client.delete(f"/api/v1/api-keys/{other_key.pk}").status_code == 404
    own = ApiKey.objects.get(user=org.rep)
    assert client.delete(f"/api/v1/api-keys/{own.pk}").status_code == 204
    other_key.refresh_from_db()
    assert other_key.revoked_at is None
    # The key used for the request is now revoked.
    assert client.get("/api/v1/users/me").status_code == 401
