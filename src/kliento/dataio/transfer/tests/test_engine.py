"""The import engine: matching, duplicates, external ids, permissions, dry run, entities."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.db import connection
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kliento.core.errors import PermissionDeniedError
from kliento.core.models import AuditLog
from kliento.customers import normalize
from kliento.customers.models import Company, Contact, Interaction, SearchEntry, SearchWord
from kliento.customers.search import contact_text
from kliento.dataio.transfer import cleaning, fastinsert, services
from kliento.dataio.transfer.cleaning import Cleaner
from kliento.dataio.transfer.fields import split_multi
from kliento.dataio.transfer.matching import ExactKeyFinder
from kliento.dataio.transfer.models import ExternalRef, ImportRowError
from kliento.dataio.transfer.tests.conftest import csv_bytes

HEAD = ["External id", "Last name", "First name", "Email", "Phone", "City"]


def test_rows_are_normalised_like_manual_entry(run_import):
    rows = [
        HEAD,
        [
            "",
            "Ivanov",
            "Ivan",
            " IVAN@Example.COM ",
            "8 (916) 123-45-67; +7 495 111 22 33",
            "Moscow",
        ],
    ]
    run_import(csv_bytes(rows))
    ivan = Contact.objects.get()
    assert (ivan.email, ivan.emails) == ("ivan@example.com", ["ivan@example.com"])
    assert (ivan.phone, ivan.phones) == ("+79161234567", ["+79161234567", "+74951112233"])
    entry = SearchEntry.objects.get(entity="contact", object_id=ivan.pk)
    # The same text manual entry indexes (customers.search.contact_text).
    assert entry.text == contact_text(ivan)
    assert entry.text == "ivan ivanov ivan@eksample.kom 79161234567 74951112233"


def test_external_id_updates_instead_of_duplicating(run_import):
    run_import(csv_bytes([HEAD, ["A1", "Ivanov", "Ivan", "ivan@example.com", "", "Moscow"]]))
    job = run_import(csv_bytes([HEAD, ["A1", "Ivanov", "Ivan", "new@example.com", "", "Kazan"]]))
    assert (job.created, job.updated) == (0, 1)
    ivan = Contact.objects.get()
    assert (ivan.city, ivan.emails, ivan.version) == (
        "Kazan",
        ["ivan@example.com", "new@example.com"],
        2,
    )
    assert ExternalRef.objects.get().object_id == ivan.pk


def test_unchanged_row_is_not_written(run_import):
    data = csv_bytes([HEAD, ["A1", "Ivanov", "Ivan", "ivan@example.com", "", "Moscow"]])
    run_import(data)
    job = run_import(data)
    assert (job.created, job.updated, job.skipped) == (0, 0, 1)
    assert Contact.objects.get().version == 1


@pytest.mark.parametrize(
    ("action", "contacts", "counts", "flagged"),
    [
        ("merge", 1, (0, 1, 0), 0),
        ("skip", 1, (0, 0, 1), 0),
        ("flag", 2, (1, 0, 0), 1),
    ],
)
def test_duplicate_by_email_merge_skip_or_flag(
    run_import, contact_factory, org, action, contacts, counts, flagged
):
    contact_factory(owner=org.admin, email="ivan@example.com", emails=["ivan@example.com"], city="")
    job = run_import(
        csv_bytes([HEAD, ["", "Ivanov", "Ivan", "IVAN@example.com", "", "Tver"]]),
        options={"duplicates": action},
    )
    assert Contact.objects.count() == contacts
    assert (job.created, job.updated, job.skipped) == counts
    assert job.row_errors.filter(kind=ImportRowError.Kind.FLAGGED).count() == flagged


def test_duplicate_by_phone_in_any_format_merges(run_import, contact_factory, org):
    existing = contact_factory(
        owner=org.admin, phone="+79161234567", phones=["+79161234567"], city=""
    )
    run_import(csv_bytes([HEAD, ["", "", "", "", "8-916-123-45-67", "Tver"]]))
    existing.refresh_from_db()
    assert (Contact.objects.count(), existing.city) == (1, "Tver")


def test_same_person_twice_in_one_batch_is_one_record(run_import):
    rows = [
        HEAD,
        ["", "Ivanov", "Ivan", "ivan@example.com", "", ""],
        ["", "", "", "ivan@example.com", "+79161234567", "Tver"],
    ]
    job = run_import(csv_bytes(rows))
    assert (job.created, job.updated) == (1, 1)
    ivan = Contact.objects.get()
    assert (ivan.last_name, ivan.phones, ivan.city) == ("Ivanov", ["+79161234567"], "Tver")


def test_finder_hook_is_used(run_import, contact_factory, org):
    target = contact_factory(owner=org.admin, city="")

    class NameFinder(ExactKeyFinder):
        flagged = []

        def match(self, *, entity, rows):
            return [target.pk if r.get("last_name") == "Petrov-Twin" else None for r in rows]

        def flag(self, **kwargs):
            self.flagged.append(kwargs)

    finder = NameFinder()
    run_import(csv_bytes([HEAD, ["", "Petrov-Twin", "", "", "", "Omsk"]]), finder=finder)
    target.refresh_from_db()
    assert (Contact.objects.count(), target.city) == (1, "Omsk")


def test_rep_cannot_update_a_record_they_do_not_own(run_import, contact_factory, org):
    theirs = contact_factory(
        owner=org.other_rep, email="x@example.com", emails=["x@example.com"], city="Kazan"
    )
    job = run_import(csv_bytes([HEAD, ["", "", "", "x@example.com", "", "Moscow"]]), user=org.rep)
    theirs.refresh_from_db()
    assert (theirs.city, theirs.version, job.failed) == ("Kazan", 1, 1)
    assert "which you may not change" in job.row_errors.get().reasons["duplicate"]


def test_rep_cannot_assign_to_another_team(run_import, org):
    rows = [["Last name", "Owner"], ["Ivanov", "other_rep"], ["Petrov", "rep_peer"]]
    job = run_import(csv_bytes(rows), user=org.head)
    assert job.failed == 0
    job = run_import(csv_bytes([["Last name", "Owner"], ["Sidorov", "other_rep"]]), user=org.rep)
    assert job.row_errors.get().reasons == {
        "Owner": "You can only assign records to yourself or your team."
    }


def test_analyst_cannot_import(org):
    with pytest.raises(PermissionDeniedError):
        services.import_create(user=org.analyst, entity="contacts", stream=io.BytesIO(b"a\n1\n"))


def test_dry_run_validates_without_writing(run_import):
    rows = [
        HEAD,
        ["A1", "Ivanov", "Ivan", "ivan@example.com", "", ""],
        ["A2", "Bad", "", "bad@", "", ""],
    ]
    job = run_import(csv_bytes(rows), options={"dry_run": True})
    assert (job.status, job.created, job.failed) == ("done", 1, 1)
    assert (Contact.objects.count(), ExternalRef.objects.count(), SearchEntry.objects.count()) == (
        0,
        0,
        0,
    )
    assert job.row_errors.get().row == 3


def test_one_audit_row_per_batch(run_import, org):
    rows = [HEAD] + [[f"A{i}", f"Name{i}", "", f"p{i}@example.com", "", ""] for i in range(5)]
    job = run_import(csv_bytes(rows), batch_size=2)
    audits = AuditLog.objects.filter(entity="import", object_id=job.pk).order_by("id")
    assert [a.changes["rows"] for a in audits] == [[2, 3], [4, 5], [6, 6]]
    assert sum(a.changes["created"] for a in audits) == 5
    assert AuditLog.objects.filter(entity="contact").count() == 0


def test_companies_import_and_tax_id_match(run_import, company_factory, org):
    company_factory(owner=org.admin, name="Romashka", tax_id="7701234567", city="")
    rows = [
        ["Название", "ИНН", "Город", "Сайт"],
        ["ООО Ромашка", "7701234567", "Москва", "romashka.ru"],
        ["Лютик", "", "Тверь", ""],
    ]
    job = run_import(csv_bytes(rows), entity="companies")
    assert (job.created, job.updated, job.failed) == (1, 1, 0)
    assert sorted(Company.objects.values_list("name", "city")) == [
        ("Лютик", "Тверь"),
        ("ООО Ромашка", "Москва"),
    ]


def test_contacts_link_to_companies_by_name(run_import, org):
    rows = [
        ["Email", "Company", "Job title"],
        ["a@example.com", "Acme", "CEO"],
        ["b@example.com", "Acme", ""],
    ]
    run_import(csv_bytes(rows))
    acme = Company.objects.get()
    assert sorted(acme.contacts.values_list("email", flat=True)) == [
        "a@example.com",
        "b@example.com",
    ]
    assert SearchEntry.objects.get(entity="company").title == "Acme"
    for contact in Contact.objects.all():
        assert SearchEntry.objects.get(entity="contact", object_id=contact.pk).text == contact_text(
            contact
        )


def test_interactions_link_by_external_id_or_email(run_import, org):
    run_import(csv_bytes([HEAD, ["C1", "Ivanov", "Ivan", "ivan@example.com", "", ""]]))
    rows = [
        ["Id", "Contact id", "Contact email", "Type", "Date", "Subject", "Duration"],
        ["I1", "C1", "", "call", "31.12.2024 10:30", "Renewal", "90"],
        ["I2", "", "ivan@example.com", "Встреча", "2024-12-30", "Demo", ""],
        ["I3", "nobody", "", "call", "2024-12-30", "Lost", ""],
    ]
    job = run_import(csv_bytes(rows), entity="interactions")
    assert (job.created, job.failed) == (2, 1), list(job.row_errors.values_list("reasons"))
    calls = Interaction.objects.order_by("subject")
    assert [(i.subject, i.kind, i.channel, i.contact.email) for i in calls] == [
        ("Demo", "meeting", "in_person", "ivan@example.com"),
        ("Renewal", "call", "phone", "ivan@example.com"),
    ]
    renewal = calls[1]
    assert (renewal.occurred_at.isoformat(), renewal.duration_seconds) == (
        "2024-12-31T10:30:00+00:00",
        90,
    )


def test_a_rep_cannot_attach_interactions_to_hidden_contacts(run_import, contact_factory, org):
    contact_factory(owner=org.other_rep, email="hidden@example.com", emails=["hidden@example.com"])
    rows = [["Contact email", "Type", "Subject"], ["hidden@example.com", "call", "Sneaky"]]
    job = run_import(csv_bytes(rows), entity="interactions", user=org.rep)
    assert (job.created, job.failed, Interaction.objects.count()) == (0, 1, 0)


def test_saved_mapping_is_reused(run_import, org):
    services.mapping_save(
        user=org.admin,
        entity="contacts",
        name="1C",
        columns={"Col A": "last_name", "Col B": "email"},
    )
    job = services.import_create(
        user=org.admin,
        entity="contacts",
        stream=io.BytesIO(csv_bytes([["Col A", "Col B"], ["Ivanov", "i@example.com"]])),
        file_name="x.csv",
        mapping_name="1C",
    )
    assert job.mapping == {"Col A": "last_name", "Col B": "email"}


# --- the bulk path gives what the ORM and the customers helpers give -------------------------

NAMES = st.sampled_from(
    ["Иванов", "Фёдоров", "Щукина", "Юлия", "Ёжиков", "Хрущёв", "Ivanov", "Yuliya", "Zoë",
     "Ørsted", "Σοφία ΟΔΟΣ", "Mc'Kay-Smith", "İstanbul", "ﬁne", "a̐b", "Ǆ", "x"]
)  # fmt: skip
PARTS = st.one_of(NAMES, st.text(max_size=30), st.emails(), st.just(""), st.just("  "))


@settings(max_examples=500, deadline=None)
@given(
    parts=st.lists(PARTS, max_size=6),
    phones=st.lists(st.from_regex(r"\+7\d{10}", fullmatch=True), max_size=3),
)
def test_bulk_search_text_equals_the_customers_one(parts, phones):
    assert cleaning.search_text(*parts, phones=phones) == normalize.search_text(
        *parts, phones=phones
    )
    for part in parts:
        assert cleaning.fold(part) == normalize.fold(part)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(alphabet=st.sampled_from("ab@.;,\n\r\t \u00a0"), max_size=20))
def test_split_multi_equals_the_regex_split(raw):
    expected = [p.strip() for p in re.split(r"[;,\n]+", raw) if p.strip()]
    assert split_multi(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["+7 916 123-45-67", "8 (916) 123-45-67", "79161234567", "7 (916) 123 45 67", "+79161234567",
     "7-916-123-45-67", " 8 916 1234567 ", "+7 (495) 111-22-33", "8 800 555 35 35", "7916123456"],
)  # fmt: skip
def test_bulk_phone_reading_equals_phonenumbers(org, raw):
    cleaner = Cleaner(user=org.admin, entity="contacts", options={})
    assert cleaner.phone(raw) == normalize.normalize_phone(raw, "RU")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from(["+7", "8", "7", " 7", "+7 ", "8-"]),
    rest=st.from_regex(r"9\d{9}", fullmatch=True),  # any script's digits, e.g. "٠"
    sep=st.sampled_from(["", " ", "-", ") ", "."]),
)
def test_bulk_phone_reading_equals_phonenumbers_for_mobiles(org, prefix, rest, sep):
    cleaner = Cleaner(user=org.admin, entity="contacts", options={})
    raw = f"{prefix}{rest[:3]}{sep}{rest[3:6]}{sep}{rest[6:]}"
    assert cleaner.phone(raw) == normalize.normalize_phone(raw, "RU")


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (Contact, {"first_name": "Ivan", "emails": ["i@example.com"], "owner_id": 1}),
        (Contact, {"last_name": "Petrov", "custom": {"a": 1}, "tags": "x", "version": 1}),
        (Company, {"name": "Acme", "owner_id": 2, "phones": ["+74951112233"]}),
        (Interaction, {"kind": "call", "contact_id": 3, "subject": "Hi"}),
    ],
)
def test_bulk_build_equals_model_init(db, model, values):
    built, made = fastinsert.build(model, dict(values)), model(**values)
    for field in model._meta.concrete_fields:
        if field.attname not in {"created_at", "updated_at", "at", "occurred_at"}:
            assert getattr(built, field.attname) == getattr(made, field.attname), field.attname
    assert built._state.adding and built._state.db is None
    # Mutable defaults are fresh for each instance, as Model.__init__ makes them.
    if "social" in built.__dict__:
        assert built.social is not fastinsert.build(model, dict(values)).social


def test_duplicate_key_matches_the_oldest_record(run_import, contact_factory, org):
    older = contact_factory(owner=org.admin, email="twin@example.com", emails=["twin@example.com"])
    contact_factory(owner=org.admin, email="twin@example.com", emails=["twin@example.com"])
    job = run_import(csv_bytes([HEAD, ["", "Twin", "Tom", "TWIN@example.com", "", "Omsk"]]))
    assert (job.created, job.updated) == (0, 1)
    older.refresh_from_db()
    assert older.city == "Omsk"


@pytest.fixture
def refuse_last_name(db):
    """The database itself refuses contacts named "Refused" (as a constraint would)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_contact() RETURNS trigger AS $$ BEGIN "
                "IF NEW.last_name = 'Refused' THEN RAISE EXCEPTION 'refused by a trigger'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_contact BEFORE INSERT ON customers_contact "
                "FOR EACH ROW EXECUTE FUNCTION refuse_contact()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_contact BEFORE INSERT ON customers_contact "
                "WHEN NEW.last_name = 'Refused' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
            )


def test_a_row_the_database_refuses_does_not_sink_its_batch(run_import, refuse_last_name):
    names = ["Oleg", "Pavel", "Roman", "Semyon", "Timur"]
    rows = [HEAD] + [
        [f"R{i}", "Refused" if i == 2 else "Orlov", name, f"{name.lower()}@example.com", "", ""]
        for i, name in enumerate(names)
    ]
    job = run_import(csv_bytes(rows), batch_size=3)
    assert (job.created, job.failed, job.processed) == (4, 1, 5)
    error = ImportRowError.objects.get(job=job)
    assert error.row == 4
    assert list(error.reasons) == ["row"]
    assert error.reasons["row"].startswith("The database refused this row: ")
    assert "refused by a trigger" in error.reasons["row"]
    # The other rows of the refused batch went in, indexed, their words in the vocabulary.
    assert sorted(Contact.objects.values_list("first_name", flat=True)) == [
        "Oleg", "Pavel", "Semyon", "Timur",
    ]  # fmt: skip
    assert SearchEntry.objects.filter(entity="contact").count() == 4
    assert sorted(SearchWord.objects.values_list("word", flat=True)) == [
        "oleg", "orlov", "pavel", "semion", "timur",
    ]  # fmt: skip
    assert [
        a.changes["failed"] for a in AuditLog.objects.filter(entity="import").order_by("id")
    ] == [1, 0]


@pytest.mark.django_db(transaction=True)
def test_small_batches_keep_file_order_errors_and_audit(run_import, org):
    """Committed data (no test transaction), batches of two: owners looked up, errors in the
    caller's language and in file order, one audit row per batch."""
    rows = [["External id", "Last name", "Email", "Owner"]] + [
        [f"A{i}", f"Name{i}", "bad@" if i % 4 == 1 else f"p{i}@example.com", "rep"]
        for i in range(9)
    ]
    with translation.override("ru"):
        job = run_import(csv_bytes(rows), batch_size=2)
    assert (job.processed, job.created, job.failed) == (9, 7, 2)
    assert [(e.row, list(e.reasons)) for e in job.row_errors.order_by("id")] == [
        (3, ["Email"]),
        (7, ["Email"]),
    ]
    assert (
        job.row_errors.first()
        .reasons["Email"]
        .startswith("Некорректный адрес электронной почты 'bad@'")
    )
    assert set(Contact.objects.values_list("owner_id", flat=True)) == {org.rep.pk}
    assert SearchEntry.objects.filter(entity="contact").count() == 7
    audits = AuditLog.objects.filter(entity="import", object_id=job.pk).order_by("id")
    assert [a.changes["rows"] for a in audits] == [[2, 3], [4, 5], [6, 7], [8, 9], [10, 10]]


@pytest.mark.parametrize(
    "value",
    [{}, [], ["a@example.ru"], ["+79161234567", "+74951112233"], ['q"\\ \n\u2028 ё'], [1, "a"],
     {"a": [1]}, ["x", None], [[]], 0, False, ""],
)  # fmt: skip
def test_bulk_json_equals_json_dumps(value):
    assert fastinsert._json(value) == json.dumps(value, ensure_ascii=False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_the_tables_looked_up_get_fresh_statistics_as_they_grow(run_import):
    def analyses() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s",
                ["customers_contact"],
            )
            return cursor.fetchone()[0]

    before = analyses()
    rows = [HEAD] + [[f"A{i}", f"Name{i}", "", f"p{i}@example.com", "", ""] for i in range(5)]
    run_import(csv_bytes(rows), batch_size=1)
    assert analyses() - before >= 3  # after batches 1, 2 and 4 of 5 (autovacuum may add one)
