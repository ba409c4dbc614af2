"""The duplicates UI: create-form warning and hints, the review queue, merge and undo pages."""

from __future__ import annotations

from kliento.customers.models import Contact
from kliento.dataio.dedup.models import DuplicatePair, MergeRecord

FORM = {
    "first_name": "Ivan",
    "last_name": "Petrov",
    "emails": "ivan.petrov@gmail.com",
    "phones": "+7 916 123 45 67",
    "lifecycle_stage": "lead",
}


def test_create_form_warns_about_a_likely_duplicate(org, login, twin_contacts):
    response = login(org.rep).post("/contacts/new/", FORM)

    assert response.status_code == 409
    html = response.content.decode()
    assert "This looks like a record that already exists." in html
    assert f'href="/contacts/{twin_contacts[0].pk}/"' in html
    assert 'name="confirm_duplicate" value="1"' in html
    assert Contact.objects.count() == 2


def test_create_anyway_creates_the_contact(org, login, twin_contacts):
    response = login(org.rep).post("/contacts/new/", {**FORM, "confirm_duplicate": "1"})

    assert response.status_code == 302
    assert Contact.objects.count() == 3


def test_new_form_asks_for_hints_while_typing(org, login):
    html = login(org.rep).get("/contacts/new/").content.decode()
    assert 'hx-get="/duplicates/check/contact/"' in html
    assert 'id="dup-hints"' in html


def test_entry_check_shows_visible_matches_with_links(org, login, twin_contacts):
    response = login(org.rep).get(
        "/duplicates/check/contact/",
        {"first_name": "Иван", "last_name": "Петров", "phones": "89161234567"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Maybe it already exists:" in html
    assert f'href="/contacts/{twin_contacts[1].pk}/"' in html


def test_entry_check_shows_hidden_matches_only_with_owner(org, login, twin_contacts):
    response = login(org.other_rep).get(
        "/duplicates/check/contact/",
        {"first_name": "Ivan", "last_name": "Petrov", "phones": "89161234567"},
    )

    html = response.content.decode()
    assert f"A matching record exists, owned by {org.rep.display_name}." in html
    assert "/contacts/" not in html


def test_company_form_warns_on_same_tax_id(org, login, company_factory):
    company_factory(owner=org.rep, name="ООО «Ромашка»", tax_id="7701234567")
    response = login(org.rep).post(
        "/companies/new/", {"name": "Romashka LLC", "tax_id": "7701234567"}
    )
    assert response.status_code == 409
    assert "Create anyway" in response.content.decode()


def test_queue_lists_pairs_by_confidence(org, login, twin_contacts, contact_factory, pair_for):
    pair_for(*twin_contacts, confidence=0.99)
    pair_for(contact_factory(owner=org.rep), contact_factory(owner=org.rep), confidence=0.7)

    html = login(org.rep).get("/duplicates/").content.decode()

    assert html.index("99%") < html.index("70%")
    assert "Scan for duplicates" in html
    assert "Merge in bulk" not in html


def test_queue_empty_state_in_russian(org, login):
    org.rep.language = "ru"
    org.rep.save(update_fields=["language"])
    html = login(org.rep).get("/duplicates/").content.decode()
    assert "Нет дубликатов, ожидающих проверки" in html


def test_pair_page_compares_side_by_side(org, login, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)

    html = login(org.rep).get(f"/duplicates/{pair.pk}/").content.decode()

    assert 'class="differs"' in html
    assert "Иван" in html and "Ivan" in html
    assert 'name="choice.first_name"' in html


def test_merge_from_the_pair_page(org, login, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    a, b = twin_contacts

    response = login(org.rep).post(
        f"/duplicates/{pair.pk}/merge/",
        {
            "survivor": str(a.pk),
            "choice.first_name": "a",
            "choice.last_name": "a",
            "choice.emails": "both",
        },
    )

    assert response.status_code == 302
    a.refresh_from_db()
    assert (a.first_name, a.last_name) == ("Иван", "Петров")
    assert not Contact.objects.filter(pk=b.pk).exists()
    merge = MergeRecord.objects.get()
    queue = login(org.rep).get("/duplicates/?status=merged").content.decode()
    assert f"/duplicates/merges/{merge.pk}/undo/" in queue


def test_undo_from_the_queue(org, login, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    client = login(org.rep)
    client.post(f"/duplicates/{pair.pk}/merge/", {})
    merge = MergeRecord.objects.get()

    response = client.post(f"/duplicates/merges/{merge.pk}/undo/")

    assert response.status_code == 302
    assert Contact.objects.count() == 2


def test_not_a_duplicate_from_the_pair_page(org, login, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    assert login(org.rep).post(f"/duplicates/{pair.pk}/dismiss/").status_code == 302
    pair.refresh_from_db()
    assert pair.status == DuplicatePair.Status.NOT_DUPLICATE


def test_hidden_pair_page_is_404(org, login, twin_contacts, pair_for):
    pair = pair_for(*twin_contacts)
    assert login(org.other_rep).get(f"/duplicates/{pair.pk}/").status_code == 404
    assert login(org.other_rep).post(f"/duplicates/{pair.pk}/merge/").status_code == 404
    assert Contact.objects.count() == 2


def test_admin_starts_a_bulk_merge(
    org, login, twin_contacts, pair_for, django_capture_on_commit_callbacks
):
    pair_for(*twin_contacts, confidence=0.99)
    client = login(org.admin)
    assert "Merge in bulk" in client.get("/duplicates/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/duplicates/bulk-merge/", {"min_percent": "98"})

    assert response.status_code == 302
    assert Contact.objects.count() == 1


def test_rep_cannot_bulk_merge(org, login, twin_contacts, pair_for):
    pair_for(*twin_contacts, confidence=0.99)
    response = login(org.rep).post("/duplicates/bulk-merge/", {"min_percent": "98"})
    assert response.status_code == 403
    assert Contact.objects.count() == 2
