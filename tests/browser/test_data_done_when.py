"""Issue 4's "Done when", end to end in a real browser, every step through the UI (small scale).

A base of a few contacts with interactions on their timelines; an admin imports a Russian Excel
export (Windows-1251, ';', dd.mm.yyyy) with a few broken rows and duplicates of the base and of
itself, flags the duplicates for review, watches the progress, downloads the error report; then
scans for duplicates, merges the obvious pairs in bulk and the doubtful one by hand (picking the
values to keep), exports the clean contact list — and no interaction is lost.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from playwright.sync_api import expect

from kliento.conftest import log_in, shot
from kliento.customers import services as customer_services
from kliento.customers.models import Contact, Interaction
from kliento.dataio.dedup.models import DuplicatePair, MergeRecord

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


HEADERS = ["Фамилия", "Имя", "Эл. почта", "Телефон", "Дата рождения", "Город", "Комментарий"]
LAST_NAMES = [
    "Белов", "Виноградов", "Гаврилов", "Голубев", "Гусев", "Данилов", "Егоров", "Жуков",
    "Зайцев", "Зуев", "Ильин", "Калинин", "Комаров", "Крылов", "Лебедев", "Макаров",
    "Медведев", "Никитин", "Орлов", "Павлов", "Романов", "Семенов", "Тарасов", "Филиппов",
    "Фролов",
]  # fmt: skip
FIRST_NAMES = ["Алексей", "Борис", "Виктор", "Глеб", "Денис", "Евгений", "Кирилл", "Максим"]
FILLERS = len(LAST_NAMES) * len(FIRST_NAMES)  # 200 clean, distinct people

# Rows of the file that duplicate the base or each other, by key; their 1-based data index.
DUPLICATES = {
    # Latin transliteration of Иван Иванов, the email in capitals, the phone written 8 (…).
    "ivanov": ["Ivanov", "Ivan", "IVAN.IVANOV@MAIL.RU", "8 (916) 111-22-33", "31.12.1990", ""],
    # Смирнова Ольга with first and last name swapped, only the phone in another format.
    "smirnova": ["Ольга", "Смирнова", "", "8-916-222-33-44", "15.05.1985", ""],
    # Anna Sokolova (Latin in the base) written in Cyrillic, the email in mixed case.
    "sokolova": ["Соколова", "Анна", "Anna.Sokolova@Example.com", "", "", ""],
    # Пётр Кузнецов? The same name in Latin but another email, nothing else: doubtful.
    "kuznetsov": ["Kuznetsov", "Petr", "petr.k@yandex.ru", "", "", ""],
    # Twice in the file itself: Cyrillic, then Latin with the phone and email written otherwise.
    "volkov_ru": ["Волков", "Андрей", "volkov.a@mail.ru", "+7 916 777-88-99", "01.06.1982", ""],
    "volkov_en": ["Volkov", "Andrey", "VOLKOV.A@MAIL.RU", "89167778899", "01.06.1982", ""],
}
# Broken rows: what is wrong with them, by file row number (header = row 1).
BROKEN = {
    "email": ["Петрова", "Ирина", "irina.petrova@", "", "", ""],
    "date": ["Сидоров", "Олег", "o.sidorov@mail.ru", "", "31.02.1991", ""],
    "phone": ["Фёдорова", "Нина", "", "12345", "", ""],
}


def file_rows() -> tuple[list[list[str]], dict[str, int]]:
    """The data rows of the export (each with a comment cell) and where the special rows are
    (file row numbers: the header is row 1)."""
    rows: list[list[str]] = []
    special = {**DUPLICATES, **{f"broken_{k}": v for k, v in BROKEN.items()}}
    # The special rows are spread through the file, not bunched at its start.
    at = {key: 11 + 23 * n for n, key in enumerate(special)}
    where: dict[str, int] = {}
    filler = 0
    born = dt.date(1960, 1, 1)
    while filler < FILLERS or len(where) < len(special):
        key = next((k for k, i in at.items() if i == len(rows)), None)
        if key is not None:
            rows.append([*special[key], "из 1С"])
            where[key] = len(rows) + 1
            continue
        last = LAST_NAMES[filler % len(LAST_NAMES)]
        first = FIRST_NAMES[filler // len(LAST_NAMES)]
        day = born + dt.timedelta(days=97 * filler)
        rows.append(
            [
                last,
                first,
                f"client{filler:03d}@example.ru",
                f"8 903 {filler:03d}-{filler % 89:02d}-{filler % 97:02d}",
                day.strftime("%d.%m.%Y"),
                ["Москва", "Казань", "Самара", "Тверь"][filler % 4],
                "",
            ]
        )
        filler += 1
    return rows, where


def file_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode("cp1251")


def make_base(org) -> dict[str, Contact]:
    """The contacts already in Kliento (oldest first) and the interactions on their timelines.

    Сергей Новиков was entered twice before (the second copy in Latin): a duplicate inside the
    base, each copy with its own history."""
    people = {
        "ivanov": ("Иван", "Иванов", "ivan.ivanov@mail.ru", "+79161112233", "1990-12-31", 3),
        "smirnova": ("Ольга", "Смирнова", "o.smirnova@yandex.ru", "+79162223344", "1985-05-15", 2),
        "sokolova": ("Anna", "Sokolova", "anna.sokolova@example.com", "", "", 1),
        "kuznetsov": ("Пётр", "Кузнецов", "p.kuznetsov@gmail.com", "+79163334455", "", 2),
        "popova": ("Мария", "Попова", "m.popova@mail.ru", "+79164445566", "1993-07-07", 1),
        "novikov": ("Сергей", "Новиков", "s.novikov@mail.ru", "+79165556677", "1988-02-02", 1),
        "novikov_en": ("Sergey", "Novikov", "S.Novikov@Mail.ru", "8 916 555 66 77", "", 2),
    }  # fmt: skip
    base: dict[str, Contact] = {}
    kinds = ["call", "email", "meeting"]
    for key, (first, last, email, phone, born, calls) in people.items():
        data = {"first_name": first, "last_name": last, "emails": [email], "owner_id": org.rep.pk}
        if phone:
            data["phones"] = [phone]
        if born:
            data["birth_date"] = born
        if key == "kuznetsov":
            data["city"] = "Москва"
        contact = customer_services.contact_create(user=org.admin, data=data)
        for n in range(calls):
            customer_services.interaction_create(
                user=org.rep if n % 2 else org.admin,
                data={
                    "kind": kinds[n % 3],
                    "subject": f"{last}: {kinds[n % 3]} {n + 1}",
                    "contact_id": contact.pk,
                },
            )
        base[key] = contact
    return base


def _timeline_snapshot() -> dict[int, int | None]:
    return dict(Interaction.objects.values_list("id", "contact_id"))


def test_import_dedupe_and_export_without_losing_an_interaction(live_server, org, page, tmp_path):
    base_url = live_server.url
    page.set_default_timeout(30_000)  # the shared CI box can be slow; every wait is explicit
    base = make_base(org)
    rows, where = file_rows()
    good_rows = len(rows) - len(BROKEN)
    history = _timeline_snapshot()
    assert len(history) == 12

    # 1. The admin opens Contacts → Import and uploads the Windows-1251 Excel export.
    log_in(page, base_url, "admin")
    page.locator('nav.nav a[href="/contacts/"]').click()
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import a file")).to_be_visible()
    page.set_input_files(
        "#id_file",
        files=[{"name": "Клиенты из 1С.csv", "mimeType": "text/csv", "buffer": file_bytes(rows)}],
    )
    page.get_by_role("button", name="Upload and map columns").click()

    # 2. Every Russian header is matched; the comment column is left out; duplicates are
    # created and flagged for review rather than merged blindly or dropped.
    expect(page.get_by_role("heading", name="Match the columns")).to_be_visible()
    guessed = ["last_name", "first_name", "email", "phone", "birth_date", "city", "preferences"]
    for n, field in enumerate(guessed):
        expect(page.locator(f"#map-{n}")).to_have_value(field)
    page.select_option("#map-6", "")
    expect(page.locator("#id_date_format")).to_have_value("dmy")
    offered = page.locator("#id_duplicates option").evaluate_all("els => els.map(e => e.value)")
    assert offered == ["merge", "skip", "flag"]
    page.select_option("#id_duplicates", "flag")
    shot(page, "01-mapping")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Check the first rows")).to_be_visible()
    expect(page.get_by_text("The first rows read cleanly.")).to_be_visible()
    preview = page.locator("table.preview tbody tr").nth(where["ivanov"] - 2)
    expect(preview).to_contain_text("IVAN.IVANOV@MAIL.RU")
    expect(preview).to_contain_text("31.12.1990")
    shot(page, "02-preview")
    page.get_by_role("button", name="Run the import").click()

    # 3. The progress reaches 100 %; the counts add up.
    expect(page.get_by_role("heading", name="Import of Клиенты из 1С.csv")).to_be_visible()
    expect(page.locator(".pct").first).to_have_text("100%")
    expect(page.locator("#job-status")).to_have_text("Done")
    stats = page.locator(".job-stats .stat b")
    expect(stats).to_have_text([str(good_rows), "0", "0", str(len(BROKEN))])
    shot(page, "03-import-done")
    assert Contact.objects.count() == len(base) + good_rows
    fresh = Contact.objects.exclude(pk__in=[c.pk for c in base.values()])
    imported = {
        "ivanov": fresh.get(email="ivan.ivanov@mail.ru"),
        "smirnova": fresh.get(phone="+79162223344"),
        "sokolova": fresh.get(email="anna.sokolova@example.com"),
        "kuznetsov": fresh.get(email="petr.k@yandex.ru"),
        "volkov_ru": fresh.get(first_name="Андрей"),
        "volkov_en": fresh.get(first_name="Andrey"),
    }
    assert (imported["smirnova"].first_name, imported["smirnova"].last_name) == (
        "Смирнова",
        "Ольга",
    )  # as the file has it: swapped
    assert imported["ivanov"].birth_date == dt.date(1990, 12, 31)

    # 4. The error report: exactly the broken rows, with their numbers, cells and reasons; the
    # rows created but flagged as possible duplicates are listed after them.
    on_page = page.locator("#progress table.list tbody tr")
    expect(on_page).to_have_count(len(BROKEN) + 4)
    expect(on_page.first.locator(".badge")).to_have_text("Possible duplicate")
    expect(on_page.first.locator("td div")).to_have_text(
        f"Created as contact #{imported['ivanov'].pk}; looks like #{base['ivanov'].pk}."
    )
    expect(on_page.last).to_contain_text("Телефон: Invalid phone '12345'")
    with page.expect_download() as info:
        page.locator("#error-report").click()
    download = info.value
    assert download.suggested_filename.endswith("-errors.csv")
    with open(download.path(), encoding="utf-8-sig") as fh:
        report = list(csv.reader(fh))
    assert report[0] == ["Row", "Problem", "Reason", *HEADERS]
    broken = [r for r in report[1:] if r[1] == "Not imported"]
    assert [int(r[0]) for r in broken] == [where[f"broken_{k}"] for k in BROKEN]
    assert [r[3:] for r in broken] == [[*v, "из 1С"] for v in BROKEN.values()]
    assert [r[2] for r in broken] == [
        "Эл. почта: Invalid email 'irina.petrova@': not a valid email address",
        "Дата рождения: Not a date: '31.02.1991'.",
        "Телефон: Invalid phone '12345': not a possible phone number",
    ]
    flagged = [r for r in report[1:] if r[1] == "Possible duplicate"]
    assert len(broken) + len(flagged) == len(report) - 1
    looks_like = {
        "ivanov": base["ivanov"],
        "smirnova": base["smirnova"],
        "sokolova": base["sokolova"],
        "volkov_en": imported["volkov_ru"],
    }
    assert [(int(r[0]), r[2]) for r in flagged] == [
        (
            where[key],
            f"Created as contact #{imported[key].pk}; looks like #{twin.pk}.",
        )
        for key, twin in looks_like.items()
    ]
    assert [r[3:] for r in flagged] == [[*DUPLICATES[k], "из 1С"] for k in looks_like]

    # 5. The duplicate scan, from the Data page: the pairs, most likely first.
    page.locator('nav.nav a[href="/data/"]').first.click()
    page.get_by_role("link", name="Review duplicates").click()
    expect(page.get_by_role("heading", name="Duplicates", exact=True)).to_be_visible()
    page.get_by_role("button", name="Scan for duplicates").click()
    job = page.locator(".dedup-job").first
    expect(job).to_contain_text("Scan")
    expect(job).to_contain_text("Done")
    expect(job).to_contain_text("Contacts: 213 records, 6 pairs compared, 6 likely duplicates")
    expect(job).to_contain_text("Companies: 0 records")
    expect(page.get_by_text("Pairs waiting for review: contacts 6, companies 0.")).to_be_visible()
    results = page.locator("#results tbody tr")
    expect(results).to_have_count(6)
    expect(results.locator(".dedup-pct")).to_have_text(["100%"] * 5 + ["67%"])
    expect(results.nth(5)).to_contain_text("Пётр Кузнецов")
    expect(results.nth(5)).to_contain_text("Petr Kuznetsov")
    shot(page, "04-duplicates-scanned")
    pairs = {
        frozenset((p.a_id, p.b_id)): p
        for p in DuplicatePair.objects.filter(status=DuplicatePair.Status.OPEN)
    }
    obvious = {
        "ivanov": (base["ivanov"], imported["ivanov"]),
        "smirnova": (base["smirnova"], imported["smirnova"]),
        "sokolova": (base["sokolova"], imported["sokolova"]),
        "novikov": (base["novikov"], base["novikov_en"]),
        "volkov": (imported["volkov_ru"], imported["volkov_en"]),
    }
    doubtful = (base["kuznetsov"], imported["kuznetsov"])
    assert set(pairs) == {frozenset(c.pk for c in p) for p in [*obvious.values(), doubtful]}

    # 6. Merge in bulk every contact pair at 95 % or more, after the confirmation.
    page.fill("#bulk-min", "95")
    page.select_option("#bulk-entity", "contact")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('form[action="/duplicates/bulk-merge/"]').get_by_role(
        "button", name="Merge"
    ).click()
    expect(page.get_by_text("Bulk merge has started")).to_be_visible()
    bulk = page.locator(".dedup-job").first
    expect(bulk).to_contain_text("Bulk merge")
    expect(bulk).to_contain_text("5 merged, 0 skipped")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Petr Kuznetsov")
    shot(page, "05-bulk-merged")
    for key, (survivor, other) in obvious.items():
        assert not Contact.objects.filter(pk=other.pk).exists(), key
        assert MergeRecord.objects.filter(survivor_id=survivor.pk, other_id=other.pk).count() == 1
    expect(page.get_by_text("Pairs waiting for review: contacts 1, companies 0.")).to_be_visible()
    smirnova = Contact.objects.get(pk=base["smirnova"].pk)
    # The swapped names of the import did not overwrite hers.
    assert (smirnova.first_name, smirnova.last_name) == ("Ольга", "Смирнова")
    # The rep keeps his customers: the admin who imported the copies does not take them over.
    for key in ("ivanov", "smirnova", "sokolova", "novikov"):
        assert Contact.objects.get(pk=base[key].pk).owner_id == org.rep.pk, key

    # 7. The doubtful pair by hand: the newer Latin spelling would win by default; keep the
    # Cyrillic names of the older record, take both emails.
    results.first.get_by_role("link", name="Review").click()
    expect(
        page.get_by_role("heading", name=re.compile("Пётр Кузнецов ↔ Petr Kuznetsov"))
    ).to_be_visible()
    expect(page.get_by_role("radio", name="Petr", exact=True)).to_be_checked()
    page.get_by_role("radio", name="Пётр", exact=True).check()
    page.get_by_role("radio", name="Кузнецов", exact=True).check()
    emails = page.locator("tr", has=page.locator('input[name="choice.emails"]'))
    expect(emails.get_by_role("radio", name="both")).to_be_checked()
    expect(page.get_by_role("radio", name="Rep", exact=True)).to_be_checked()
    shot(page, "06-pair-by-hand")
    page.locator("#merge-form").get_by_role("button", name="Merge").click()
    expect(page.get_by_text(re.compile(r"Merged: #\d+ is now part of #\d+"))).to_be_visible()
    expect(page.locator("#results")).to_contain_text("No duplicates waiting for review")
    shot(page, "07-queue-empty")
    kuznetsov = Contact.objects.get(pk=base["kuznetsov"].pk)
    assert (kuznetsov.first_name, kuznetsov.last_name) == ("Пётр", "Кузнецов")
    assert kuznetsov.emails == ["p.kuznetsov@gmail.com", "petr.k@yandex.ru"]
    assert (kuznetsov.city, kuznetsov.owner_id) == ("Москва", org.rep.pk)
    assert not Contact.objects.filter(pk=imported["kuznetsov"].pk).exists()
    merged_away = {o.pk: s.pk for s, o in [*obvious.values(), doubtful]}
    assert MergeRecord.objects.count() == len(merged_away) == 6

    # 8. Contacts → Export → CSV: one row per surviving contact, no merged-away record.
    page.locator('nav.nav a[href="/contacts/"]').click()
    page.get_by_role("button", name="Export").click()
    expect(page.get_by_role("heading", name="Export contacts")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("CSV"))).to_be_checked()
    shot(page, "08-export")
    with page.expect_download() as info:
        page.locator("form.card").get_by_role("button", name="Export").click()
    with open(info.value.path(), encoding="utf-8-sig") as fh:
        exported = list(csv.DictReader(fh))
    survivors = len(base) + good_rows - len(merged_away)
    assert len(exported) == survivors == Contact.objects.count() == 207
    ids = [int(r["Id"]) for r in exported]
    assert len(set(ids)) == len(ids)
    assert set(ids) == set(Contact.objects.values_list("pk", flat=True))
    assert not set(ids) & set(merged_away)
    emails_out = [e for r in exported for e in r["Email"].split(", ") if e]
    assert len(emails_out) == len(set(emails_out))
    row = next(r for r in exported if int(r["Id"]) == kuznetsov.pk)
    assert (row["Last name"], row["First name"]) == ("Кузнецов", "Пётр")

    # 9. Not one interaction lost: each is where it was, or on the survivor of its contact;
    # the only new ones are the merge notes, one per merge, on the survivors' timelines.
    now = _timeline_snapshot()
    for pk, contact_id in history.items():
        assert now[pk] == merged_away.get(contact_id, contact_id), pk
    notes = Interaction.objects.exclude(pk__in=history)
    assert len(now) == len(history) + len(merged_away)
    assert sorted(notes.values_list("contact_id", flat=True)) == sorted(merged_away.values())
    assert set(notes.values_list("kind", flat=True)) == {"note"}
    assert all(n.subject.startswith("Merged with the duplicate") for n in notes)

    # Сергей Новиков's page shows the history of both of his records and the merge.
    page.goto(f"{base_url}/contacts/{base['novikov'].pk}/")
    timeline = page.locator("#timeline")
    for subject in ("Новиков: call 1", "Novikov: call 1", "Novikov: email 2"):
        expect(timeline.get_by_text(subject, exact=True)).to_be_visible()
    expect(timeline).to_contain_text(
        f"Merged with the duplicate Sergey Novikov (#{base['novikov_en'].pk})"
    )
    expect(timeline.locator(".tl-item")).to_have_count(4)
    shot(page, "09-survivor-timeline")

    # 10. In Russian: the merged pairs are listed with their status.
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Русский").click()
    page.goto(f"{base_url}/duplicates/?status=merged")
    expect(page.get_by_role("heading", name="Дубликаты", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Найти дубликаты")).to_be_visible()
    expect(page.get_by_role("heading", name="Объединить массово")).to_be_visible()
    expect(results).to_have_count(6)
    shot(page, "10-duplicates-ru")
