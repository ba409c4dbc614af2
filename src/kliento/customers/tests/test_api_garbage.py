"""Garbage in, a 4xx in the error shape out — never a 500.

Hand-picked nasties first (huge numbers, impossible dates, NULs, wrong types, non-UTF-8,
wrong content types), then Hypothesis throwing arbitrary JSON and query strings at every
writing and listing endpoint.
"""

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kliento.core.services import custom_field_create

JSON = "application/json"
HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def world(org, api, contact_factory, company_factory, interaction_factory):
    for key, kind in [("n", "number"), ("d", "date"), ("b", "boolean"), ("t", "text")]:
        custom_field_create(actor=org.admin, entity="contact", key=key, label=key, type=kind)
    for key, kind in [("c", "choice"), ("m", "multichoice")]:
        custom_field_create(
            actor=org.admin, entity="contact", key=key, label=key, type=kind, choices=["x", "y"]
        )
    contact = contact_factory(owner=org.rep)
    company = company_factory(owner=org.rep)
    interaction = interaction_factory(contact=contact, user=org.rep)
    return {
        "client": api(org.rep),
        "contact": contact,
        "company": company,
        "interaction": interaction,
    }


def assert_client_error(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code != 304:
        body = response.json()
        assert set(body) == {"code", "message", "fields"}, body


def write_urls(world) -> list[tuple[str, str]]:
    c, co, i = world["contact"].pk, world["company"].pk, world["interaction"].pk
    return [
        ("post", "/api/v1/contacts"),
        ("patch", f"/api/v1/contacts/{c}"),
        ("put", f"/api/v1/contacts/{c}"),
        ("put", f"/api/v1/contacts/{c}/consent/email"),
        ("post", f"/api/v1/contacts/{c}/shares"),
        ("post", "/api/v1/companies"),
        ("patch", f"/api/v1/companies/{co}"),
        ("put", f"/api/v1/companies/{co}"),
        ("post", "/api/v1/interactions"),
        ("patch", f"/api/v1/interactions/{i}"),
        ("put", f"/api/v1/interactions/{i}"),
        ("post", f"/api/v1/interactions/{i}/complete"),
        ("post", "/api/v1/custom-fields"),
        ("post", "/api/v1/api-keys"),
    ]


def list_urls(world) -> list[str]:
    c, co = world["contact"].pk, world["company"].pk
    return [
        "/api/v1/contacts",
        "/api/v1/companies",
        "/api/v1/interactions",
        f"/api/v1/contacts/{c}/timeline",
        f"/api/v1/companies/{co}/timeline",
        "/api/v1/search",
        "/api/v1/users",
        "/api/v1/custom-fields",
        "/api/v1/audit",
    ]


NASTY_BODIES = [
    b"{",
    b"\xff\xfe\x00\x00",
    b'{"first_name": "\xc3\x28"}',
    b"[]",
    b"1e999999",
    b'{"first_name": Infinity}',
    b'{"first_name": "a", "first_name": 5}',
    json.dumps({"first_name": "A", "owner_id": 2**64}).encode(),
    json.dumps({"first_name": "A", "owner_id": -1}).encode(),
    json.dumps({"first_name": "A", "owner_id": 1.5}).encode(),
    json.dumps({"first_name": "A", "owner_id": True}).encode(),
    json.dumps({"first_name": "A", "birth_date": "2024-13-45"}).encode(),
    json.dumps({"first_name": "A", "birth_date": "99999-01-01"}).encode(),
    json.dumps({"first_name": "A", "birth_date": 10**20}).encode(),
    json.dumps({"first_name": "A", "emails": ["a@" + "b" * 300 + ".com"]}).encode(),
    json.dumps({"first_name": "A", "emails": ["x@y.z"] * 1000}).encode(),
    json.dumps({"first_name": "A", "phones": ["+" + "9" * 39]}).encode(),
    json.dumps({"first_name": "A", "tags": [["nested"]]}).encode(),
    json.dumps({"first_name": "A", "tags": ["a,b"]}).encode(),
    json.dumps({"first_name": "A", "tags": [f"t{i}" for i in range(50)] * 1}).encode(),
    json.dumps(
        {"first_name": "A", "custom": {"k": {"a": {"b": {"c": {"d": {"e": {}}}}}}}}
    ).encode(),
    json.dumps({"first_name": "A", "custom": {"k": 2**80}}).encode(),
    json.dumps({"first_name": "A", "custom": {"n": "1e999999"}}).encode(),
    json.dumps({"first_name": "A", "custom": {"n": 1e308, "d": "2024-02-30"}}).encode(),
    json.dumps({"first_name": "A", "custom": {"c": ["x"], "m": "zz", "b": "maybe"}}).encode(),
    json.dumps({"first_name": "A", "custom": {"t": "x" * 3000}}).encode(),
    json.dumps({"first_name": "A", "custom": {"m": [["x"]], "c": {"a": 1}}}).encode(),
    json.dumps({"first_name": "\ud800"}).encode(),
    json.dumps({"first_name": "A\u0000"}).encode(),
    json.dumps({"name": "A", "kind": "call", "occurred_at": "2024-02-30T10:00:00"}).encode(),
    json.dumps({"kind": "call", "contact_id": 2**63, "occurred_at": "1-1-1"}).encode(),
    json.dumps({"kind": "call", "contact_id": "1; DROP TABLE x"}).encode(),
    json.dumps({"status": "opt_in", "source": "x" * 10_000}).encode(),
    json.dumps({"user_id": 0}).encode(),
    json.dumps({"entity": "contact", "label": "L", "type": "number", "position": 2**40}).encode(),
    json.dumps({"name": "k" * 1000}).encode(),
]


@pytest.mark.parametrize("body", NASTY_BODIES, ids=range(len(NASTY_BODIES)))
def test_nasty_bodies_never_500(world, body):
    client = world["client"]
    for method, url in write_urls(world):
        response = getattr(client, method)(url, body, content_type=JSON)
        if response.status_code < 400:
            continue  # some bodies are valid for some endpoints
        assert_client_error(response)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "", "multipart/mixed"],
)
def test_wrong_content_types_never_500(world, content_type):
    client = world["client"]
    for method, url in write_urls(world):
        response = getattr(client, method)(url, b'{"first_name": "A"}', content_type=content_type)
        assert response.status_code < 500, (url, content_type, response.content)


NASTY_QUERIES = [
    "limit=-1",
    "limit=1e3",
    "limit=99999999999999999999999",
    "cursor=%00",
    "cursor=" + "a" * 10_000,
    "q=%00",
    "q=%FF%FE",
    "q=" + "%25" * 50,
    "q=*:*",
    "q=\"'();--",
    "owner_id=1.5",
    "owner_id=-5",
    "owner_id=" + "9" * 40,
    "company_id=0x10",
    "created_after=2024-02-30",
    "created_after=0000-00-00",
    "created_after=2024-01-01T25:00:00",
    "occurred_after=yesterday",
    "custom.%00=1",
    "custom.n=1e999999",
    "custom.n=NaN",
    "custom.d=2024-02-30",
    "custom.m=zz",
    "custom.b=maybe",
    "custom.c=%00",
    "custom.=1",
    "custom.x.y=1",
    "sort=-",
    "sort=name;drop",
    "planned=maybe",
    "entity=contact&object_id=" + "9" * 30,
    "entity=%00&object_id=1",
    "stage=lead&stage=customer",
    "limit=10&limit=20",
]


@pytest.mark.parametrize("query", NASTY_QUERIES)
def test_nasty_query_strings_never_500(world, query):
    client = world["client"]
    for url in list_urls(world):
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query, response.content[:300])
        if response.status_code >= 400:
            assert_client_error(response)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/contacts/-1",
        "/api/v1/contacts/0",
        "/api/v1/contacts/1.5",
        "/api/v1/contacts/%00",
        "/api/v1/contacts/%FF",
        "/api/v1/contacts/" + "9" * 100,
        "/api/v1/companies/1e5/timeline",
        "/api/v1/interactions/abc/complete",
        "/api/v1/contacts/1/consent/%00",
        "/api/v1/users/me2",
        "/api/v1/teams/" + "1" * 30,
    ],
)
def test_nasty_paths_never_500(world, path):
    client = world["client"]
    responses = [client.get(path), client.delete(path)] + [
        getattr(client, method)(path, "{}", content_type=JSON)
        for method in ("patch", "post", "put")
    ]
    for response in responses:
        assert_client_error(response)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
CONTACT_KEYS = [
    "first_name",
    "last_name",
    "emails",
    "phones",
    "birth_date",
    "gender",
    "tags",
    "social",
    "custom",
    "owner_id",
    "companies",
    "lifecycle_stage",
    "name",
    "kind",
    "contact_id",
    "occurred_at",
    "due_at",
    "planned",
    "duration_seconds",
    "status",
]
bodies = st.dictionaries(st.sampled_from(CONTACT_KEYS) | st.text(max_size=8), json_values)


@HYPOTHESIS
@given(body=bodies)
def test_arbitrary_json_bodies_never_500(world, body):
    client = world["client"]
    for method, url in write_urls(world):
        response = getattr(client, method)(url, json.dumps(body), content_type=JSON)
        assert response.status_code < 500, (method, url, body, response.content[:300])
        if response.status_code >= 400:
            assert_client_error(response)


query_params = st.dictionaries(
    st.sampled_from(
        ["q", "limit", "cursor", "sort", "owner_id", "city", "stage", "created_after", "kind"]
        + ["custom.x", "company_id", "planned", "entity", "object_id", "role", "team_id"]
    )
    | st.text(max_size=8),
    st.text(max_size=30),
    max_size=4,
)


@HYPOTHESIS
@given(params=query_params)
def test_arbitrary_query_strings_never_500(world, params):
    client = world["client"]
    for url in list_urls(world):
        response = client.get(f"{url}?{urlencode(params)}")
        assert response.status_code < 500, (url, params, response.content[:300])
