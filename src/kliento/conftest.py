"""Fixtures shared by every app's tests: an org chart, one user per role, customer factories."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

import factory
import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import translation

from kliento.core.models import Role, Team, User
from kliento.core.services import apikey_create, team_create
from kliento.customers.models import Company, Contact, Interaction
from kliento.customers.normalize import search_text

PASSWORD = "correct-horse-battery"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    first_name = factory.Sequence(lambda n: f"Ivan{n}")
    last_name = factory.Sequence(lambda n: f"Petrov{n}")
    email = factory.Sequence(lambda n: f"ivan{n}@example.com")
    emails = factory.LazyAttribute(lambda o: [o.email])
    phone = factory.Sequence(lambda n: f"+7916{n:07d}")
    phones = factory.LazyAttribute(lambda o: [o.phone])
    lifecycle_stage = "lead"

    @factory.post_generation
    def index(obj, create, extracted, **kwargs):
        from kliento.customers.models import SearchEntry

        if create:
            SearchEntry.objects.create(
                entity="contact",
                object_id=obj.pk,
                owner_id=obj.owner_id,
                title=obj.full_name,
                text=search_text(obj.full_name, *obj.emails, phones=obj.phones),
            )


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Romashka {n}")
    tax_id = factory.Sequence(lambda n: f"77{n:08d}")

    @factory.post_generation
    def index(obj, create, extracted, **kwargs):
        from kliento.customers.models import SearchEntry

        if create:
            SearchEntry.objects.create(
                entity="company",
                object_id=obj.pk,
                owner_id=obj.owner_id,
                title=obj.name,
                text=search_text(obj.name, obj.legal_name, obj.tax_id, phones=obj.phones),
            )


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    kind = "call"
    channel = "phone"
    direction = "out"
    subject = factory.Sequence(lambda n: f"Call {n}")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests that check hashing itself opt back in."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A request by a Russian-speaking user leaves Russian active in the test's thread (the
    middleware activates the user's language and nothing resets it): the next test that
    renders outside a request must not inherit it."""
    yield
    translation.deactivate()


def _user(username: str, role: str, team: Team | None) -> User:
    user = User(
        username=username,
        role=role,
        team=team,
        first_name=username.title(),
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def org(db):
    """Company → Sales division → Moscow team and Kazan team, and one user per role.

    rep and rep_peer share the Moscow team; other_rep is in Kazan; head heads Sales.
    """
    company = team_create(actor=None, name="Acme")
    sales = team_create(actor=None, name="Sales", parent=company)
    moscow = team_create(actor=None, name="Moscow", parent=sales)
    kazan = team_create(actor=None, name="Kazan", parent=sales)
    marketing = team_create(actor=None, name="Marketing", parent=company)
    users = {
        "admin": _user("admin", Role.ADMIN, company),
        "head": _user("head", Role.HEAD, sales),
        "rep": _user("rep", Role.REP, moscow),
        "rep_peer": _user("rep_peer", Role.REP, moscow),
        "other_rep": _user("other_rep", Role.REP, kazan),
        "marketer": _user("marketer", Role.MARKETER, marketing),
        "support": _user("support", Role.SUPPORT, company),
        "analyst": _user("analyst", Role.ANALYST, company),
    }
    teams = {
        "company": company,
        "sales": sales,
        "moscow": moscow,
        "kazan": kazan,
        "marketing": marketing,
    }
    return type("Org", (), {"users": users, "teams": teams, **users})


@pytest.fixture
def contact_factory(db):
    return ContactFactory


@pytest.fixture
def company_factory(db):
    return CompanyFactory


@pytest.fixture
def interaction_factory(db):
    return InteractionFactory


@pytest.fixture
def login():
    """login(user) -> a django.test.Client with a session for that user."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api():
    """api(user) -> a Client sending `Authorization: Bearer <new key>` on every request."""

    def make(user: User) -> Client:
        _key, raw = apikey_create(actor=user, user=user, name="test")
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return make


@pytest.fixture
def file_database(transactional_db, tmp_path):
    """For tests with real concurrent threads: on SQLite, run the test against a WAL file
    copy of the test database.

    The in-memory test database is one shared-cache database, which locks whole tables and
    fails a concurrent writer at once ("database table is locked") instead of letting it wait
    as the file database Kliento runs on does. PostgreSQL needs nothing.
    """
    if connection.vendor != "sqlite":
        yield
        return
    import sqlite3

    path = tmp_path / "concurrent.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    memory, name = connection.connection, connection.settings_dict["NAME"]
    # Closing an in-memory connection would drop the database: keep it aside instead.
    connection.connection = None
    connection.settings_dict["NAME"] = str(path)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = memory


def free_port() -> int:
    """A loopback TCP port nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_concurrently(count: int, work: Callable[[int], object]) -> list[BaseException]:
    """Run `work(0)` … `work(count - 1)` in `count` threads released together by a barrier;
    the exceptions they raised (a thread still running after a minute counts as one).

    Each thread has its own database connections and closes them when done, so none is left
    open when the test database is dropped. Use with `file_database` and a transactional
    test: the threads do not see the test's transaction.
    """
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        if t.is_alive():
            errors.append(TimeoutError(f"{t.name} still running after 60 s"))
    return errors


# --- browser tests ---------------------------------------------------------------------------


def log_in(page, base: str, username: str) -> None:
    """Log in through the login form of a live server and wait for the home page."""
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def shot(page, name: str) -> None:
    """A full-page screenshot `name`.png in the directory KLIENTO_SCREENSHOTS names, if any."""
    directory = os.environ.get("KLIENTO_SCREENSHOTS", "")
    if directory:
        os.makedirs(directory, exist_ok=True)
        page.screenshot(path=os.path.join(directory, f"{name}.png"), full_page=True)
