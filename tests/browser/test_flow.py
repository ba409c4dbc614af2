"""End to end in a real browser: the first things a new user does with Kliento."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kliento.conftest import log_in
from kliento.customers.models import Contact, Interaction

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_contact_call_timeline_and_search(live_server, org, page):
    base = live_server.url
    log_in(page, base, "rep")

    # Create a contact.
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="New contact").first.click()
    page.fill("#id_first_name", "Ekaterina")
    page.fill("#id_last_name", "Morozova")
    page.locator("#emails-box input").first.fill("katya@example.com")
    page.locator("#phones-box input").first.fill("8 (916) 555-44-33")
    page.get_by_role("button", name="Create contact").click()
    expect(page.get_by_role("heading", name="Ekaterina Morozova")).to_be_visible()
    contact = Contact.objects.get()
    assert page.url == f"{base}/contacts/{contact.pk}/"
    expect(page.get_by_text("+7 916 555-44-33").first).to_be_visible()

    # Log a call in two clicks (plus a subject), and see it on the timeline.
    page.get_by_role("button", name="Log call").click()
    page.fill("#log-subject", "Discussed the renewal")
    page.locator("#inline-form").get_by_role("button", name="Save").click()
    expect(page.locator("#timeline")).to_contain_text("Discussed the renewal")
    expect(page.locator("#worked-with")).to_contain_text("1 interaction")
    call = Interaction.objects.get()
    assert (call.kind, call.contact_id, call.user_id) == ("call", contact.pk, org.rep.pk)

    # Find the contact through the global search, with a typo.
    page.fill("#global-search", "Morozva")
    page.press("#global-search", "Enter")
    page.get_by_role("link", name="Ekaterina Morozova").click()
    expect(page.get_by_role("heading", name="Ekaterina Morozova")).to_be_visible()

    # Switch to Russian from the user menu.
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Русский").click()
    expect(page.get_by_role("link", name="Контакты", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Лента")).to_be_visible()
    org.rep.refresh_from_db()
    assert org.rep.language == "ru"


def test_task_is_completed_from_the_home_page(live_server, org, page):
    from django.utils import timezone

    from kliento.customers import services

    contact = services.contact_create(user=org.rep, data={"first_name": "Ivan"})
    task = services.interaction_create(
        user=org.rep,
        data={
            "kind": "call",
            "planned": True,
            "due_at": timezone.now(),
            "subject": "Call Ivan back",
            "contact_id": contact.pk,
        },
    )
    log_in(page, live_server.url, "rep")

    page.get_by_role("button", name="Mark “Call Ivan back” as done").click()

    expect(page.locator(f"#task-{task.pk}")).to_have_class("task done")
    task.refresh_from_db()
    assert task.done is True


def test_edit_conflict_is_explained(live_server, org, page):
    from kliento.customers import services

    contact = services.contact_create(user=org.rep, data={"first_name": "Olga"})
    log_in(page, live_server.url, "rep")
    page.goto(f"{live_server.url}/contacts/{contact.pk}/edit/")
    services.contact_update(user=org.rep, contact=contact, data={"city": "Kazan"})

    page.fill("#id_city", "Samara")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_text("Someone else changed this record")).to_be_visible()
    expect(page.locator("#id_city")).to_have_value("Samara")
    contact.refresh_from_db()
    assert contact.city == "Kazan"
