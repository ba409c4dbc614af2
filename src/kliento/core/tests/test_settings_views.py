"""The settings and administration pages over HTTP: who may open them, what the forms change."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from kliento.conftest import PASSWORD
from kliento.core.models import (
    ApiKey,
    AuditLog,
    CustomField,
    JobFailure,
    OrgSettings,
    Role,
    Team,
    User,
)
from kliento.core.services import (
    apikey_create,
    audit_record,
    custom_field_create,
    team_create,
)

ADMIN_PAGES = [
    "/settings/users/",
    "/settings/users/new/",
    "/settings/teams/",
    "/settings/custom-fields/",
    "/settings/custom-fields/new/",
    "/settings/organisation/",
    "/settings/audit/",
    "/settings/jobs/",
    "/settings/api-keys/",
]
NON_ADMINS = ["head", "rep", "marketer", "support", "analyst"]


def text(response) -> str:
    return response.content.decode()


def field_error(response, message: str) -> bool:
    """The message is rendered as a field error (beside its input), not only somewhere."""
    return f'<div class="field-error" role="alert">{message}</div>' in text(response)


# --- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ADMIN_PAGES + ["/settings/"])
def test_every_settings_page_renders_for_an_admin(org, login, url):
    response = login(org.admin).get(url)

    assert response.status_code == 200
    assert 'class="settings-nav"' in text(response)


@pytest.mark.parametrize("role", NON_ADMINS)
@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_are_403_for_everyone_else(org, login, role, url):
    response = login(org.users[role]).get(url)

    assert response.status_code == 403
    assert "Administrators only" in text(response)


def test_the_personal_page_renders_for_a_rep_without_admin_links(org, login):
    response = login(org.rep).get("/settings/")

    assert response.status_code == 200
    assert "My API keys" in text(response)
    assert "/settings/users/" not in text(response)


def test_an_anonymous_visitor_is_sent_to_sign_in(db, client):
    response = client.get("/settings/users/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_user_menu_links_settings_and_for_admins_administration(org, login):
    admin_page = text(login(org.admin).get("/"))
    rep_page = text(login(org.rep).get("/"))

    assert 'href="/settings/"' in admin_page
    assert 'href="/settings/users/"' in admin_page
    assert 'href="/settings/"' in rep_page
    assert 'href="/settings/users/"' not in rep_page


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (
            "/settings/users/new/",
            {"username": "mallory", "role": "admin", "password": "x" * 12, "password2": "x" * 12},
        ),
        ("/settings/teams/", {"name": "Shadow team", "parent": ""}),
        ("/settings/custom-fields/new/", {"entity": "contact", "label": "Sneaky", "type": "text"}),
        (
            "/settings/organisation/",
            {"company_name": "Hacked", "team_sharing": "on", "default_region": "US"},
        ),
    ],
)
def test_a_non_admin_post_is_403_and_changes_nothing(org, login, url, data):
    counts = (User.objects.count(), Team.objects.count(), CustomField.objects.count())
    audit_rows = AuditLog.objects.count()

    response = login(org.rep).post(url, data)

    assert response.status_code == 403
    assert (User.objects.count(), Team.objects.count(), CustomField.objects.count()) == counts
    assert AuditLog.objects.count() == audit_rows
    settings_row = OrgSettings.get()
    assert (settings_row.company_name, settings_row.team_sharing) == ("Kliento", False)


def test_a_non_admin_cannot_change_a_users_role(org, login):
    response = login(org.head).post(
        f"/settings/users/{org.rep.pk}/",
        {"role": "admin", "team": "", "is_active": "on", "language": "en"},
    )

    org.rep.refresh_from_db()
    assert response.status_code == 403
    assert (org.rep.role, org.rep.team_id) == (Role.REP, org.teams["moscow"].pk)


# --- users ---------------------------------------------------------------------------------------


def test_users_list_shows_each_user_with_role_and_team(org, login, django_assert_num_queries):
    client = login(org.admin)
    client.get("/settings/users/")  # warm the session and the org settings row

    # session, request user with their team (the user menu's), the user list with teams
    with django_assert_num_queries(3):
        response = client.get("/settings/users/")

    page = text(response)
    assert response.status_code == 200
    assert "Other_Rep" in page
    assert "Kazan" in page
    assert "Head of sales" in page


def test_creating_a_user_through_the_form(org, login):
    response = login(org.admin).post(
        "/settings/users/new/",
        {
            "username": "anna",
            "first_name": "Anna",
            "last_name": "Smirnova",
            "email": "Anna@Example.com",
            "role": "head",
            "team": str(org.teams["kazan"].pk),
            "language": "ru",
            "password": "long-enough-pw",
            "password2": "long-enough-pw",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/settings/users/"
    anna = User.objects.get(username="anna")
    assert (anna.first_name, anna.last_name, anna.email) == ("Anna", "Smirnova", "Anna@Example.com")
    assert (anna.role, anna.team, anna.language, anna.is_active) == (
        Role.HEAD,
        org.teams["kazan"],
        "ru",
        True,
    )
    assert anna.check_password("long-enough-pw")
    audit = AuditLog.objects.get(entity="user", object_id=anna.pk)
    assert (audit.user, audit.action) == (org.admin, "create")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": "rep"}, "username", "This username is taken; choose another."),
        ({"username": ""}, "username", "A username is required."),
        (
            {"password": "short", "password2": "short"},
            "password",
            "A password needs at least 8 characters.",
        ),
        ({"password2": "something-else"}, "password2", "The two passwords differ."),
        ({"team": "999999"}, "team", "Choose a team from the list."),
    ],
)
def test_user_form_shows_the_problem_beside_the_field(org, login, changes, field, message):
    data = {
        "username": "newbie",
        "role": "rep",
        "team": "",
        "language": "en",
        "password": "long-enough-pw",
        "password2": "long-enough-pw",
        **changes,
    }
    before = User.objects.count()

    response = login(org.admin).post("/settings/users/new/", data)

    assert response.status_code == 422
    assert field_error(response, message)
    assert User.objects.count() == before


def test_user_form_shows_every_problem_at_once_and_creates_nothing(org, login):
    before = (User.objects.count(), AuditLog.objects.count())

    response = login(org.admin).post(
        "/settings/users/new/",
        {"username": "rep", "role": "rep", "password": "long-enough-pw", "password2": "other"},
    )

    assert response.status_code == 422
    assert field_error(response, "This username is taken; choose another.")
    assert field_error(response, "The two passwords differ.")
    assert (User.objects.count(), AuditLog.objects.count()) == before


def test_editing_role_team_and_deactivating_keeps_their_records(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)

    response = login(org.admin).post(
        f"/settings/users/{org.rep.pk}/",
        {
            "first_name": "Rep",
            "last_name": "Left",
            "email": "",
            "role": "marketer",
            "team": str(org.teams["marketing"].pk),
            "language": "en",
        },
    )

    assert response.status_code == 302
    org.rep.refresh_from_db()
    assert (org.rep.role, org.rep.team, org.rep.is_active, org.rep.last_name) == (
        Role.MARKETER,
        org.teams["marketing"],
        False,
        "Left",
    )
    contact.refresh_from_db()
    assert contact.owner_id == org.rep.pk
    audit = AuditLog.objects.filter(entity="user", object_id=org.rep.pk).latest("id")
    assert audit.changes["is_active"] == [True, False]
    assert audit.changes["role"] == ["rep", "marketer"]


def test_an_admin_cannot_deactivate_themself(org, login):
    response = login(org.admin).post(
        f"/settings/users/{org.admin.pk}/",
        {"role": "admin", "team": "", "language": "en"},
    )

    org.admin.refresh_from_db()
    assert response.status_code == 422
    assert field_error(response, "You can&#x27;t deactivate your own account.")
    assert org.admin.is_active is True


def test_an_admin_sets_a_new_password_for_someone(org, login):
    response = login(org.admin).post(
        f"/settings/users/{org.rep.pk}/password/",
        {"password": "brand-new-secret", "password2": "brand-new-secret"},
    )

    org.rep.refresh_from_db()
    assert response.status_code == 302
    assert org.rep.check_password("brand-new-secret")


# --- personal settings ---------------------------------------------------------------------------


def test_saving_the_profile_changes_names_email_and_language(org, login):
    client = login(org.rep)

    response = client.post(
        "/settings/profile/",
        {"first_name": "Ivan", "last_name": "Repin", "email": "ivan@acme.test", "language": "ru"},
    )

    org.rep.refresh_from_db()
    assert response.status_code == 302
    assert (org.rep.first_name, org.rep.last_name, org.rep.email, org.rep.language) == (
        "Ivan",
        "Repin",
        "ivan@acme.test",
        "ru",
    )
    assert response.cookies["django_language"].value == "ru"


def test_profile_with_a_bad_email_is_refused_beside_the_field(org, login):
    response = login(org.rep).post(
        "/settings/profile/",
        {"first_name": "Rep", "last_name": "", "email": "not-an-email", "language": "en"},
    )

    org.rep.refresh_from_db()
    assert response.status_code == 422
    assert field_error(response, "Enter a valid email address.")
    assert org.rep.email == ""


def test_changing_my_password_keeps_me_signed_in(org, login):
    client = login(org.rep)

    response = client.post(
        "/settings/password/",
        {"old_password": PASSWORD, "password": "another-long-one", "password2": "another-long-one"},
    )

    org.rep.refresh_from_db()
    assert response.status_code == 302
    assert org.rep.check_password("another-long-one")
    assert client.get("/settings/").status_code == 200


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"old_password": "wrong", "password": "another-long-one"},
            "old_password",
            "Your current password is not correct.",
        ),
        ({"old_password": PASSWORD, "password": "short"}, "password", None),
    ],
)
def test_password_change_problems_are_shown_beside_the_field(org, login, data, field, message):
    response = login(org.rep).post("/settings/password/", {**data, "password2": data["password"]})

    org.rep.refresh_from_db()
    assert response.status_code == 422
    if message:
        assert field_error(response, message)
    else:
        assert re.search(r'field has-error">\s*<label for="id_password">', text(response))
        assert "This password is too short." in text(response)
    assert org.rep.check_password(PASSWORD)


# --- API keys ------------------------------------------------------------------------------------


def test_creating_an_api_key_shows_it_once_and_stores_only_its_hash(org, login):
    client = login(org.rep)

    response = client.post("/settings/api-keys/new/", {"name": "Website form"})

    assert response.status_code == 200
    raw = re.search(r'id="new-key" type="text" class="mono" value="(kl_[^"]+)"', text(response))
    assert raw is not None
    raw = raw.group(1)
    key = ApiKey.objects.get(user=org.rep)
    assert key.name == "Website form"
    assert key.digest == ApiKey.hash(raw)
    assert key.digest != raw
    assert raw not in key.prefix + key.digest + key.name
    later = text(client.get("/settings/"))
    assert raw not in later
    assert f"{key.prefix}…" in later


def test_htmx_key_creation_returns_only_the_keys_card(org, login):
    response = login(org.rep).post(
        "/settings/api-keys/new/", {"name": "cli"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert text(response).lstrip().startswith('<section class="card" id="apikeys">')
    assert 'id="new-key"' in text(response)


def test_a_user_revokes_their_own_key(org, login):
    key, _raw = apikey_create(actor=org.rep, user=org.rep, name="old")

    response = login(org.rep).post(f"/settings/api-keys/{key.pk}/revoke/")

    key.refresh_from_db()
    assert response.status_code == 302
    assert key.revoked_at is not None


def test_someone_elses_key_is_404_and_stays_active(org, login):
    key, _raw = apikey_create(actor=org.rep_peer, user=org.rep_peer, name="peer")

    response = login(org.rep).post(f"/settings/api-keys/{key.pk}/revoke/")

    key.refresh_from_db()
    assert response.status_code == 404
    assert key.revoked_at is None


def test_admin_sees_every_key_and_revokes_one(org, login):
    key, _raw = apikey_create(actor=org.rep, user=org.rep, name="rep script")
    client = login(org.admin)

    page = text(client.get("/settings/api-keys/"))
    response = client.post(f"/settings/api-keys/{key.pk}/revoke/", {"from": "admin"})

    assert "rep script" in page
    assert f"{key.prefix}…" in page
    assert response.status_code == 302
    assert response["Location"] == "/settings/api-keys/"
    key.refresh_from_db()
    assert key.revoked_at is not None


# --- teams ---------------------------------------------------------------------------------------


def test_teams_page_shows_the_tree_in_order_with_depth(org, login):
    page = text(login(org.admin).get("/settings/teams/"))

    names = re.findall(
        r'style="--depth: (\d)">\s*(?:<span[^>]*>└</span>)?\s*<a[^>]*>([^<]+)</a>', page
    )
    assert names == [
        ("0", "Acme"),
        ("1", "Marketing"),
        ("1", "Sales"),
        ("2", "Kazan"),
        ("2", "Moscow"),
    ]


def test_creating_a_team_under_a_parent(org, login):
    sales = org.teams["sales"]

    response = login(org.admin).post(
        "/settings/teams/", {"name": "Kaliningrad", "parent": sales.pk}
    )

    assert response.status_code == 302
    team = Team.objects.get(name="Kaliningrad")
    assert team.parent == sales
    assert team.path == f"{sales.path}{team.pk}/"


def test_a_team_without_a_name_is_refused_beside_the_field(org, login):
    before = Team.objects.count()

    response = login(org.admin).post("/settings/teams/", {"name": "  ", "parent": ""})

    assert response.status_code == 422
    assert field_error(response, "A team needs a name.")
    assert Team.objects.count() == before


def test_a_team_name_over_200_characters_is_refused_beside_the_field(org, login):
    before = Team.objects.count()

    response = login(org.admin).post("/settings/teams/", {"name": "x" * 201, "parent": ""})

    assert response.status_code == 422
    assert field_error(response, "At most 200 characters.")
    assert Team.objects.count() == before


def test_renaming_and_moving_a_team_moves_its_subtree(org, login):
    moscow, marketing = org.teams["moscow"], org.teams["marketing"]
    child = team_create(actor=org.admin, name="Moscow north", parent=moscow)

    response = login(org.admin).post(
        f"/settings/teams/{moscow.pk}/", {"name": "Moscow B2B", "parent": marketing.pk}
    )

    assert response.status_code == 302
    moscow.refresh_from_db()
    child.refresh_from_db()
    assert (moscow.name, moscow.parent, moscow.path) == (
        "Moscow B2B",
        marketing,
        f"{marketing.path}{moscow.pk}/",
    )
    assert child.path == f"{marketing.path}{moscow.pk}/{child.pk}/"


def test_team_edit_offers_no_parent_inside_its_own_subtree(org, login):
    page = text(login(org.admin).get(f"/settings/teams/{org.teams['sales'].pk}/"))

    options = re.findall(r'<option value="(\d+)"', page)
    assert options == [str(org.teams["company"].pk), str(org.teams["marketing"].pk)]


def test_a_team_cannot_move_under_its_own_subtree(org, login):
    sales, moscow = org.teams["sales"], org.teams["moscow"]

    response = login(org.admin).post(
        f"/settings/teams/{sales.pk}/", {"name": "Sales", "parent": moscow.pk}
    )

    sales.refresh_from_db()
    assert response.status_code == 422
    assert field_error(response, "A team can&#x27;t be moved under itself or one of its own teams.")
    assert sales.parent == org.teams["company"]


# --- custom fields -------------------------------------------------------------------------------


def test_creating_a_choice_field_with_a_key_from_a_cyrillic_label(org, login):
    response = login(org.admin).post(
        "/settings/custom-fields/new/",
        {
            "entity": "contact",
            "label": "Размер обуви",
            "key": "",
            "type": "choice",
            "choices": "38\n39\n\n40\n39\n",
            "required": "on",
            "position": "3",
        },
    )

    assert response.status_code == 302
    field = CustomField.objects.get()
    assert (field.entity, field.key, field.label, field.type) == (
        "contact",
        "razmer_obuvi",
        "Размер обуви",
        "choice",
    )
    assert (field.choices, field.required, field.position) == (["38", "39", "40"], True, 3)


def test_a_text_field_ignores_leftover_choices(org, login):
    login(org.admin).post(
        "/settings/custom-fields/new/",
        {"entity": "company", "label": "Segment", "type": "text", "choices": "a\nb"},
    )

    field = CustomField.objects.get()
    assert (field.entity, field.key, field.choices) == ("company", "segment", [])


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"type": "choice", "choices": "  \n"},
            "choices",
            "A choice field needs at least one choice.",
        ),
        ({"label": ""}, "label", "A label is required."),
        ({"position": "-1"}, "position", "A whole number, 0 or more."),
        ({"label": "Size"}, "key", "This record type already has a field with this key."),
    ],
)
def test_custom_field_form_shows_the_problem_beside_the_field(org, login, data, field, message):
    custom_field_create(actor=org.admin, entity="contact", label="Size", type="text")
    before = CustomField.objects.count()
    post = {"entity": "contact", "label": "Colour", "type": "text", "position": "0", **data}

    response = login(org.admin).post("/settings/custom-fields/new/", post)

    assert response.status_code == 422
    assert field_error(response, message)
    assert CustomField.objects.count() == before


def test_editing_a_field_changes_label_choices_required_and_position(org, login):
    field = custom_field_create(
        actor=org.admin, entity="contact", label="Tier", type="choice", choices=["a", "b"]
    )

    response = login(org.admin).post(
        f"/settings/custom-fields/{field.pk}/",
        {"label": "Customer tier", "choices": "gold\nsilver\nbronze", "position": "5"},
    )

    field.refresh_from_db()
    assert response.status_code == 302
    assert (field.label, field.choices, field.required, field.position) == (
        "Customer tier",
        ["gold", "silver", "bronze"],
        False,
        5,
    )
    assert (field.key, field.type) == ("tier", "choice")


def test_removing_every_choice_is_refused(org, login):
    field = custom_field_create(
        actor=org.admin, entity="contact", label="Tier", type="choice", choices=["a", "b"]
    )

    response = login(org.admin).post(
        f"/settings/custom-fields/{field.pk}/", {"label": "Tier", "choices": "", "position": "0"}
    )

    field.refresh_from_db()
    assert response.status_code == 422
    assert field_error(response, "A choice field needs at least one choice.")
    assert field.choices == ["a", "b"]


def test_deleting_a_field_asks_first_then_deletes(org, login):
    field = custom_field_create(actor=org.admin, entity="company", label="Region code", type="text")
    client = login(org.admin)

    confirm = client.get(f"/settings/custom-fields/{field.pk}/delete/")
    assert CustomField.objects.filter(pk=field.pk).exists()
    response = client.post(f"/settings/custom-fields/{field.pk}/delete/")

    assert confirm.status_code == 200
    assert "Delete the field “Region code”?" in text(confirm)
    assert response.status_code == 302
    assert not CustomField.objects.filter(pk=field.pk).exists()


# --- organisation --------------------------------------------------------------------------------


def test_saving_organisation_settings(org, login):
    response = login(org.admin).post(
        "/settings/organisation/",
        {"company_name": "Acme Ltd", "team_sharing": "on", "default_region": "gb"},
    )

    settings_row = OrgSettings.get()
    assert response.status_code == 302
    assert (settings_row.company_name, settings_row.team_sharing, settings_row.default_region) == (
        "Acme Ltd",
        True,
        "GB",
    )


def test_an_unknown_phone_region_is_refused_beside_the_field(org, login):
    response = login(org.admin).post(
        "/settings/organisation/", {"company_name": "Acme", "default_region": "XX"}
    )

    assert response.status_code == 422
    assert field_error(response, "Use a two-letter country code such as RU, GB or US.")
    assert OrgSettings.get().default_region == "RU"


# --- audit log and jobs --------------------------------------------------------------------------


def test_audit_page_links_records_and_shows_old_and_new_values(org, login, contact_factory):
    contact = contact_factory(first_name="Olga", last_name="Ivanova", owner=org.rep)
    audit_record(
        user=org.rep,
        action="update",
        entity="contact",
        obj=contact,
        changes={"city": ["Kazan", "Moscow"]},
    )

    page = text(login(org.admin).get("/settings/audit/?entity=contact"))

    assert f'href="/contacts/{contact.pk}/"' in page
    assert "<del>Kazan</del> → <ins>Moscow</ins>" in page
    assert "Rep" in page
    assert "Acme" not in page.split('id="audit-results"')[1]  # the team rows are filtered out


def test_audit_shows_core_changes_with_labels_and_links(org, login):
    login(org.admin).post(
        f"/settings/users/{org.rep.pk}/",
        {"role": "marketer", "team": str(org.teams["moscow"].pk), "is_active": "on"},
    )

    page = text(login(org.admin).get("/settings/audit/?entity=user"))

    assert f'href="/settings/users/{org.rep.pk}/"' in page
    assert '<span class="what">role</span> <del>Sales rep</del> → <ins>Marketer</ins>' in page


def test_audit_filters_by_user_and_action(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    audit_record(user=org.rep, action="update", entity="contact", obj=contact, changes={})
    audit_record(user=org.head, action="delete", entity="contact", obj=contact, changes={})

    page = text(login(org.admin).get(f"/settings/audit/?user_id={org.head.pk}&action=delete"))
    results = page.split('id="audit-results"')[1]

    assert results.count('class="badge audit-delete"') == 1
    assert "audit-update" not in results


def test_audit_pages_with_a_cursor_and_survives_a_bad_one(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    for n in range(55):
        audit_record(
            user=org.rep, action="update", entity="contact", obj=contact, changes={"n": [n, n + 1]}
        )
    client = login(org.admin)

    first = client.get("/settings/audit/?entity=contact")
    next_url = re.search(r'rel="next" href="([^"]+)"', text(first)).group(1).replace("&amp;", "&")
    second = client.get("/settings/audit/" + next_url)
    broken = client.get("/settings/audit/?cursor=garbage")

    assert text(first).count("<tr>") == 51  # header row + 50
    assert text(second).count("<tr>") == 1 + 5
    assert broken.status_code == 200
    assert "That page link has expired" in text(broken)


def test_audit_page_query_count_is_fixed(org, login, contact_factory, django_assert_num_queries):
    contact = contact_factory(owner=org.rep)
    for _ in range(20):
        audit_record(user=org.rep, action="update", entity="contact", obj=contact, changes={})
    client = login(org.admin)
    client.get("/settings/audit/")

    # session, request user with their team (the menu's), the rows with their users, the user
    # filter
    with django_assert_num_queries(4):
        client.get("/settings/audit/")


def test_jobs_page_lists_failures_newest_first(org, login):
    now = timezone.now()
    JobFailure.objects.create(
        task_name="send_email",
        task_id="a1",
        args="((1,), {})",
        error="SMTPError('down')",
        retries_left=2,
        at=now - timedelta(hours=1),
    )
    JobFailure.objects.create(
        task_name="import_rows",
        task_id="b2",
        args="((7,), {})",
        error="ValueError('bad')",
        retries_left=0,
        at=now,
    )

    page = text(login(org.admin).get("/settings/jobs/"))

    assert page.index("import_rows") < page.index("send_email")
    assert "SMTPError(&#x27;down&#x27;)" in page
    assert "2 retries left" in page
    assert "gave up" in page
