"""Web UI of the core: sign in/out, language switch, saved views, error pages."""

from __future__ import annotations

import pytest
from django.test import Client

from kliento.conftest import PASSWORD, free_port
from kliento.core.models import SavedView


def test_login_page_renders_the_form(db):
    response = Client().get("/login/")

    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="csrfmiddlewaretoken"' in response.content


def test_login_with_the_right_password_goes_home(org):
    client = Client()

    response = client.post("/login/", {"username": "rep", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_login_with_a_wrong_password_shows_an_error(org):
    client = Client()

    response = client.post("/login/", {"username": "rep", "password": "nope"})

    assert response.status_code == 200
    assert b"alert-error" in response.content
    assert "_auth_user_id" not in client.session


def test_pages_need_a_signed_in_user(db):
    response = Client().get("/contacts/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/contacts/"


def test_logout_is_a_post(org, login):
    client = login(org.rep)

    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_csrf_is_enforced_on_login(org):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/login/", {"username": "rep", "password": PASSWORD})

    assert response.status_code == 403


def test_language_switch_is_stored_on_the_user(org, login):
    client = login(org.rep)

    response = client.post("/account/language/", {"language": "ru", "next": "/contacts/"})

    assert response.status_code == 302
    assert response["Location"] == "/contacts/"
    org.rep.refresh_from_db()
    assert org.rep.language == "ru"
    page = client.get("/contacts/").content.decode()
    assert "<h1>Контакты</h1>" in page
    assert 'lang="ru"' in page


def test_language_switch_rejects_unknown_languages(org, login):
    client = login(org.rep)

    client.post("/account/language/", {"language": "xx"})

    org.rep.refresh_from_db()
    assert org.rep.language == "en"


def test_language_switch_ignores_an_offsite_next(org, login):
    client = login(org.rep)

    response = client.post(
        "/account/language/", {"language": "ru", "next": "https://evil.example/"}
    )

    assert response["Location"] == "/"


def test_anonymous_visitors_switch_language_with_a_cookie(db):
    client = Client()

    client.post("/i18n/setlang/", {"language": "ru", "next": "/login/"})

    assert "Вход в CRM" in client.get("/login/").content.decode()


def test_saved_view_is_created_from_the_list_query(org, login):
    client = login(org.rep)

    response = client.post(
        "/saved-views/",
        {"entity": "contact", "name": "My leads", "query": "stage=lead&sort=-updated"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    view = SavedView.objects.get(user=org.rep)
    assert (view.entity, view.name, view.query) == (
        "contact",
        "My leads",
        "stage=lead&sort=-updated",
    )
    assert b'href="/contacts/?stage=lead&amp;sort=-updated"' in response.content


def test_saved_view_needs_a_name(org, login):
    client = login(org.rep)

    response = client.post(
        "/saved-views/",
        {"entity": "contact", "name": " ", "query": "stage=lead"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert b'aria-invalid="true"' in response.content
    assert SavedView.objects.count() == 0


def test_saved_view_of_someone_else_cannot_be_deleted(org, login):
    view = SavedView.objects.create(user=org.rep_peer, entity="contact", name="Peer", query="")
    client = login(org.rep)

    response = client.post(f"/saved-views/{view.pk}/delete/", {"entity": "contact"})

    assert response.status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_saved_view_is_deleted_by_its_owner(org, login):
    view = SavedView.objects.create(user=org.rep, entity="contact", name="Mine", query="tag=vip")
    client = login(org.rep)

    response = client.post(f"/saved-views/{view.pk}/delete/", {"entity": "contact"})

    assert response.status_code == 302
    assert response["Location"] == "/contacts/"
    assert not SavedView.objects.filter(pk=view.pk).exists()


@pytest.mark.parametrize("url", ["/contacts/999999/", "/companies/999999/", "/no-such-page/"])
def test_missing_pages_use_the_styled_404(org, login, url):
    response = login(org.rep).get(url)

    assert response.status_code == 404
    assert "yours to see" in response.content.decode()
    assert b"kliento.css" in response.content


@pytest.mark.parametrize(
    "url", ["/contacts/?q=a%00b", "/leads/?q=%00", "/orders/?status%00=new", "/search/?q=x%00"]
)
def test_a_nul_in_a_page_query_is_the_styled_400_on_every_database(org, login, url):
    response = login(org.rep).get(url)

    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert b"kliento.css" in response.content


def test_a_nul_in_a_posted_form_is_400_and_stores_nothing(org, login, contact_factory):
    from kliento.customers.models import Interaction

    contact = contact_factory(owner=org.rep)
    org.rep.language = "ru"
    org.rep.save(update_fields=["language"])

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/log/", {"kind": "call", "subject": "Звонок\x00"}
    )

    assert response.status_code == 400
    assert "Не удалось прочитать запрос" in response.content.decode()
    assert not Interaction.objects.exists()


def test_the_api_still_names_the_field_with_a_nul(org, api):
    response = api(org.rep).get("/api/v1/contacts", {"q": "a\x00b"})

    assert response.status_code == 422
    assert "q" in response.json()["fields"]


def test_the_500_page_renders_without_a_request():
    from django.template.loader import render_to_string

    html = render_to_string("500.html")

    assert "Something went wrong on our side" in html
    assert "/static/kliento/kliento.css" in html


# --- health check -------------------------------------------------------------------------


def test_healthz_answers_without_a_login_and_reaches_the_database(db):
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert "sessionid" not in response.cookies


def test_healthz_refuses_other_methods(db):
    assert Client().post("/healthz").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_does_not_answer():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the SQLite test database lives in memory and cannot be made unreachable")
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())  # nothing listens there
    try:
        response = Client().get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


# --- main navigation ----------------------------------------------------------------------


def test_main_nav_marks_the_current_section_in_the_users_language(
    org, login, contact_factory, company_factory
):
    contact_factory(owner=org.rep)
    company_factory(owner=org.rep)
    org.rep.language = "ru"
    org.rep.save(update_fields=["language"])
    client = login(org.rep)

    page = client.get("/contacts/").content.decode()
    nav = page[page.index('<nav class="nav"') : page.index("</nav>")]

    assert '<a href="/contacts/" class="active" aria-current="page">Контакты</a>' in nav
    assert '<a href="/companies/">Компании</a>' in nav
    assert '<a href="/tasks/">Задачи</a>' in nav
    assert nav.count('aria-current="page"') == 1
    # A person has a name ("Имя"), a company a title ("Название").
    assert 'class="sorted">Имя ↑</a></th>' in page
    assert 'class="sorted">Название ↑</a></th>' in client.get("/companies/").content.decode()

    org.rep.language = "en"
    org.rep.save(update_fields=["language"])
    page = client.get("/tasks/").content.decode()
    nav = page[page.index('<nav class="nav"') : page.index("</nav>")]
    assert '<a href="/tasks/" class="active" aria-current="page">Tasks</a>' in nav
    assert '<a href="/contacts/">Contacts</a>' in nav
