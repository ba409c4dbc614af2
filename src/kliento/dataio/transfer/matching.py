"""The duplicate check an imported row passes before it is written: the hook for dedup.

The import asks one `DuplicateFinder` per job, a batch of rows at a time, which existing record
each new row duplicates. The default, `ExactKeyFinder`, matches on an exact normalised email
or phone (contacts) or tax id (companies) — the same keys manual entry checks today. The dedup
app plugs its own finder in by naming a class in the setting `TRANSFER_DUPLICATE_FINDER`
("kliento.dataio.dedup.finder.Finder") or by passing `finder=` to `import_run`; it must offer
the two methods below. External ids are not a duplicate check: a row whose external id is known
always updates its record.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.conf import settings
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
            by_email: dict[str, int] = {}
            by_phone: dict[str, int] = {}
            if emails:
                for pk, email in (
                    Contact.objects.filter(email__in=emails)
                    .order_by("id")
                    .values_list("id", "email")
                ):
                    by_email.setdefault(email, pk)
            if phones:
                for pk, phone in (
                    Contact.objects.filter(phone__in=phones)
                    .order_by("id")
                    .values_list("id", "phone")
                ):
                    by_phone.setdefault(phone, pk)
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
            by_tax: dict[str, int] = {}
            if tax_ids:
                for pk, tax_id in (
                    Company.objects.filter(tax_id__in=tax_ids)
                    .order_by("id")
                    .values_list("id", "tax_id")
                ):
                    by_tax.setdefault(tax_id, pk)
            return [by_tax.get(r.get("tax_id") or "") for r in rows]
        return [None] * len(rows)

    def flag(self, *, job, entity: str, object_id: int, candidate_id: int, row: int) -> None:
        # The pair is already in the job's report (ImportRowError kind "flagged"); the dedup
        # app's finder records it in its review queue as well.
        return None


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
