"""Reading files: encodings, delimiters, headers, dates and decimals, and each bad input."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from kliento.core.errors import ValidationFailedError
from kliento.customers.models import Contact
from kliento.dataio.transfer import services
from kliento.dataio.transfer.fields import guess_mapping, parse_date_value, parse_decimal
from kliento.dataio.transfer.models import ImportJob
from kliento.dataio.transfer.readers import detect_delimiter, detect_encoding
from kliento.dataio.transfer.tests.conftest import csv_bytes

RU_ROWS = [
    ["Фамилия", "Имя", "E-mail", "Телефон", "Город"],
    ["Иванов", "Иван", "ivan@example.com", "8 (916) 123-45-67", "Москва"],
    ["Щукина", "Ёлка", "elka@example.com", "+7 916 765 43 21", "Тверь"],
]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1251", "cp1251")],
)
def test_encoding_is_detected(run_import, encoding, expected):
    job = run_import(csv_bytes(RU_ROWS, encoding=encoding))
    assert detect_encoding(csv_bytes(RU_ROWS, encoding=encoding)) == expected
    assert (job.status, job.created, job.failed) == ("done", 2, 0)
    assert sorted(Contact.objects.values_list("last_name", "city")) == [
        ("Иванов", "Москва"),
        ("Щукина", "Тверь"),
    ]


def test_wrong_encoding_override_reports_rows_and_keeps_the_rest(run_import):
    rows = [["Last name", "Email"], ["Smith", "smith@example.com"], ["Щукина", "sch@example.com"]]
    job = run_import(csv_bytes(rows, encoding="cp1251"), options={"encoding": "utf-8"})
    assert (job.created, job.failed) == (1, 1)
    error = job.row_errors.get()
    assert error.row == 3
    assert "not valid UTF-8" in error.reasons["row"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(run_import, delimiter):
    data = csv_bytes(RU_ROWS, delimiter=delimiter)
    assert detect_delimiter(data.decode()) == delimiter
    job = run_import(data)
    assert (job.created, job.failed) == (2, 0)


def test_single_column_file_falls_back_to_comma():
    assert detect_delimiter("Email\nivan@example.com\n") == ","


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("31.12.2024", "dmy", "2024-12-31"),
        ("31.12.2024", "mdy", "2024-12-31"),  # dotted dates are day-first everywhere
        ("2024-12-31", "mdy", "2024-12-31"),
        ("12/31/2024", "mdy", "2024-12-31"),
        ("01/02/2024", "mdy", "2024-01-02"),
        ("01/02/2024", "dmy", "2024-02-01"),
        ("1.2.85", "dmy", "1985-02-01"),
    ],
)
def test_dates_by_locale(raw, fmt, expected):
    assert parse_date_value(raw, fmt).isoformat() == expected


@pytest.mark.parametrize(
    ("raw", "sep", "expected"),
    [
        ("1 234,56", ",", "1234.56"),
        ("1.234,5", ",", "1234.5"),
        ("1,234.56", ".", "1234.56"),
        ("7", ".", "7"),
    ],
)
def test_decimals_with_comma_or_point(raw, sep, expected):
    assert str(parse_decimal(raw, sep)) == expected


def test_birth_dates_and_custom_numbers_follow_the_chosen_locale(run_import, org):
    from kliento.core.services import custom_field_create

    custom_field_create(actor=org.admin, entity="contact", label="Budget", type="number")
    rows = [
        ["Name", "Email", "Birthday", "Budget"],
        ["Ann Lee", "ann@example.com", "02/03/1990", "1 500,75"],
    ]
    job = run_import(csv_bytes(rows), options={"date_format": "mdy", "decimal": ","})
    assert job.failed == 0
    ann = Contact.objects.get()
    assert (ann.first_name, ann.last_name, str(ann.birth_date)) == ("Ann", "Lee", "1990-02-03")
    assert ann.custom == {"budget": 1500.75}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            [
                "Фамилия",
                "Имя",
                "Отчество",
                "Телефон",
                "E-mail",
                "Компания",
                "Город",
                "Дата рождения",
            ],
            [
                "last_name",
                "first_name",
                "middle_name",
                "phone",
                "email",
                "company",
                "city",
                "birth_date",
            ],
        ),
        (
            [
                "Last Name",
                "First name",
                "E-mail address",
                "Mobile",
                "Company",
                "City",
                "Date of birth",
                "Notes",
            ],
            [
                "last_name",
                "first_name",
                "email",
                "phone",
                "company",
                "city",
                "birth_date",
                "preferences",
            ],
        ),
        (["ФИО", "Эл. почта", "Что-то"], ["full_name", "email", None]),
    ],
)
def test_mapping_is_guessed_from_english_and_russian_headers(db, headers, expected):
    mapping = guess_mapping("contacts", headers)
    assert [mapping.get(h) for h in headers] == expected


def test_company_headers_in_russian(db):
    mapping = guess_mapping("companies", ["Название", "ИНН", "Город", "Сайт", "Телефон"])
    assert list(mapping.values()) == ["name", "tax_id", "city", "website", "phone"]


def test_xlsx_is_read(run_import):
    book = Workbook()
    sheet = book.active
    sheet.append(["Фамилия", "Имя", "E-mail", "Дата рождения"])
    from datetime import datetime

    sheet.append(["Иванов", "Иван", "ivan@example.com", datetime(1990, 12, 31)])
    sheet.append(["Петров", None, "bad@", None])
    out = io.BytesIO()
    book.save(out)
    job = run_import(out.getvalue(), name="people.xlsx")
    assert (job.created, job.failed) == (1, 1)
    assert str(Contact.objects.get().birth_date) == "1990-12-31"
    assert job.row_errors.get().row == 3


# --- bad input ----------------------------------------------------------------------------


def _refused(org, data: bytes, name: str = "f.csv") -> str:
    with pytest.raises(ValidationFailedError) as info:
        services.import_create(
            user=org.admin, entity="contacts", stream=io.BytesIO(data), file_name=name
        )
    assert ImportJob.objects.count() == 0
    return info.value.fields["file"]


def test_empty_file_is_refused(org):
    assert _refused(org, b"") == "The file is empty."
    assert _refused(org, b"\xef\xbb\xbf\r\n") == "The file is empty."


def test_broken_xlsx_is_refused(org):
    message = _refused(org, b"PK\x03\x04 this is not really a zip", "people.xlsx")
    assert message.startswith("The Excel file is damaged or not an .xlsx workbook")


def test_old_xls_is_refused(org):
    assert "(.xls) are not supported" in _refused(org, b"\xd0\xcf\x11\xe0" + b"\0" * 100, "a.xls")


def test_missing_header_is_refused(org):
    data = csv_bytes([["Иванов", "ivan@example.com", "+79161234567"]])
    assert _refused(org, data).startswith("The first row looks like data ('ivan@example.com')")


def test_binary_file_is_refused(org):
    assert _refused(org, b"Name\x00\x01\x02").startswith("This is not a CSV text file")


def test_file_over_the_limit_is_refused_before_reading(org, settings):
    settings.IMPORT_MAX_BYTES = 100
    message = _refused(org, csv_bytes(RU_ROWS * 5))
    assert message.startswith("The file is 975 B; imports take files up to 100 B.")


def test_upload_over_the_limit_is_refused_by_its_length_header(org, login, settings):
    settings.IMPORT_MAX_BYTES = 2 * 1024**3
    client = login(org.admin)
    response = client.post(
        "/data/imports/upload/",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(3 * 1024**3),
    )
    assert response.status_code == 422
    assert "The file is 3.0 GB; imports take files up to 2.0 GB." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_ragged_rows_are_reported_and_the_rest_land(run_import):
    rows = [
        ["Last name", "First name", "Email"],
        ["Smith", "John", "john@example.com"],
        ["Short", "row"],
        ["Long", "row", "long@example.com", "extra"],
        ["Doe", "Jane", "jane@example.com", ""],
    ]
    job = run_import(csv_bytes(rows))
    assert (job.created, job.failed) == (2, 2)
    reasons = {e.row: e.reasons for e in job.row_errors.all()}
    assert reasons == {
        3: {"row": "This row has 2 cells; the header has 3."},
        4: {"row": "This row has 4 cells; the header has 3."},
    }


def test_duplicate_external_id_in_one_file_second_reported_first_lands(run_import):
    rows = [
        ["Id", "Email", "City"],
        ["A1", "a@example.com", "Moscow"],
        ["A1", "b@example.com", "Kazan"],
    ]
    job = run_import(csv_bytes(rows))
    assert (job.created, job.failed) == (1, 1)
    assert Contact.objects.get().email == "a@example.com"
    error = job.row_errors.get()
    assert error.row == 3
    assert error.reasons == {
        "Id": "The external id 'A1' already appeared in row 2 of this file; "
        "this row was not imported."
    }


def test_duplicate_external_id_across_batches(run_import):
    rows = (
        [["Id", "Email"]]
        + [[f"E{i}", f"p{i}@example.com"] for i in range(5)]
        + [["E1", "x@example.com"]]
    )
    job = run_import(csv_bytes(rows), batch_size=2)
    assert (job.created, job.failed) == (5, 1)
    assert job.row_errors.get().row == 7


def test_formulas_in_cells_are_kept_as_text(run_import):
    rows = [
        ["Last name", "Email", "Notes"],
        ["Hacker", "h@example.com", '=HYPERLINK("http://x","y")'],
    ]
    run_import(csv_bytes(rows))
    assert Contact.objects.get().preferences == '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize(
    "raw",
    [
        "+7 916 123-45-67",
        "8 (916) 123-45-67",
        "+79161234567",
        "89161234567",
        "8-916-123-4567",
        "7 916 123 45 67",
        "+7 (495) 123-45-67",
        "8 495 1234567",
        "+1 650 253 0000",
        "+44 20 7946 0958",
    ],
)
def test_phone_fast_path_agrees_with_phonenumbers(org, raw):
    from kliento.customers.normalize import normalize_phone
    from kliento.dataio.transfer.cleaning import Cleaner

    assert Cleaner(user=org.admin, entity="contacts", options={}).phone(raw) == normalize_phone(
        raw, "RU"
    )
