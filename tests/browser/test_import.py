"""In a real browser: upload a CSV with some bad rows, map the columns, watch the progress
reach 100%, and download the error report."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from kliento.conftest import log_in, shot
from kliento.customers.models import Contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _people_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Фамилия", "Имя", "Эл. почта", "Телефон", "Дата рождения", "Комментарий"])
    for i in range(40):
        if i in (7, 23):
            writer.writerow([f"Сломанный{i}", "Ряд", f"broken{i}@", "", "", ""])
        elif i == 31:
            writer.writerow([f"Кривой{i}", "Ряд", f"p{i}@example.com", "12345", "35.13.1990", ""])
        else:
            writer.writerow(
                [
                    f"Фамилия{i}",
                    f"Имя{i}",
                    f"p{i}@example.com",
                    f"8 916 000 00 {i:02d}",
                    "01.02.1990",
                    "",
                ]
            )
    return out.getvalue().encode("cp1251")


def test_upload_mapping_progress_and_error_report(live_server, org, page):
    base = live_server.url
    log_in(page, base, "rep")
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import a file")).to_be_visible()
    shot(page, "data-home-empty")

    page.set_input_files(
        "#id_file", files=[{"name": "clients.csv", "mimeType": "text/csv", "buffer": _people_csv()}]
    )
    page.get_by_role("button", name="Upload and map columns").click()
    expect(page.get_by_role("heading", name="Match the columns")).to_be_visible()
    expect(page.locator("#map-2")).to_have_value("email")
    expect(page.locator("#map-5")).to_have_value("preferences")
    page.select_option("#map-5", "")  # ignore the comment column
    page.fill("#id_save_as", "Клиенты из 1С")
    shot(page, "import-mapping")
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", name="Check the first rows")).to_be_visible()
    expect(page.locator("td.bad").first).to_be_visible()
    expect(page.get_by_text("1 of the first 20 rows has a problem.")).to_be_visible()
    shot(page, "import-preview")
    page.get_by_role("button", name="Run the import").click()

    expect(page.get_by_role("heading", name="Import of clients.csv")).to_be_visible()
    expect(page.locator(".pct").first).to_have_text("100%", timeout=30_000)
    expect(page.locator("#job-status")).to_have_text("Done")
    shot(page, "import-done")
    assert Contact.objects.filter(owner=org.rep).count() == 37

    with page.expect_download() as info:
        page.locator("#error-report").click()
    download = info.value
    assert download.suggested_filename.endswith("-errors.csv")
    with open(download.path(), encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows[1:]] == ["9", "25", "33"]
    assert rows[0][:3] == ["Row", "Problem", "Reason"]
    assert rows[1][3:6] == ["Сломанный7", "Ряд", "broken7@"]
    assert "Эл. почта: Invalid email 'broken7@'" in rows[1][2]
    assert "Дата рождения: Not a date: '35.13.1990'." in rows[3][2]

    # The job stays listed in the Data area.
    page.get_by_role("link", name="Data", exact=True).first.click()
    expect(page.locator("#imports")).to_contain_text("clients.csv")
    shot(page, "data-home")


def test_russian_user_gets_a_clear_message_for_a_file_without_header(live_server, org, page):
    base = live_server.url
    log_in(page, base, "rep")
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Русский").click()
    page.goto(f"{base}/data/")
    expect(page.get_by_role("heading", name="Импорт файла")).to_be_visible()
    expect(page.get_by_text("Импортов пока нет")).to_be_visible()
    shot(page, "data-home-ru-empty")
    headless = "Иванов;ivan@example.com;+79161234567\r\n".encode("cp1251")
    page.set_input_files(
        "#id_file", files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": headless}]
    )
    page.get_by_role("button", name="Загрузить и сопоставить столбцы").click()
    expect(page.get_by_text("Файл не импортирован.")).to_be_visible()
    expect(page.get_by_text(re.compile("Первая строка похожа на данные"))).to_be_visible()
    shot(page, "data-home-ru-error")
    page.goto(f"{base}/contacts/")
    expect(page.get_by_role("button", name="Экспорт")).to_be_visible()
    page.get_by_role("button", name="Экспорт").click()
    expect(page.get_by_role("heading", name="Экспорт контактов")).to_be_visible()
    shot(page, "export-ru")
