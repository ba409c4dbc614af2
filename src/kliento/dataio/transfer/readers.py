"""Reading import files as a stream of rows, in constant memory.

CSV: the encoding is decided on a 64 KiB sample (a BOM → UTF-8 with BOM; strict UTF-8 decodes →
UTF-8; otherwise Windows-1251), unless given; the delimiter by csv.Sniffer over the sample,
falling back to the most frequent of , ; tab | in the first line. Bytes that are not valid in
the chosen encoding do not stop the file: the row holding them is reported and skipped.
XLSX: openpyxl in read-only mode, first sheet, cached values of formulas.
A header row is required; a first row that looks like data is refused with a clear message.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from kliento.core.errors import ValidationFailedError

SAMPLE = 64 * 1024
DELIMITERS = [",", ";", "\t", "|"]
ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "cp1251": "cp1251"}
BAD_CHAR = "\ufffd"
DEFAULT_MAX_BYTES = 2 * 1024**3
csv.field_size_limit(10 * 1024 * 1024)


def max_upload_bytes() -> int:
    """The largest file an import accepts (setting IMPORT_MAX_BYTES, default 2 GB)."""
    return int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


class ImportFileError(ValidationFailedError):
    """The file as a whole cannot be read; the message says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message, fields={"file": message})


def check_size(size: int) -> None:
    limit = max_upload_bytes()
    if size > limit:
        raise ImportFileError(
            _(
                "The file is %(size)s; imports take files up to %(limit)s. Split it into "
                "smaller files, or ask an administrator to raise IMPORT_MAX_BYTES."
            )
            % {"size": human_size(size), "limit": human_size(limit)}
        )


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@dataclass
class Source:
    """An opened import file: its headers and a row iterator [(row_number, cells)]."""

    format: str
    headers: list[str]
    encoding: str = ""
    delimiter: str = ""
    total_estimate: int | None = None
    rows: Iterator[tuple[int, list[str] | None, str]] = field(default_factory=lambda: iter(()))


def _sniff_format(head: bytes, name: str) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    lowered = name.lower()
    if lowered.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if lowered.endswith(".xls") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _("Old Excel files (.xls) are not supported; save the sheet as .xlsx or CSV.")
        )
    return "csv"


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        decoder.decode(sample, final=False)  # a character cut at the sample's end is fine
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1251"


def detect_delimiter(text: str) -> str:
    lines = text.splitlines()
    sample = "\n".join(lines[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        first = lines[0] if lines else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _count_lines(stream: BinaryIO) -> int:
    stream.seek(0)
    count = 0
    last = b""
    while True:
        piece = stream.read(1024 * 1024)
        if not piece:
            break
        count += piece.count(b"\n")
        last = piece
    if last and not last.endswith(b"\n"):
        count += 1
    stream.seek(0)
    return count


_LOOKS_LIKE_DATA = [
    re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),  # an email
    re.compile(r"^[+\d][\d\s()\-.]{5,}$"),  # a phone or a long number
    re.compile(r"^\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}"),  # a date
    re.compile(r"^-?\d+([.,]\d+)?$"),  # a number
]


def check_header(headers: list[str]) -> None:
    if not any(h.strip() for h in headers):
        raise ImportFileError(_("The first row is empty: it must hold the column names."))
    for header in headers:
        text = header.strip()
        if any(p.match(text) for p in _LOOKS_LIKE_DATA):
            raise ImportFileError(
                _(
                    "The first row looks like data (%(value)s), not column names. Add a header "
                    'row naming each column, e.g. "Last name", "Email", "Phone".'
                )
                % {"value": repr(text[:60])}
            )


def _clean_headers(raw: list) -> list[str]:
    headers: list[str] = []
    for i, value in enumerate(raw, 1):
        name = _cell_text(value).strip() or _("Column %(n)s") % {"n": i}
        base, n = name, 2
        while name in headers:
            name = f"{base} ({n})"
            n += 1
        headers.append(name)
    # Trailing empty header cells with no name are spreadsheet padding.
    while headers and raw and len(headers) > 1 and not _cell_text(raw[len(headers) - 1]).strip():
        headers.pop()
    return headers


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.isoformat(sep=" ")
            if value.time() != datetime.min.time()
            else value.date().isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@contextmanager
def open_source(
    stream: BinaryIO, *, name: str = "", encoding: str = "", delimiter: str = ""
) -> Iterator[Source]:
    """Open a seekable binary stream as a Source. Raises ImportFileError for an unreadable file."""
    head = stream.read(SAMPLE)
    stream.seek(0)
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise ImportFileError(_("The file is empty."))
    kind = _sniff_format(head, name)
    if kind == "xlsx":
        with _open_xlsx(stream) as source:
            yield source
        return
    if b"\x00" in head:
        raise ImportFileError(
            _(
                "This is not a CSV text file (it holds binary data). Save the sheet as CSV "
                "(UTF-8 or Windows-1251) or as .xlsx."
            )
        )
    encoding = ENCODINGS.get((encoding or "").lower().replace("_", "-"), "") or detect_encoding(
        head
    )
    sample_text = head.decode(encoding, errors="replace")
    delimiter = delimiter or detect_delimiter(sample_text.lstrip("\ufeff"))
    total = max(_count_lines(stream) - 1, 0)
    text = io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        raw_headers = next(reader)
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    except csv.Error as exc:
        raise ImportFileError(
            _("The file cannot be read as CSV: %(error)s") % {"error": exc}
        ) from exc
    if raw_headers and raw_headers[0].startswith("\ufeff"):
        raw_headers[0] = raw_headers[0][1:]
    headers = _clean_headers(raw_headers)
    check_header(headers)
    yield Source(
        format="csv",
        headers=headers,
        encoding=encoding,
        delimiter=delimiter,
        total_estimate=total,
        rows=_csv_rows(reader, len(headers), encoding),
    )
    text.detach()


def _csv_rows(reader, width: int, encoding: str):
    """(row number as a spreadsheet shows it, cells or None, problem) for every data row."""
    row_no = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            row_no += 1
            yield row_no, None, _("This row cannot be read as CSV: %(error)s") % {"error": exc}
            continue
        row_no += 1
        if not cells or not any(c.strip() for c in cells):
            continue
        yield row_no, cells, _row_problem(cells, width, encoding)


def _row_problem(cells: list[str], width: int, encoding: str) -> str:
    if any(BAD_CHAR in c for c in cells):
        return _(
            "This row has bytes that are not valid %(encoding)s; check the file's encoding "
            "(UTF-8 or Windows-1251)."
        ) % {"encoding": encoding.upper()}
    if len(cells) < width or any(c.strip() for c in cells[width:]):
        return _("This row has %(n)s cells; the header has %(m)s.") % {"n": len(cells), "m": width}
    return ""


@contextmanager
def _open_xlsx(stream: BinaryIO):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
    except (
        zipfile.BadZipFile,
        InvalidFileException,
        KeyError,
        OSError,
        ValueError,
        IndexError,
    ) as exc:
        raise ImportFileError(
            _(
                "The Excel file is damaged or not an .xlsx workbook (%(error)s). Open it in "
                "Excel or LibreOffice and save it again as .xlsx or CSV."
            )
            % {"error": type(exc).__name__}
        ) from exc
    if first is None or not any(_cell_text(c).strip() for c in first):
        book.close()
        raise ImportFileError(
            _("The file is empty.")
            if first is None
            else _("The first row is empty: it must hold the column names.")
        )
    headers = _clean_headers(list(first))
    check_header(headers)
    total = (sheet.max_row - 1) if sheet.max_row else None
    try:
        yield Source(
            format="xlsx",
            headers=headers,
            total_estimate=total,
            rows=_xlsx_rows(rows, len(headers)),
        )
    finally:
        book.close()


def _xlsx_rows(rows, width: int):
    row_no = 1
    for values in rows:
        row_no += 1
        cells = [_cell_text(v) for v in values]
        if not any(c.strip() for c in cells):
            continue
        extra = [c for c in cells[width:] if c.strip()]
        cells = (cells + [""] * width)[:width] if not extra else cells
        problem = (
            _("This row has %(n)s cells; the header has %(m)s.") % {"n": len(cells), "m": width}
            if extra
            else ""
        )
        yield row_no, cells, problem
