"""/api/v1/contacts over HTTP: CRUD, validation, ETags, filters, pagination, consent, shares."""

import pytest

from kliento.core.models import AuditLog
from kliento.core.services import custom_field_create
from kliento.customers.models import Consent, Contact, ContactCompany, RecordShare
from kliento.customers.services import record_share

JSON = "application/json"


def fields(response) -> dict:
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    return body["fields"]


# --- create -----------------------------------------------------------------------------------


def test_create_contact_normalises_and_returns_it(org, api):
    response = api(org.rep).post(
        "/api/v1/contacts",
        {
            "first_name": " Anna ",
            "last_name": "Ivanova",
            "emails": ["Anna@Example.COM", "anna.i@example.com"],
            "phones": ["8 (916) 123-45-67"],
            "tags": ["VIP", "b2b"],
            "birth_date": "1990-05-17",
            "lifecycle_stage": "prospect",
            "social": {"telegram": "@anna"},
        },
        content_type=JSON,
    )

    assert response.status_code == 201
    body = response.json()
    contact = Contact.objects.get()
    assert response["ETag"] == f'"{contact.pk}-1"'
    assert response["Location"] == f"/api/v1/contacts/{contact.pk}"
    assert body["first_name"] == "Anna"
    assert body["full_name"] == "Anna Ivanova"
    assert body["email"] == "anna@example.com"
    assert body["emails"] == ["anna@example.com", "anna.i@example.com"]
    assert body["phones"] == ["+79161234567"]
    assert body["phones_display"] == ["+7 916 123-45-67"]
    assert body["phone_display"] == "+7 916 123-45-67"
    assert body["tags"] == ["b2b", "vip"]
    assert body["birth_date"] == "1990-05-17"
    assert body["owner_id"] == org.rep.pk
    assert body["owner_name"] == "Rep"
    assert body["social"] == {"telegram": "@anna"}
    assert body["companies"] == []
    assert body["consents"] == []
    assert body["version"] == 1
    assert (
        AuditLog.objects.filter(entity="contact", object_id=contact.pk, action="create").count()
        == 1
    )


def test_create_contact_names_each_invalid_field(org, api):
    response = api(org.rep).post(
        "/api/v1/contacts",
        {"first_name": "Anna", "emails": ["ok@example.com", "not-an-email"], "phones": ["12"]},
        content_type=JSON,
    )

    assert response.status_code == 422
    assert set(fields(response)) == {"emails.1", "phones.0"}
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"first_name": "A", "nickname": "x"}, "nickname"),
        ({"first_name": 5}, "first_name"),
        ({"first_name": "A" * 101}, "first_name"),
        ({"first_name": "A\x00B"}, "first_name"),
        ({"first_name": "A", "emails": "a@b.c"}, "emails"),
        ({"first_name": "A", "emails": [1]}, "emails.0"),
        ({"first_name": "A", "birth_date": "1990-02-30"}, "birth_date"),
        ({"first_name": "A", "birth_date": "yesterday"}, "birth_date"),
        ({"first_name": "A", "birth_date": "0001-01-01"}, "birth_date"),
        ({"first_name": "A", "lifecycle_stage": "whale"}, "lifecycle_stage"),
        ({"first_name": "A", "gender": "x"}, "gender"),
        ({"first_name": "A", "country": "Russia"}, "country"),
        ({"first_name": "A", "owner_id": 10**30}, "owner_id"),
        ({"first_name": "A", "owner_id": "me"}, "owner_id"),
        ({"first_name": "A", "owner_id": 999999}, "owner_id"),
        ({"first_name": "A", "tags": ["x" * 51]}, "tags.0"),
        ({"first_name": "A", "social": {"vk": 5}}, "social.vk"),
        ({"first_name": "A", "custom": {"nope": 1}}, "custom.nope"),
        ({"first_name": "A", "custom": {"x": "\x00"}}, "custom"),
        ({"first_name": "A", "companies": [{"company_id": 999999}]}, "companies.0.company_id"),
        ({"first_name": "A", "companies": [{"id": 1}]}, "companies.0.company_id"),
        ({}, "first_name"),
    ],
)
def test_create_contact_refuses_bad_input(org, api, payload, field):
    response = api(org.rep).post("/api/v1/contacts", payload, content_type=JSON)

    assert response.status_code == 422, response.content
    assert field in fields(response), fields(response)
    assert not Contact.objects.exists()


def test_rep_cannot_give_contact_to_another_team(org, api):
    response = api(org.rep).post(
        "/api/v1/contacts", {"first_name": "A", "owner_id": org.other_rep.pk}, content_type=JSON
    )

    assert response.status_code == 422
    assert set(fields(response)) == {"owner_id"}


def test_analyst_cannot_create(org, api):
    response = api(org.analyst).post("/api/v1/contacts", {"first_name": "A"}, content_type=JSON)

    assert response.status_code == 403
    assert not Contact.objects.exists()


def test_create_with_custom_values_and_company_links(org, api, company_factory):
    custom_field_create(actor=org.admin, entity="contact", label="Shoe", type="number")
    company = company_factory(owner=org.rep)

    response = api(org.rep).post(
        "/api/v1/contacts",
        {
            "first_name": "A",
            "custom": {"shoe": "42"},
            "companies": [{"company_id": company.pk, "title": "CEO"}],
        },
        content_type=JSON,
    )

    assert response.status_code == 201
    body = response.json()
    assert body["custom"] == {"shoe": 42}
    assert body["companies"] == [
        {
            "company_id": company.pk,
            "name": company.name,
            "role": "",
            "title": "CEO",
            "is_primary": True,
        }
    ]


def test_invalid_custom_value_names_the_field(org, api):
    custom_field_create(actor=org.admin, entity="contact", label="Shoe", type="number")

    response = api(org.rep).post(
        "/api/v1/contacts", {"first_name": "A", "custom": {"shoe": "big"}}, content_type=JSON
    )

    assert response.status_code == 422
    assert fields(response) == {"custom.shoe": "Expected a number, got 'big'."}


# --- detail and ETags --------------------------------------------------------------------------


def test_detail_has_etag_and_honours_if_none_match(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)
    client = api(org.rep)

    first = client.get(f"/api/v1/contacts/{contact.pk}")
    again = client.get(f"/api/v1/contacts/{contact.pk}", HTTP_IF_NONE_MATCH=first["ETag"])
    other = client.get(f"/api/v1/contacts/{contact.pk}", HTTP_IF_NONE_MATCH='"1-99"')

    assert first.status_code == 200
    assert first["ETag"] == f'"{contact.pk}-1"'
    assert first.json()["id"] == contact.pk
    assert again.status_code == 304
    assert again.content == b""
    assert other.status_code == 200


def test_detail_of_missing_contact_is_404(org, api):
    response = api(org.rep).get("/api/v1/contacts/123456")

    assert response.status_code == 404
    assert fields(response) == {}


def test_detail_shows_consents(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)
    Consent.objects.create(contact=contact, channel="sms", status="opt_out", source="form")

    body = api(org.rep).get(f"/api/v1/contacts/{contact.pk}").json()

    assert [(c["channel"], c["status"], c["source"]) for c in body["consents"]] == [
        ("sms", "opt_out", "form")
    ]


# --- update -----------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields_and_bumps_version(org, api, contact_factory):
    contact = contact_factory(owner=org.rep, city="Tver")

    response = api(org.rep).patch(
        f"/api/v1/contacts/{contact.pk}",
        {"last_name": "Smirnova"},
        content_type=JSON,
        HTTP_IF_MATCH=contact.etag,
    )

    assert response.status_code == 200
    assert response["ETag"] == f'"{contact.pk}-2"'
    contact.refresh_from_db()
    assert (contact.last_name, contact.city, contact.version) == ("Smirnova", "Tver", 2)
    audit = AuditLog.objects.get(entity="contact", object_id=contact.pk, action="update")
    assert set(audit.changes) == {"last_name"}
    assert audit.changes["last_name"][1] == "Smirnova"


@pytest.mark.parametrize("if_match", ['"{pk}-0"', '"{pk}-2"', '"0-1"', "garbage", '"{pk}-1x"'])
def test_patch_with_stale_if_match_is_412_and_changes_nothing(org, api, contact_factory, if_match):
    contact = contact_factory(owner=org.rep, city="Tver")

    response = api(org.rep).patch(
        f"/api/v1/contacts/{contact.pk}",
        {"city": "Omsk"},
        content_type=JSON,
        HTTP_IF_MATCH=if_match.format(pk=contact.pk),
    )

    assert response.status_code == 412
    assert response.json()["code"] == "stale"
    contact.refresh_from_db()
    assert (contact.city, contact.version) == ("Tver", 1)


def test_lost_update_is_prevented(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)
    alice, bob = api(org.rep), api(org.rep)
    etag = alice.get(f"/api/v1/contacts/{contact.pk}")["ETag"]
    assert bob.get(f"/api/v1/contacts/{contact.pk}")["ETag"] == etag

    first = alice.patch(
        f"/api/v1/contacts/{contact.pk}", {"city": "A"}, content_type=JSON, HTTP_IF_MATCH=etag
    )
    second = bob.patch(
        f"/api/v1/contacts/{contact.pk}", {"city": "B"}, content_type=JSON, HTTP_IF_MATCH=etag
    )

    assert (first.status_code, second.status_code) == (200, 412)
    contact.refresh_from_db()
    assert contact.city == "A"


def test_patch_without_if_match_is_allowed(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).patch(
        f"/api/v1/contacts/{contact.pk}", {"city": "Omsk"}, content_type=JSON
    )

    assert response.status_code == 200
    assert response.json()["city"] == "Omsk"


@pytest.mark.parametrize(
    "payload",
    [{"first_name": None}, {"emails": None}, {"lifecycle_stage": None}, {"owner": 1}, {"id": 5}],
)
def test_patch_refuses_null_or_unknown(org, api, contact_factory, payload):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).patch(f"/api/v1/contacts/{contact.pk}", payload, content_type=JSON)

    assert response.status_code == 422
    assert set(fields(response)) == set(payload)


def test_patch_birth_date_null_clears_it(org, api, contact_factory):
    import datetime

    contact = contact_factory(owner=org.rep, birth_date=datetime.date(1980, 1, 2))

    response = api(org.rep).patch(
        f"/api/v1/contacts/{contact.pk}", {"birth_date": None}, content_type=JSON
    )

    assert response.status_code == 200
    assert response.json()["birth_date"] is None


def test_put_replaces_every_field(org, api, contact_factory):
    custom_field_create(actor=org.admin, entity="contact", label="Shoe", type="number")
    contact = contact_factory(owner=org.rep, city="Tver", custom={"shoe": 40}, tags=",a,")

    response = api(org.rep).put(
        f"/api/v1/contacts/{contact.pk}",
        {"first_name": "Oleg", "emails": ["oleg@example.com"]},
        content_type=JSON,
        HTTP_IF_MATCH=contact.etag,
    )

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.first_name == "Oleg"
    assert contact.last_name == ""
    assert contact.city == ""
    assert contact.phones == []
    assert contact.custom == {}
    assert contact.tags == ""
    assert contact.owner_id == org.rep.pk


# --- delete -----------------------------------------------------------------------------------


def test_delete_contact(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).delete(f"/api/v1/contacts/{contact.pk}", HTTP_IF_MATCH=contact.etag)

    assert response.status_code == 204
    assert response.content == b""
    assert not Contact.objects.exists()
    assert AuditLog.objects.filter(entity="contact", action="delete").count() == 1


def test_delete_with_stale_if_match_is_412(org, api, contact_factory):
    contact = contact_factory(owner=org.rep, version=3)

    response = api(org.rep).delete(
        f"/api/v1/contacts/{contact.pk}", HTTP_IF_MATCH=f'"{contact.pk}-2"'
    )

    assert response.status_code == 412
    assert Contact.objects.filter(pk=contact.pk).exists()


# --- list -------------------------------------------------------------------------------------


def test_list_shows_only_visible_contacts_by_name(org, api, contact_factory):
    b = contact_factory(owner=org.rep, last_name="Bykov", first_name="Ivan")
    a = contact_factory(owner=org.rep, last_name="Antonov", first_name="Oleg")
    contact_factory(owner=org.other_rep, last_name="Aardvark")

    response = api(org.rep).get("/api/v1/contacts")

    assert response.status_code == 200
    body = response.json()
    assert [c["id"] for c in body["items"]] == [a.pk, b.pk]
    assert body["next_cursor"] is None
    assert set(body["items"][0]) == {
        "id",
        "full_name",
        "first_name",
        "last_name",
        "email",
        "phone",
        "phone_display",
        "city",
        "lifecycle_stage",
        "tags",
        "owner_id",
        "owner_name",
        "custom",
        "version",
        "created_at",
        "updated_at",
    }


def test_list_paginates_with_cursor_without_gaps(org, api, contact_factory):
    contacts = [contact_factory(owner=org.rep, last_name=f"N{i:02d}") for i in range(7)]
    client = api(org.rep)

    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/contacts?limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).json()
        seen += [c["id"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break

    assert seen == [c.pk for c in contacts]
    assert pages == 3


@pytest.mark.parametrize(
    ("sort", "order"),
    [("name", [0, 1, 2]), ("-name", [2, 1, 0]), ("created", [1, 2, 0]), ("-created", [0, 2, 1])],
)
def test_list_sorts(org, api, contact_factory, sort, order):
    import datetime

    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    contacts = [
        contact_factory(owner=org.rep, last_name="A", created_at=base + datetime.timedelta(3)),
        contact_factory(owner=org.rep, last_name="B", created_at=base + datetime.timedelta(1)),
        contact_factory(owner=org.rep, last_name="C", created_at=base + datetime.timedelta(2)),
    ]

    body = api(org.rep).get(f"/api/v1/contacts?sort={sort}").json()

    assert [c["id"] for c in body["items"]] == [contacts[i].pk for i in order]


def test_list_filters(org, api, contact_factory, company_factory):
    import datetime

    custom_field_create(
        actor=org.admin, entity="contact", label="Tier", type="choice", choices=["gold", "tin"]
    )
    company = company_factory(owner=org.rep)
    gold = contact_factory(
        owner=org.rep,
        city="Omsk",
        lifecycle_stage="customer",
        tags=",vip,",
        custom={"tier": "gold"},
        created_at=datetime.datetime(2025, 6, 1, tzinfo=datetime.UTC),
    )
    tin = contact_factory(owner=org.rep, custom={"tier": "tin"}, phone="+79161112233")
    ContactCompany.objects.create(contact=tin, company=company)
    client = api(org.rep)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/contacts?{query}")
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["items"]]

    assert ids("city=omsk") == [gold.pk]
    assert ids("stage=customer") == [gold.pk]
    assert ids("tag=VIP") == [gold.pk]
    assert ids("custom.tier=gold") == [gold.pk]
    assert ids("custom.tier=tin") == [tin.pk]
    assert ids(f"company_id={company.pk}") == [tin.pk]
    assert ids("phone=8 916 111-22-33") == [tin.pk]
    assert ids(f"email={gold.email.upper()}") == [gold.pk]
    assert ids("created_before=2025-07-01T00:00:00Z") == [gold.pk]
    assert ids(f"owner_id={org.rep.pk}&city=") == sorted([gold.pk, tin.pk])
    assert ids(f"q={gold.first_name}") == [gold.pk]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("colour=red", 422, "colour"),
        ("custom.nope=1", 422, "custom.nope"),
        ("sort=age", 422, "sort"),
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limit=ten", 422, "limit"),
        ("stage=whale", 422, "stage"),
        ("owner_id=abc", 422, "owner_id"),
        ("owner_id=99999999999999999999999", 422, "owner_id"),
        ("created_after=2024-02-30", 422, "created_after"),
        ("created_after=10000-01-01", 422, "created_after"),
        ("phone=abc", 422, "phone"),
        ("q=%00", 422, "q"),
        ("cursor=garbage", 400, None),
        ("cursor=" + "x" * 600, 422, "cursor"),
    ],
)
def test_list_refuses_bad_parameters(org, api, query, status, field):
    response = api(org.rep).get(f"/api/v1/contacts?{query}")

    assert response.status_code == status, response.content
    if field:
        assert field in fields(response)


def test_list_query_count_is_constant(org, api, contact_factory, django_assert_max_num_queries):
    for _ in range(30):
        contact_factory(owner=org.rep)
    client = api(org.head)
    client.get("/api/v1/users/me")

    # auth, scope (team subtree: 2), the page
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/contacts?limit=50")
    assert len(response.json()["items"]) == 30


def test_detail_query_count(org, api, contact_factory, django_assert_max_num_queries):
    contact = contact_factory(owner=org.rep)
    client = api(org.rep)
    client.get("/api/v1/contacts")  # key touched, org settings row created

    # key, contact, org settings (scope), company links, consents
    with django_assert_max_num_queries(5):
        assert client.get(f"/api/v1/contacts/{contact.pk}").status_code == 200


# --- consent ---------------------------------------------------------------------------------


def test_set_consent(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).put(
        f"/api/v1/contacts/{contact.pk}/consent/email",
        {"status": "opt_out", "source": "phone call"},
        content_type=JSON,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["channel"], body["status"], body["source"]) == ("email", "opt_out", "phone call")
    assert Consent.objects.get(contact=contact).status == "opt_out"


@pytest.mark.parametrize(
    ("channel", "payload", "field"),
    [
        ("pigeon", {"status": "opt_in"}, "channel"),
        ("email", {"status": "maybe"}, "status"),
        ("email", {}, "status"),
        ("email", {"status": "opt_in", "when": "now"}, "when"),
    ],
)
def test_consent_validation(org, api, contact_factory, channel, payload, field):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).put(
        f"/api/v1/contacts/{contact.pk}/consent/{channel}", payload, content_type=JSON
    )

    assert response.status_code == 422
    assert field in fields(response)
    assert not Consent.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("analyst", 403), ("other_rep", 404)])
def test_consent_permissions(org, api, contact_factory, role, status):
    contact = contact_factory(owner=org.rep)

    response = api(org.users[role]).put(
        f"/api/v1/contacts/{contact.pk}/consent/email", {"status": "opt_in"}, content_type=JSON
    )

    assert response.status_code == status
    assert not Consent.objects.exists()


# --- shares ------------------------------------------------------------------------------------


def test_share_makes_contact_visible_to_target(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)
    target = api(org.other_rep)
    assert target.get(f"/api/v1/contacts/{contact.pk}").status_code == 404

    response = api(org.rep).post(
        f"/api/v1/contacts/{contact.pk}/shares",
        {"user_id": org.other_rep.pk, "can_edit": False},
        content_type=JSON,
    )

    assert response.status_code == 200
    assert response.json()["user_id"] == org.other_rep.pk
    assert response.json()["can_edit"] is False
    assert target.get(f"/api/v1/contacts/{contact.pk}").status_code == 200
    patched = target.patch(f"/api/v1/contacts/{contact.pk}", {"city": "X"}, content_type=JSON)
    assert patched.status_code == 403
    listed = api(org.rep).get(f"/api/v1/contacts/{contact.pk}/shares").json()
    assert [(s["user_id"], s["can_edit"]) for s in listed] == [(org.other_rep.pk, False)]


def test_unshare_hides_contact_again(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)
    record_share(user=org.rep, entity="contact", obj=contact, target=org.other_rep)

    response = api(org.rep).delete(f"/api/v1/contacts/{contact.pk}/shares/{org.other_rep.pk}")

    assert response.status_code == 204
    assert not RecordShare.objects.exists()
    assert api(org.other_rep).get(f"/api/v1/contacts/{contact.pk}").status_code == 404


@pytest.mark.parametrize(("role", "status"), [("other_rep", 404), ("analyst", 403)])
def test_only_writers_share(org, api, contact_factory, role, status):
    contact = contact_factory(owner=org.rep)

    response = api(org.users[role]).post(
        f"/api/v1/contacts/{contact.pk}/shares", {"user_id": org.users[role].pk}, content_type=JSON
    )

    assert response.status_code == status
    assert not RecordShare.objects.exists()


def test_share_with_unknown_user_is_422(org, api, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = api(org.rep).post(
        f"/api/v1/contacts/{contact.pk}/shares", {"user_id": 999999}, content_type=JSON
    )

    assert response.status_code == 422
    assert set(fields(response)) == {"user_id"}
