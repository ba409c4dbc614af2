"""The duplicate check an imported row passes before it is written: the hook for dedup.

The import asks one `DuplicateFinder` per job, a batch of rows at a time, which existing record
each new row duplicates. The default, `ExactKeyFinder`, matches on an exact normalised email
or phone (contacts) or tax id (companies) — the same keys manual entry checks today. The dedup
app plugs its own finder in by naming a class in the setting `TRANSFER_DUPLICATE_FINDER`
("kliento.dataio.dedup.finder.Finder", the default in settings) or by passing `finder=` to
`import_run`; it must offer the two methods below. External ids are not a duplicate check: a
row whose external id is known always updates its record.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from kliento.customers.models import Company, Contact


class DuplicateFinder(Protocol):
    def match(self, *, entity: str, rows: list[dict[str, Any]]) -> list[int | None]:
        """For each row (cleaned field values: emails, phones, names, tax_id, …) the id of the
        existing record it duplicates, or None. `entity` is "contact" or "company"."""

    def flag(self, *, job, entity: str, object_id: int, candidate_id: int, row: int) -> None:
        """A new record was created but looks like `candidate_id`: queue the pair for review."""


class ExactKeyFinder:
    """Exact normalised email/phone (contacts) or tax id (companies)."""

    def match(self, *, entity: str, rows: list[dict[str, Any]]) -> list[int | None]:
        if entity == "contact":
            emails = {e for r in rows for e in r.get("emails") or []}
            phones = {p for r in rows for p in r.get("phones") or []}
            by_email = first_ids(Contact, "email", emails)
            by_phone = first_ids(Contact, "phone", phones)
            result: list[int | None] = []
            for r in rows:
                found = next((by_email[e] for e in r.get("emails") or [] if e in by_email), None)
                if found is None:
                    found = next(
                        (by_phone[p] for p in r.get("phones") or [] if p in by_phone), None
                    )
                result.append(found)
            return result
        if entity == "company":
            tax_ids = {r["tax_id"] for r in rows if r.get("tax_id")}
            by_tax = first_ids(Company, "tax_id", tax_ids)
            return [by_tax.get(r.get("tax_id") or "") for r in rows]
        return [None] * len(rows)

    def flag(self, *, job, entity: str, object_id: int, candidate_id: int, row: int) -> None:
        # The pair is already in the job's report (ImportRowError kind "flagged"); the dedup
        # app's finder records it in its review queue as well.
        return None


def in_values(column: str, values) -> list[tuple[str, list]]:
    """SQL conditions "`column` is one of `values`", with their parameters, one per chunk of
    values: on PostgreSQL a single array parameter, on SQLite a placeholder per value (at most
    10,000, below SQLite's limit on the parameters of one statement).

    The import writes this SQL itself rather than use the ORM's `__in`, which prepares each of
    a batch's thousand values one by one."""
    values = list(values)
    if connection.vendor == "postgresql":
        return [(f"{column} = ANY(%s)", [values])] if values else []
    return [
        (f"{column} IN ({', '.join(['%s'] * len(part))})", part)
        for part in (values[i : i + 10_000] for i in range(0, len(values), 10_000))
    ]


def first_ids(model, field: str, values: set[str]) -> dict[str, int]:
    """value → the lowest id of a `model` row whose `field` holds it, for a batch of values."""
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field).column)
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for where, params in in_values(column, values):
            cursor.execute(
                f"SELECT {column}, MIN(id) FROM {table} WHERE {where} GROUP BY {column}", params
            )
            found.update(cursor.fetchall())
    return found


def get_finder() -> DuplicateFinder:
    path = getattr(settings, "TRANSFER_DUPLICATE_FINDER", "")
    return import_string(path)() if path else ExactKeyFinder()


def batch_keys(entity: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Keys that make two rows of one batch the same record (rows not yet in the database)."""
    if entity == "contact":
        return [("email", e) for e in values.get("emails") or []] + [
            ("phone", p) for p in values.get("phones") or []
        ]
    if entity == "company" and values.get("tax_id"):
        return [("tax_id", values["tax_id"])]
    return []
