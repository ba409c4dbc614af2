"""Web UI of the customer database: lists, detail pages, forms, timeline, tasks, search."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kliento.core.models import CustomField, SavedView
from kliento.customers import services
from kliento.customers.models import Company, Consent, Contact, Interaction

HTMX = {"HTTP_HX_REQUEST": "true"}
# Session, user, contact, who worked with (2), custom fields, history, shares (2), timeline,
# company links, consent, erasure note, and the panels other apps add (deals, orders, leads,
# duplicates…).
DETAIL_QUERIES = 21


def _contact(user, **data):
    return services.contact_create(
        user=user, data={"first_name": "Anna", "last_name": "Sidorova", **data}
    )


# --- home and tasks -----------------------------------------------------------------------


def test_home_lists_my_tasks_by_due_date(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    now = timezone.now()
    for subject, due in [("Late", now - timedelta(days=1)), ("Soon", now + timedelta(days=3))]:
        services.interaction_create(
            user=org.rep,
            data={
                "kind": "task",
                "planned": True,
                "due_at": due,
                "subject": subject,
                "contact_id": contact.pk,
            },
        )

    page = login(org.rep).get("/").content.decode()

    assert page.index("Overdue") < page.index("Late") < page.index("Upcoming") < page.index("Soon")


def test_task_is_completed_with_one_htmx_click(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    task = services.interaction_create(
        user=org.rep,
        data={
            "kind": "call",
            "planned": True,
            "due_at": timezone.now(),
            "subject": "Ring",
            "contact_id": contact.pk,
        },
    )

    response = login(org.rep).post(f"/tasks/{task.pk}/complete/", **HTMX)

    assert response.status_code == 200
    assert b'class="task done"' in response.content
    task.refresh_from_db()
    assert task.done is True


def test_task_of_a_hidden_customer_cannot_be_completed(org, login, contact_factory):
    contact = contact_factory(owner=org.other_rep)
    task = services.interaction_create(
        user=org.other_rep,
        data={
            "kind": "task",
            "planned": True,
            "due_at": timezone.now(),
            "contact_id": contact.pk,
        },
    )

    response = login(org.rep).post(f"/tasks/{task.pk}/complete/", **HTMX)

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.done is False


def test_tasks_page_filters_by_kind(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    for kind, subject in [("call", "Ring them"), ("meeting", "Meet them")]:
        services.interaction_create(
            user=org.rep,
            data={
                "kind": kind,
                "planned": True,
                "due_at": timezone.now() + timedelta(hours=1),
                "subject": subject,
                "contact_id": contact.pk,
            },
        )

    page = login(org.rep).get("/tasks/?kind=call").content.decode()

    assert "Ring them" in page
    assert "Meet them" not in page


def _task_for(assignee, contact, subject):
    services.interaction_create(
        user=assignee,
        data={
            "kind": "task",
            "planned": True,
            "due_at": timezone.now() + timedelta(hours=1),
            "subject": subject,
            "contact_id": contact.pk,
        },
    )


def test_a_head_lists_the_tasks_of_their_team_and_of_one_member(org, login, contact_factory):
    _task_for(org.rep, contact_factory(owner=org.rep), "Rep call")
    _task_for(org.other_rep, contact_factory(owner=org.other_rep), "Other rep call")
    _task_for(org.head, contact_factory(owner=org.head), "Head own call")
    client = login(org.head)

    mine = client.get("/tasks/").content.decode()
    team = client.get("/tasks/?assignee=all").content.decode()
    one = client.get(f"/tasks/?assignee={org.rep.pk}").content.decode()

    assert "Head own call" in mine and "Rep call" not in mine
    assert 'value="all"' in mine and "My team" in mine
    assert all(s in team for s in ["Rep call", "Other rep call", "Head own call"])
    assert org.rep.display_name in team  # whose task it is, on a list of several people's
    assert "Rep call" in one and "Other rep call" not in one


def test_a_colleagues_task_on_a_customer_the_viewer_cannot_see_is_not_listed(
    org, login, contact_factory
):
    hidden = contact_factory(owner=org.admin)  # outside the head's subtree, shared with the rep
    services.record_share(user=org.admin, entity="contact", obj=hidden, target=org.rep)
    _task_for(org.rep, hidden, "Call about a customer hidden from the head")
    _task_for(org.rep, contact_factory(owner=org.rep), "Visible call")

    page = login(org.head).get(f"/tasks/?assignee={org.rep.pk}").content.decode()

    assert "Visible call" in page
    assert "hidden from the head" not in page


def test_a_group_cut_at_50_says_how_many_there_are_in_all_of_the_kind(org, login, contact_factory):
    contact = contact_factory(owner=org.rep)
    late = timezone.now() - timedelta(days=1)
    Interaction.objects.bulk_create(
        [
            Interaction(
                kind=kind, planned=True, due_at=late, subject=f"{kind} {i}", contact=contact,
                user=org.rep, assignee=org.rep,
            )
            for kind, n in [("call", 53), ("task", 2)]
            for i in range(n)
        ]
    )  # fmt: skip

    calls = login(org.rep).get("/tasks/?kind=call").content.decode()
    tasks = login(org.rep).get("/tasks/?kind=task").content.decode()
    home = login(org.rep).get("/").content.decode()

    assert '<span class="count-pill">53</span>' in calls
    assert "The first 50 of 53, by due time." in calls
    assert calls.count('class="task"') == 50
    assert '<span class="count-pill">2</span>' in tasks and "The first" not in tasks
    assert "You have 55 overdue tasks." in home and "The first 50 of 55, by due time." in home


def test_a_heads_home_links_to_the_teams_tasks_and_a_reps_does_not(org, login):
    head = login(org.head).get("/").content.decode()
    rep = login(org.rep).get("/").content.decode()

    assert 'href="/tasks/?assignee=all"' in head
    assert 'href="/tasks/?assignee=all"' not in rep


def test_a_rep_has_no_assignee_choice_and_cannot_list_others_tasks(org, login, contact_factory):
    _task_for(org.rep_peer, contact_factory(owner=org.rep_peer), "Peer call")
    _task_for(org.rep, contact_factory(owner=org.rep), "My call")

    page = login(org.rep).get(f"/tasks/?assignee={org.rep_peer.pk}").content.decode()

    assert 'name="assignee"' not in page
    assert "My call" in page and "Peer call" not in page


# --- lists --------------------------------------------------------------------------------


def test_contact_list_shows_visible_contacts_only(org, login, contact_factory):
    contact_factory(owner=org.rep, first_name="Mine", last_name="Visible")
    contact_factory(owner=org.other_rep, first_name="Theirs", last_name="Hidden")

    page = login(org.rep).get("/contacts/").content.decode()

    assert "Mine Visible" in page
    assert "Theirs Hidden" not in page


def test_contact_list_filters_by_stage(org, login, contact_factory):
    contact_factory(owner=org.rep, last_name="Leadson", lifecycle_stage="lead")
    contact_factory(owner=org.rep, last_name="Buyerson", lifecycle_stage="customer")

    page = login(org.rep).get("/contacts/?stage=customer").content.decode()

    assert "Buyerson" in page
    assert "Leadson" not in page


def test_contact_list_filters_by_custom_field(org, login, contact_factory):
    CustomField.objects.create(
        entity="contact", key="source", label="Source", type="choice", choices=["Web", "Fair"]
    )
    contact_factory(owner=org.rep, last_name="Webber", custom={"source": "Web"})
    contact_factory(owner=org.rep, last_name="Fairley", custom={"source": "Fair"})

    page = login(org.rep).get("/contacts/?custom.source=Fair").content.decode()

    assert "Fairley" in page
    assert "Webber" not in page


def test_contact_list_htmx_returns_the_results_fragment(org, login, contact_factory):
    contact_factory(owner=org.rep, last_name="Fragment")

    response = login(org.rep).get("/contacts/?q=Frag", **HTMX)

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results">')
    assert "Fragment" in body
    assert "<html" not in body


def test_contact_list_pages_with_cursors(org, login, contact_factory):
    for i in range(52):
        contact_factory(owner=org.rep, first_name="P", last_name=f"Person{i:03d}")
    client = login(org.rep)

    first = client.get("/contacts/").content.decode()
    next_query = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get("/contacts/" + next_query).content.decode()

    assert "Person049" in first and "Person050" not in first
    assert "Person050" in second and "Person051" in second and "Person049" not in second


def test_contact_list_survives_a_bad_cursor(org, login, contact_factory):
    contact_factory(owner=org.rep, last_name="Survivor")

    response = login(org.rep).get("/contacts/?cursor=garbage")

    assert response.status_code == 200
    assert "Survivor" in response.content.decode()
    assert "showing the first page" in response.content.decode()


def test_contact_list_shows_an_empty_state(org, login):
    page = login(org.rep).get("/contacts/").content.decode()

    assert "No contacts yet" in page


def test_contact_list_lists_saved_views(org, login):
    SavedView.objects.create(
        user=org.rep, entity="contact", name="Customers", query="stage=customer"
    )

    page = login(org.rep).get("/contacts/?stage=customer").content.decode()

    assert 'class="chip active"' in page
    assert "Customers" in page


@pytest.mark.parametrize("role", ["rep", "admin"])
def test_contact_list_query_count_is_flat(
    org, login, contact_factory, role, django_assert_max_num_queries
):
    user = getattr(org, role)
    for i in range(50):
        contact_factory(owner=user, last_name=f"Flat{i}")
    client = login(user)
    client.get("/contacts/")  # warm the session

    with django_assert_max_num_queries(10):
        response = client.get("/contacts/?sort=-updated")

    assert response.content.decode().count('href="/contacts/') >= 50


def test_contact_list_owner_filter_marks_the_chosen_owner_and_me(org, login, contact_factory):
    contact_factory(owner=org.rep)

    page = login(org.head).get(f"/contacts/?owner_id={org.rep.pk}").content.decode()

    assert f'<option value="{org.rep.pk}" selected>{org.rep.display_name}</option>' in page
    assert f'<option value="{org.head.pk}" >{org.head.display_name} (me)</option>' in page


def test_contact_list_names_an_owner_who_is_no_longer_active(org, login, contact_factory):
    contact_factory(owner=org.rep_peer, first_name="Kept", last_name="Client")
    org.rep_peer.is_active = False
    org.rep_peer.save(update_fields=["is_active"])

    page = login(org.head).get("/contacts/").content.decode()

    row = page.split("Kept Client", 1)[1].split("</tr>", 1)[0]
    assert f"<td>{org.rep_peer.display_name}</td>" in row
    assert f'<option value="{org.rep_peer.pk}"' not in page  # not offered as a filter


def test_company_list_query_count_is_flat(
    org, login, company_factory, django_assert_max_num_queries
):
    for i in range(50):
        company_factory(owner=org.rep, name=f"Firm {i}")
    client = login(org.rep)
    client.get("/companies/")

    with django_assert_max_num_queries(10):
        response = client.get("/companies/?sort=name")

    assert "Firm 49" in response.content.decode()


def test_company_list_filters_by_name_prefix(org, login, company_factory):
    company_factory(owner=org.rep, name="Romashka")
    company_factory(owner=org.rep, name="Vasilek")

    page = login(org.rep).get("/companies/?q=Rom").content.decode()

    assert "Romashka" in page
    assert "Vasilek" not in page


# --- detail pages -------------------------------------------------------------------------


def test_contact_detail_shows_the_record(org, login):
    contact = _contact(
        org.rep, emails=["anna@example.com"], phones=["+7 916 123-45-67"], tags=["vip"]
    )

    page = login(org.rep).get(f"/contacts/{contact.pk}/").content.decode()

    assert "Anna Sidorova" in page
    assert "anna@example.com" in page
    assert "+7 916 123-45-67" in page
    assert "vip" in page
    assert "Who worked with this client" in page


@pytest.mark.parametrize(
    ("reader", "stored", "shown"),
    [("en", "ru", "Russian"), ("ru", "ru", "Русский"), ("en", "xx", "xx")],
)
def test_contact_detail_names_the_contacts_language_in_the_readers(
    org, login, reader, stored, shown
):
    contact = _contact(org.rep, language=stored)
    org.rep.language = reader
    org.rep.save(update_fields=["language"])

    page = login(org.rep).get(f"/contacts/{contact.pk}/").content.decode()

    assert f"<dd>{shown}</dd>" in page


@pytest.mark.parametrize(
    ("city", "region", "shown"),
    [
        ("Москва", "Москва", "<dd>Москва</dd>"),
        ("Тверь", "Тверская область", "<dd>Тверь, Тверская область</dd>"),
        ("", "Тверская область", "<dd>Тверская область</dd>"),
    ],
)
def test_contact_detail_location_says_a_city_that_is_its_own_region_once(
    org, login, city, region, shown
):
    contact = _contact(org.rep, city=city, region=region)

    page = login(org.rep).get(f"/contacts/{contact.pk}/").content.decode()

    assert shown in page


def test_contact_detail_query_count_does_not_grow_with_the_timeline(
    org, login, interaction_factory, django_assert_max_num_queries
):
    contact = _contact(org.rep)
    interaction_factory(contact=contact, user=org.rep)
    client = login(org.rep)
    client.get(f"/contacts/{contact.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/contacts/{contact.pk}/")
    for user in (org.rep, org.rep_peer, org.head):
        for _ in range(15):
            interaction_factory(contact=contact, user=user)

    with django_assert_max_num_queries(DETAIL_QUERIES) as many:
        page = client.get(f"/contacts/{contact.pk}/").content.decode()

    assert page.count('class="tl-item') == 30
    assert org.head.display_name in page.split('id="worked-with"', 1)[1]
    assert len(many.captured_queries) == len(few.captured_queries)


def test_hidden_contact_is_a_404_without_its_data(org, login):
    contact = _contact(org.other_rep, last_name="Secretova")

    response = login(org.rep).get(f"/contacts/{contact.pk}/")

    assert response.status_code == 404
    assert "Secretova" not in response.content.decode()


def test_hidden_company_is_a_404(org, login, company_factory):
    company = company_factory(owner=org.other_rep, name="Hidden LLC")

    response = login(org.rep).get(f"/companies/{company.pk}/")

    assert response.status_code == 404
    assert "Hidden LLC" not in response.content.decode()


def test_company_timeline_includes_its_contacts(org, login, company_factory):
    company = company_factory(owner=org.rep, name="Romashka")
    contact = _contact(org.rep, companies=[{"company_id": company.pk, "title": "CEO"}])
    services.interaction_create(
        user=org.rep, data={"kind": "call", "subject": "Called the CEO", "contact_id": contact.pk}
    )

    page = login(org.rep).get(f"/companies/{company.pk}/").content.decode()

    assert "Anna Sidorova" in page
    assert "Called the CEO" in page


def test_timeline_loads_more_with_a_cursor(org, login):
    contact = _contact(org.rep)
    now = timezone.now()
    for i in range(33):
        services.interaction_create(
            user=org.rep,
            data={
                "kind": "note",
                "subject": f"Note {i:02d}",
                "contact_id": contact.pk,
                "occurred_at": now - timedelta(minutes=i),
            },
        )
    client = login(org.rep)

    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    more = re.search(r'hx-get="([^"]+cursor=[^"]+)"', page).group(1).replace("&amp;", "&")
    rest = client.get(more, **HTMX).content.decode()

    assert "Note 29" in page and "Note 30" not in page
    assert "Note 30" in rest and "Note 32" in rest and "Note 29" not in rest


def test_timeline_filters_by_kind(org, login):
    contact = _contact(org.rep)
    services.interaction_create(
        user=org.rep, data={"kind": "call", "subject": "A call", "contact_id": contact.pk}
    )
    services.interaction_create(
        user=org.rep, data={"kind": "note", "subject": "A note", "contact_id": contact.pk}
    )

    body = login(org.rep).get(f"/contacts/{contact.pk}/timeline/?kind=note", **HTMX).content

    assert b"A note" in body
    assert b"A call" not in body


# --- logging, planning, consent -------------------------------------------------------------


def test_log_form_opens_with_the_kind_preselected(org, login):
    contact = _contact(org.rep)

    body = login(org.rep).get(f"/contacts/{contact.pk}/log/?kind=meeting", **HTMX).content

    assert b'name="kind" value="meeting"' in body
    assert b'type="datetime-local" name="occurred_at" value="20' in body


def test_logging_a_call_puts_it_on_the_timeline(org, login):
    contact = _contact(org.rep)
    client = login(org.rep)

    response = client.post(
        f"/contacts/{contact.pk}/log/",
        {
            "kind": "call",
            "subject": "Discussed renewal",
            "direction": "out",
            "duration_minutes": "5",
            "occurred_at": "",
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-changed"
    call = Interaction.objects.get(contact=contact)
    assert (call.kind, call.subject, call.user, call.duration_seconds) == (
        "call",
        "Discussed renewal",
        org.rep,
        300,
    )
    timeline = client.get(f"/contacts/{contact.pk}/timeline/", **HTMX).content.decode()
    assert "Discussed renewal" in timeline


def test_logging_shows_errors_beside_the_field(org, login):
    contact = _contact(org.rep)

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/log/",
        {
            "kind": "call",
            "subject": "x" * 300,
            "occurred_at": "",
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert b"Too long: 255 characters at most." in response.content
    assert Interaction.objects.count() == 0


@pytest.mark.parametrize("action", ["log", "plan"])
def test_a_form_without_a_valid_kind_says_so_instead_of_failing(org, login, action):
    contact = _contact(org.rep)

    response = login(org.rep).post(f"/contacts/{contact.pk}/{action}/", {"kind": "zz"}, **HTMX)

    assert response.status_code == 200
    assert b"Choose one of the offered values." in response.content
    assert Interaction.objects.count() == 0


@pytest.mark.parametrize("minutes", ["1e999", "nan", "abc"])
def test_a_duration_that_is_not_a_number_of_minutes_is_a_field_error(org, login, minutes):
    contact = _contact(org.rep)

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/log/", {"kind": "call", "duration_minutes": minutes}, **HTMX
    )

    assert response.status_code == 200
    assert b"Enter the duration in minutes." in response.content
    assert Interaction.objects.count() == 0


def test_analyst_cannot_log_anything(org, login):
    contact = _contact(org.rep)

    response = login(org.analyst).post(f"/contacts/{contact.pk}/log/", {"kind": "note"}, **HTMX)

    assert response.status_code == 403
    assert Interaction.objects.count() == 0


def test_planning_a_task_assigns_it(org, login):
    contact = _contact(org.rep)

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/plan/",
        {
            "kind": "call",
            "subject": "Call back",
            "due_at": "2030-01-15T10:00",
            "assignee_id": str(org.rep_peer.pk),
            "remind_at": "2030-01-15T09:30",
        },
        **HTMX,
    )

    assert response.status_code == 200
    task = Interaction.objects.get(contact=contact)
    assert (task.planned, task.kind, task.assignee, task.done) == (
        True,
        "call",
        org.rep_peer,
        False,
    )
    assert task.due_at.isoformat() == "2030-01-15T10:00:00+00:00"
    assert task.remind_at.isoformat() == "2030-01-15T09:30:00+00:00"


def test_planning_without_a_due_time_is_refused(org, login):
    contact = _contact(org.rep)

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/plan/",
        {
            "kind": "task",
            "subject": "Someday",
            "due_at": "",
            "assignee_id": str(org.rep.pk),
        },
        **HTMX,
    )

    assert b"A planned interaction needs a due time." in response.content
    assert Interaction.objects.count() == 0


def test_consent_toggle_records_the_choice(org, login):
    contact = _contact(org.rep)

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/consent/", {"channel": "email", "status": "opt_in"}, **HTMX
    )

    assert response.status_code == 200
    consent = Consent.objects.get(contact=contact)
    assert (consent.channel, consent.status) == ("email", "opt_in")
    assert b'aria-checked="true"' in response.content


# --- create and edit ------------------------------------------------------------------------


def _contact_post(**extra):
    data = {
        "first_name": "Olga",
        "last_name": "Smirnova",
        "lifecycle_stage": "lead",
        "emails": ["Olga@Example.COM", ""],
        "phones": ["8 916 555-44-33"],
        "tags": "vip, b2b",
    }
    data.update(extra)
    return data


def test_contact_is_created_from_the_form(org, login):
    response = login(org.rep).post("/contacts/new/", _contact_post())

    contact = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}/"
    assert (contact.full_name, contact.emails, contact.phones, contact.tag_list, contact.owner) == (
        "Olga Smirnova",
        ["olga@example.com"],
        ["+79165554433"],
        ["b2b", "vip"],
        org.rep,
    )


def test_contact_form_shows_errors_and_keeps_input(org, login):
    response = login(org.rep).post("/contacts/new/", _contact_post(emails=["not-an-email"]))

    page = response.content.decode()
    assert response.status_code == 422
    assert "Not a valid email address." in page
    assert 'value="not-an-email"' in page
    assert 'value="Smirnova"' in page
    assert Contact.objects.count() == 0


def test_contact_form_renders_custom_fields_by_type(org, login):
    CustomField.objects.create(
        entity="contact", key="newsletter", label="Newsletter", type="boolean"
    )
    CustomField.objects.create(entity="contact", key="since", label="Client since", type="date")

    page = login(org.rep).get("/contacts/new/").content.decode()

    assert 'name="custom.newsletter"' in page
    assert 'type="date" name="custom.since"' in page


def test_contact_form_validates_custom_fields(org, login):
    CustomField.objects.create(entity="contact", key="budget", label="Budget", type="number")
    client = login(org.rep)

    response = client.post("/contacts/new/", _contact_post(**{"custom.budget": "lots"}))

    assert response.status_code == 422
    assert "Enter a number." in response.content.decode()
    client.post("/contacts/new/", _contact_post(**{"custom.budget": "1500"}))
    assert Contact.objects.get().custom == {"budget": 1500}


def test_contact_links_companies(org, login, company_factory):
    company = company_factory(owner=org.rep, name="Romashka")

    login(org.rep).post(
        "/contacts/new/",
        _contact_post(
            company_id=[str(company.pk)], company_title=["CFO"], company_role=["decision maker"]
        ),
    )

    link = Contact.objects.get().company_links.get()
    assert (link.company, link.title, link.role) == (company, "CFO", "decision maker")


def test_contact_edit_saves_and_bumps_the_version(org, login):
    contact = _contact(org.rep)

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/edit/", _contact_post(version=str(contact.version), city="Kazan")
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.city, contact.last_name, contact.version) == ("Kazan", "Smirnova", 2)


def test_contact_edit_conflict_keeps_the_input(org, login):
    contact = _contact(org.rep)
    services.contact_update(user=org.rep, contact=contact, data={"city": "Moscow"})

    response = login(org.rep).post(
        f"/contacts/{contact.pk}/edit/", _contact_post(version="1", city="Kazan")
    )

    page = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed this record" in page
    assert 'value="Kazan"' in page
    assert 'name="version" value="2"' in page
    contact.refresh_from_db()
    assert (contact.city, contact.version) == ("Moscow", 2)


def test_contact_edit_by_an_analyst_is_forbidden(org, login):
    contact = _contact(org.rep)

    response = login(org.analyst).get(f"/contacts/{contact.pk}/edit/")

    assert response.status_code == 403
    assert "your role doesn" in response.content.decode()


def test_contact_edit_of_a_hidden_record_is_a_404(org, login):
    contact = _contact(org.other_rep)

    response = login(org.rep).post(f"/contacts/{contact.pk}/edit/", _contact_post(version="1"))

    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.last_name == "Sidorova"


def test_company_is_created_and_validated(org, login):
    client = login(org.rep)

    bad = client.post("/companies/new/", {"name": "", "emails": [""], "phones": [""]})
    good = client.post(
        "/companies/new/",
        {"name": "Vector", "tax_id": "7701234567", "emails": [""], "phones": ["+7 495 123-45-67"]},
    )

    assert bad.status_code == 422
    assert "A company needs a name." in bad.content.decode()
    assert good.status_code == 302
    company = Company.objects.get()
    assert (company.name, company.tax_id, company.phones, company.owner) == (
        "Vector",
        "7701234567",
        ["+74951234567"],
        org.rep,
    )


def test_company_picker_lists_visible_companies_only(org, login, company_factory):
    company_factory(owner=org.rep, name="Romashka")
    company_factory(owner=org.other_rep, name="Romantika")

    body = login(org.rep).get("/companies/pick/?company_q=Rom", **HTMX).content.decode()

    assert "Romashka" in body
    assert "Romantika" not in body


# --- search -------------------------------------------------------------------------------


def test_search_finds_a_contact_despite_a_typo(org, login):
    contact = _contact(org.rep, first_name="Ekaterina", last_name="Morozova")

    page = login(org.rep).get("/search/?q=Morozva").content.decode()

    assert f'href="/contacts/{contact.pk}/"' in page
    assert "Ekaterina Morozova" in page


def test_search_finds_cyrillic_with_latin_letters(org, login):
    contact = _contact(org.rep, first_name="Екатерина", last_name="Морозова")

    page = login(org.rep).get("/search/?q=morozova").content.decode()

    assert f'href="/contacts/{contact.pk}/"' in page


def test_search_shows_only_the_owner_of_a_hidden_match(org, login):
    contact = _contact(org.other_rep, first_name="Ekaterina", last_name="Morozova")

    page = login(org.rep).get("/search/?q=Morozova").content.decode()

    assert "A matching contact exists, owned by Other_Rep" in page
    assert "Ekaterina" not in page
    assert f"/contacts/{contact.pk}/" not in page


def test_history_names_people_not_user_ids(org, login):
    contact = _contact(org.admin, city="Moscow")
    services.contact_update(
        user=org.admin, contact=contact, data={"owner_id": org.rep.pk, "city": "Kazan"}
    )

    page = login(org.admin).get(f"/contacts/{contact.pk}/").content.decode()

    assert "<del>Admin</del> → <ins>Rep</ins>" in page
    assert "<del>Moscow</del> → <ins>Kazan</ins>" in page
