"""The import engine: rows in batches → validated, matched, bulk-written, indexed, audited.

Each batch (BATCH_SIZE rows) is one transaction holding its records, their external ids, the
search entries, the rows' error reports, the job's counters and its checkpoint (the last row
done). A killed import therefore stops at a batch boundary, and running the job again resumes
after the checkpoint: the database ends exactly as after one clean run. A new job over the same
file changes nothing either: rows with a known external id (or natural key: email or phone for
contacts, tax id for companies) update their record, and an update that changes no value does
not write.

Audit: one AuditLog row per committed batch (entity "import", object_id = the job), with the
row range and the counts — not one row per record, which would double the cost of an import.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.models import AuditLog, User
from kliento.core.permissions import record_q
from kliento.customers.models import (
    DEFAULT_CHANNEL,
    Company,
    Consent,
    ConsentChannel,
    Contact,
    ContactCompany,
    Interaction,
    SearchEntry,
    SearchWord,
    tags_from_db,
    tags_to_db,
)
from kliento.customers.search import vocabulary_words
from kliento.customers.selectors import contact_qs
from kliento.dataio.transfer import fastinsert
from kliento.dataio.transfer.cleaning import Cleaner, search_text
from kliento.dataio.transfer.exports import unescape_cell
from kliento.dataio.transfer.matching import DuplicateFinder, batch_keys, get_finder, in_values
from kliento.dataio.transfer.models import (
    DuplicateAction,
    ExternalRef,
    ImportJob,
    ImportRowError,
    JobStatus,
)
from kliento.dataio.transfer.readers import ImportFileError, Source, open_source
from kliento.dataio.transfer.storage import file_open

BATCH_SIZE = 1000
ENTITY_ONE = {
    "contacts": "contact",
    "companies": "company",
    "interactions": "interaction",
    "links": "link",
    "consents": "consent",
}


@dataclass
class Row:
    number: int
    cells: list[str]
    raw: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    ext: str = ""


@dataclass
class Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[ImportRowError] = field(default_factory=list)


# --- opening the job's file -----------------------------------------------------------------


@contextmanager
def job_source(job: ImportJob):
    options = job.options or {}
    if job.source_path:
        stream = Path(job.source_path).open("rb")  # noqa: SIM115  (closed below)
    elif job.file_id:
        stream = file_open(job.file)
    else:
        raise ImportFileError(_("The job has no file."))
    try:
        with open_source(
            stream,
            name=job.file_name,
            encoding=options.get("encoding", ""),
            delimiter=options.get("delimiter", ""),
        ) as source:
            yield source
    finally:
        stream.close()


# --- the handlers: one per entity -----------------------------------------------------------


class Handler:
    entity = ""

    def __init__(self, job: ImportJob, finder: DuplicateFinder):
        self.job = job
        self.user: User = job.user
        self.finder = finder
        self.cleaner = Cleaner(user=job.user, entity=job.entity, options=job.options or {})
        self.action = (job.options or {}).get("duplicates") or DuplicateAction.MERGE
        self.known_words: set[str] = set()

    def clean(self, row: Row) -> None:
        raise NotImplementedError

    def forget_written(self) -> None:
        """What was written was rolled back: forget what this handler remembers of it."""
        self.known_words.clear()

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        raise NotImplementedError

    # shared pieces ---------------------------------------------------------------------------

    def ext_refs(self, entity: str, exts: Iterable[str]) -> dict[str, ExternalRef]:
        exts = {e for e in exts if e}
        if not exts:
            return {}
        table = ExternalRef._meta.db_table
        refs: dict[str, ExternalRef] = {}
        for where, params in in_values("external_id", exts):
            for ref in ExternalRef.objects.raw(
                f"SELECT * FROM {table} WHERE entity = %s AND {where}", [entity, *params]
            ):
                refs[ref.external_id] = ref
        return refs

    def check_ext_duplicates(self, rows: list[Row], refs: dict[str, ExternalRef]) -> list[Row]:
        """Drop (as errors) rows whose external id already appeared earlier in this file."""
        seen: dict[str, int] = {}
        kept = []
        for row in rows:
            if row.ext:
                ref = refs.get(row.ext)
                first = seen.get(row.ext)
                if (
                    first is None
                    and ref is not None
                    and ref.job_id == self.job.pk
                    and (ref.row or 0) < row.number
                ):
                    first = ref.row
                if first is not None:
                    row.errors["external_id"] = _(
                        "The external id %(id)s already appeared in row %(row)s of this file; "
                        "this row was not imported."
                    ) % {"id": repr(row.ext), "row": first}
                    continue
                seen[row.ext] = row.number
            kept.append(row)
        return kept

    def save_refs(
        self, entity: str, pairs: list[tuple[Row, int]], refs: dict[str, ExternalRef]
    ) -> None:
        new, changed = [], []
        for row, object_id in pairs:
            if not row.ext:
                continue
            ref = refs.get(row.ext)
            if ref is None:
                new.append((entity, row.ext, object_id, self.job.pk, row.number))
            else:
                ref.object_id, ref.job, ref.row = object_id, self.job, row.number
                changed.append(ref)
        if new:
            fastinsert.insert(
                ExternalRef, ["entity", "external_id", "object_id", "job_id", "row"], new
            )
        if changed:
            ExternalRef.objects.bulk_update(changed, ["object_id", "job", "row"])

    def writable_ids(self, model, entity: str, ids: set[int]) -> set[int]:
        if not ids:
            return set()
        q = record_q(self.user, entity, for_write=True)
        qs = model.objects.filter(pk__in=ids)
        if q is not None:
            qs = qs.filter(q)
        return set(qs.values_list("id", flat=True))

    def index(
        self, entity: str, entries: list[tuple[int, int, str, str]], fresh: set[int] = frozenset()
    ) -> None:
        """(object_id, owner_id, title, text) → search entries and vocabulary, in bulk.
        `fresh` ids were created in this batch and have no entry to replace."""
        if not entries:
            return
        stale = [e[0] for e in entries if e[0] not in fresh]
        if stale:
            SearchEntry.objects.filter(entity=entity, object_id__in=stale).delete()
        fastinsert.insert(
            SearchEntry,
            ["entity", "object_id", "owner_id", "title", "text"],
            [(entity, i, o, t[:255], x) for i, o, t, x in entries],
            one_statement=True,
        )
        words: set[str] = set()
        for entry in entries:
            words |= vocabulary_words(entry[3])
        words -= self.known_words
        if words:
            SearchWord.objects.bulk_create(
                [SearchWord(word=w) for w in words], ignore_conflicts=True
            )
            if len(self.known_words) > 200_000:
                self.known_words.clear()
            self.known_words |= words


def _merge_list(current: list, new: list) -> list:
    return current + [v for v in new if v not in current]


class _RecordHandler(Handler):
    """Contacts and companies: owner, tags, custom values, duplicates, external ids, search."""

    model: type = Contact
    one = "contact"

    def apply(self, obj, values: dict[str, Any]) -> list[str]:
        """Merge non-empty imported values into an existing record; the fields changed."""
        changed = []
        for key, value in values.items():
            current = getattr(obj, key)
            if key in {"emails", "phones"}:
                value = _merge_list(current, value)
            elif key == "tags":
                value = tags_to_db(tags_from_db(current) + tags_from_db(value))
            elif key == "custom":
                value = {**current, **value}
            elif key == "created_at":
                continue
            if value != current:
                setattr(obj, key, value)
                changed.append(key)
        if "emails" in changed and hasattr(obj, "email"):
            obj.email = obj.emails[0] if obj.emails else ""
            changed.append("email")
        if "phones" in changed and hasattr(obj, "phone"):
            obj.phone = obj.phones[0] if obj.phones else ""
            changed.append("phone")
        return changed

    def new(self, values: dict[str, Any], now) -> Any:
        values = dict(values)
        values.setdefault("owner_id", self.user.pk)
        values.setdefault("created_at", now)
        if self.model is Contact:
            values["email"] = (values.get("emails") or [""])[0]
            values["phone"] = (values.get("phones") or [""])[0]
        values["updated_at"], values["version"] = now, 1
        return fastinsert.build(self.model, values)

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        now = timezone.now()
        refs = self.ext_refs(self.one, (r.ext for r in rows))
        rows = self.check_ext_duplicates(rows, refs)
        by_ext = {ext: ref.object_id for ext, ref in refs.items()}
        unmatched = [r for r in rows if r.ext not in by_ext]
        duplicate_of = dict(
            zip(
                [id(r) for r in unmatched],
                self.finder.match(entity=self.one, rows=[r.values for r in unmatched]),
                strict=True,
            )
        )
        target_ids = set(by_ext.values()) | {v for v in duplicate_of.values() if v}
        existing = self.model.objects.in_bulk(target_ids) if target_ids else {}
        writable = self.writable_ids(self.model, self.one, set(existing))
        creates: list[tuple[Row, Any]] = []
        pending: dict[tuple[str, str], Any] = {}
        updated: dict[int, tuple[Any, set[str]]] = {}
        ref_pairs: list[tuple[Row, Any]] = []
        flags: list[tuple[Row, Any, int]] = []
        for row in rows:
            target_id = by_ext.get(row.ext)
            if target_id is not None and target_id not in existing:
                target_id = None  # the record was deleted since: import it again
            duplicate = False
            if target_id is None:
                target_id = duplicate_of.get(id(row))
                duplicate = target_id is not None
            if target_id is None:
                # The same person twice in one batch: the second row meets the first.
                keys = batch_keys(self.one, row.values)
                twin = next((pending[k] for k in keys if k in pending), None)
                if twin is not None:
                    if self.action == DuplicateAction.SKIP:
                        outcome.skipped += 1
                        continue
                    if self.action == DuplicateAction.MERGE:
                        self.apply(twin, row.values)
                        for key in keys:
                            pending.setdefault(key, twin)
                        ref_pairs.append((row, twin))
                        outcome.updated += 1
                        continue
                obj = self.new(row.values, now)
                creates.append((row, obj))
                ref_pairs.append((row, obj))
                for key in keys:
                    pending.setdefault(key, obj)
                if twin is not None:
                    flags.append((row, obj, twin))
                continue
            if duplicate and self.action == DuplicateAction.SKIP:
                outcome.skipped += 1
                continue
            if duplicate and self.action == DuplicateAction.FLAG:
                obj = self.new(row.values, now)
                creates.append((row, obj))
                ref_pairs.append((row, obj))
                flags.append((row, obj, target_id))
                continue
            if target_id not in writable:
                owner = existing[target_id].owner
                row.errors["external_id" if not duplicate else "duplicate"] = _(
                    "This row matches %(entity)s #%(id)s owned by %(owner)s, which you may not "
                    "change."
                ) % {"entity": self.one, "id": target_id, "owner": owner.display_name}
                continue
            obj = existing[target_id]
            changed = set(self.apply(obj, row.values))
            ref_pairs.append((row, obj))
            if target_id in updated:
                updated[target_id][1].update(changed)
            elif changed:
                updated[target_id] = (obj, changed)
            else:
                outcome.skipped += 1  # already as imported: nothing to write
                continue
            outcome.updated += 1
        if creates:
            fastinsert.insert_objects([obj for _row, obj in creates])
            outcome.created += len(creates)
        if updated:
            fields = set().union(*(f for _o, f in updated.values())) | {"version", "updated_at"}
            objs = []
            for obj, _f in updated.values():
                obj.version += 1
                obj.updated_at = now
                objs.append(obj)
            self.model.objects.bulk_update(objs, sorted(fields))
        self.save_refs(self.one, [(row, obj.pk) for row, obj in ref_pairs], refs)
        for row, obj, candidate in flags:
            candidate_id = candidate if isinstance(candidate, int) else candidate.pk
            outcome.errors.append(
                ImportRowError(
                    job=self.job,
                    row=row.number,
                    kind=ImportRowError.Kind.FLAGGED,
                    values=row.cells,
                    reasons={
                        "duplicate": _("Created as %(entity)s #%(id)s; looks like #%(other)s.")
                        % {"entity": self.one, "id": obj.pk, "other": candidate_id}
                    },
                )
            )
            self.finder.flag(
                job=self.job,
                entity=self.one,
                object_id=obj.pk,
                candidate_id=candidate_id,
                row=row.number,
            )
        touched = {obj.pk: obj for _r, obj in creates} | {pk: o for pk, (o, _f) in updated.items()}
        self.after_write(rows, creates, touched)

    def after_write(self, rows, creates, touched) -> None:
        raise NotImplementedError


class ContactHandler(_RecordHandler):
    model = Contact
    one = "contact"

    def clean(self, row: Row) -> None:
        row.values, errors = self.cleaner.contact(row.raw, row.custom)
        row.errors.update(errors)
        row.ext = row.raw.get("external_id", "").strip()[:100]

    def after_write(self, rows, creates, touched) -> None:
        fresh = {obj.pk for _row, obj in creates}
        # Company names are indexed with the contact: only contacts that existed before this
        # batch or were just linked can have any.
        linked = self.link_companies(rows, creates)
        names: dict[int, list[str]] = {}
        if wanted := [pk for pk in touched if pk not in fresh or pk in linked]:
            for contact_id, name in ContactCompany.objects.filter(
                contact_id__in=wanted
            ).values_list("contact_id", "company__name"):
                names.setdefault(contact_id, []).append(name)
        self.index(
            "contact",
            [
                (
                    c.pk,
                    c.owner_id,
                    c.full_name,
                    search_text(
                        c.first_name,
                        c.middle_name,
                        c.last_name,
                        *c.emails,
                        *names.get(c.pk, []),
                        phones=c.phones,
                    ),
                )
                for c in touched.values()
            ],
            fresh=fresh,
        )

    def link_companies(self, rows: list[Row], creates) -> set[int]:
        """Company name / external id / tax id columns link the contact (made if missing);
        the ids of the contacts linked."""
        wanted = [
            r
            for r in rows
            if not r.errors
            and any(
                r.raw.get(k, "").strip()
                for k in ("company", "company_external_id", "company_tax_id")
            )
        ]
        if not wanted:
            return set()
        ids = {r.number: None for r in wanted}
        ext = self.ext_refs(
            "company", (r.raw.get("company_external_id", "").strip() for r in wanted)
        )
        tax_ids = {r.raw.get("company_tax_id", "").strip() for r in wanted} - {""}
        names = {r.raw.get("company", "").strip() for r in wanted} - {""}
        by_tax = (
            dict(Company.objects.filter(tax_id__in=tax_ids).values_list("tax_id", "id"))
            if tax_ids
            else {}
        )
        by_name: dict[str, int] = {}
        if names:
            for pk, name in (
                Company.objects.filter(name__in=names).order_by("id").values_list("id", "name")
            ):
                by_name.setdefault(name, pk)
        missing = sorted(n for n in names if n not in by_name)
        if missing:
            now = timezone.now()
            made = [
                Company(name=n[:255], owner_id=self.user.pk, created_at=now, updated_at=now)
                for n in missing
            ]
            fastinsert.insert_objects(made)
            by_name.update({c.name: c.pk for c in made})
            self.index(
                "company",
                [(c.pk, c.owner_id, c.name, search_text(c.name)) for c in made],
                fresh={c.pk for c in made},
            )
        links = []
        for row in wanted:
            ref = ext.get(row.raw.get("company_external_id", "").strip())
            company_id = (
                (ref.object_id if ref else None)
                or by_tax.get(row.raw.get("company_tax_id", "").strip())
                or by_name.get(row.raw.get("company", "").strip())
            )
            ids[row.number] = company_id
        contact_ids = self._row_contacts(rows)
        for row in wanted:
            contact_id, company_id = contact_ids.get(row.number), ids[row.number]
            if contact_id and company_id:
                links.append(
                    ContactCompany(
                        contact_id=contact_id,
                        company_id=company_id,
                        title=row.raw.get("job_title", "").strip()[:100],
                        is_primary=True,
                    )
                )
        if links:
            ContactCompany.objects.bulk_create(links, ignore_conflicts=True)
        return {link.contact_id for link in links}

    def _row_contacts(self, rows: list[Row]) -> dict[int, int]:
        refs = {r.ext: r for r in rows if r.ext}
        found = dict(
            ExternalRef.objects.filter(
                entity="contact", external_id__in=list(refs), job=self.job
            ).values_list("external_id", "object_id")
        )
        result = {refs[e].number: pk for e, pk in found.items()}
        rest = [r for r in rows if r.number not in result and r.values.get("emails")]
        if rest:
            by_email = dict(
                Contact.objects.filter(email__in=[r.values["emails"][0] for r in rest]).values_list(
                    "email", "id"
                )
            )
            for r in rest:
                if r.values["emails"][0] in by_email:
                    result[r.number] = by_email[r.values["emails"][0]]
        rest = [r for r in rows if r.number not in result and r.values.get("phones")]
        if rest:
            by_phone = dict(
                Contact.objects.filter(phone__in=[r.values["phones"][0] for r in rest]).values_list(
                    "phone", "id"
                )
            )
            for r in rest:
                if r.values["phones"][0] in by_phone:
                    result[r.number] = by_phone[r.values["phones"][0]]
        return result


class CompanyHandler(_RecordHandler):
    model = Company
    one = "company"

    def clean(self, row: Row) -> None:
        row.values, errors = self.cleaner.company(row.raw, row.custom)
        row.errors.update(errors)
        row.ext = row.raw.get("external_id", "").strip()[:100]

    def after_write(self, rows, creates, touched) -> None:
        self.index(
            "company",
            [
                (
                    c.pk,
                    c.owner_id,
                    c.name,
                    search_text(c.name, c.legal_name, c.tax_id, *c.emails, phones=c.phones),
                )
                for c in touched.values()
            ],
            fresh={obj.pk for _row, obj in creates},
        )


class InteractionHandler(Handler):
    one = "interaction"

    def clean(self, row: Row) -> None:
        row.values, errors = self.cleaner.interaction(row.raw)
        row.errors.update(errors)
        row.ext = row.raw.get("external_id", "").strip()[:100]
        if not any(
            row.raw.get(k, "").strip()
            for k in ("contact_external_id", "contact_email", "company_external_id")
        ):
            row.errors.setdefault(
                "contact_external_id", _("Attach the interaction to a contact or a company.")
            )

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        now = timezone.now()
        refs = self.ext_refs("interaction", (r.ext for r in rows))
        rows = self.check_ext_duplicates(rows, refs)
        contact_refs = self.ext_refs(
            "contact", (r.raw.get("contact_external_id", "").strip() for r in rows)
        )
        company_refs = self.ext_refs(
            "company", (r.raw.get("company_external_id", "").strip() for r in rows)
        )
        emails = {r.raw.get("contact_email", "").strip().lower() for r in rows} - {""}
        visible = contact_qs(self.user)
        by_email = (
            dict(visible.filter(email__in=emails).values_list("email", "id")) if emails else {}
        )
        contact_ids = {ref.object_id for ref in contact_refs.values()}
        visible_contacts = (
            set(visible.filter(pk__in=contact_ids).values_list("id", flat=True))
            if contact_ids
            else set()
        )
        company_ids = {ref.object_id for ref in company_refs.values()}
        company_q = record_q(self.user, "company")
        company_qs = Company.objects.filter(pk__in=company_ids)
        if company_q is not None:
            company_qs = company_qs.filter(company_q)
        visible_companies = set(company_qs.values_list("id", flat=True)) if company_ids else set()
        existing = Interaction.objects.in_bulk([ref.object_id for ref in refs.values()])
        creates, updates, pairs = [], [], []
        for row in rows:
            values = dict(row.values)
            cref = contact_refs.get(row.raw.get("contact_external_id", "").strip())
            contact_id = cref.object_id if cref and cref.object_id in visible_contacts else None
            email = row.raw.get("contact_email", "").strip().lower()
            contact_id = contact_id or by_email.get(email)
            kref = company_refs.get(row.raw.get("company_external_id", "").strip())
            company_id = kref.object_id if kref and kref.object_id in visible_companies else None
            if contact_id is None and company_id is None:
                row.errors["contact_external_id"] = _(
                    "No contact or company you can see matches this row."
                )
                continue
            values["contact_id"], values["company_id"] = contact_id, company_id
            values.setdefault("channel", DEFAULT_CHANNEL.get(values["kind"], "other"))
            values.setdefault(
                "direction", "internal" if values["kind"] in {"note", "task"} else "out"
            )
            values["occurred_at"] = values.get("occurred_at") or now
            values.setdefault("user_id", self.user.pk)
            ref = refs.get(row.ext)
            obj = existing.get(ref.object_id) if ref else None
            if obj is None:
                obj = fastinsert.build(
                    Interaction, {**values, "created_at": now, "updated_at": now}
                )
                creates.append(obj)
            else:
                changed = [k for k, v in values.items() if getattr(obj, k) != v]
                for key in changed:
                    setattr(obj, key, values[key])
                if changed:
                    obj.version += 1
                    obj.updated_at = now
                    updates.append((obj, changed))
                else:
                    outcome.skipped += 1
            pairs.append((row, obj))
        if creates:
            fastinsert.insert_objects(creates)
            outcome.created += len(creates)
        if updates:
            fields = sorted(set().union(*(set(f) for _o, f in updates)) | {"version", "updated_at"})
            Interaction.objects.bulk_update([o for o, _f in updates], fields)
            outcome.updated += len(updates)
        self.save_refs("interaction", [(row, obj.pk) for row, obj in pairs], refs)


class LinkHandler(Handler):
    """Contact ↔ company links of a full export (contact and company by their external ids)."""

    def clean(self, row: Row) -> None:
        for key in ("contact_external_id", "company_external_id"):
            if not row.raw.get(key, "").strip():
                row.errors[key] = _("Required.")

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        contacts = self.ext_refs("contact", (r.raw["contact_external_id"].strip() for r in rows))
        companies = self.ext_refs("company", (r.raw["company_external_id"].strip() for r in rows))
        links = []
        for row in rows:
            contact = contacts.get(row.raw["contact_external_id"].strip())
            company = companies.get(row.raw["company_external_id"].strip())
            if contact is None or company is None:
                row.errors["contact_external_id"] = _(
                    "The contact or the company of this link is unknown."
                )
                continue
            links.append(
                ContactCompany(
                    contact_id=contact.object_id,
                    company_id=company.object_id,
                    role=row.raw.get("role", "").strip()[:100],
                    title=row.raw.get("job_title", "").strip()[:100],
                    is_primary=row.raw.get("is_primary", "").strip().lower()
                    in {"1", "true", "yes", "да"},
                )
            )
        if links:
            ContactCompany.objects.bulk_create(
                links,
                update_conflicts=True,
                unique_fields=["contact", "company"],
                update_fields=["role", "title", "is_primary"],
            )
            outcome.created += len(links)
            ids = {link.contact_id for link in links}
            names: dict[int, list[str]] = {}
            for contact_id, name in ContactCompany.objects.filter(contact_id__in=ids).values_list(
                "contact_id", "company__name"
            ):
                names.setdefault(contact_id, []).append(name)
            self.index(
                "contact",
                [
                    (
                        c.pk,
                        c.owner_id,
                        c.full_name,
                        search_text(
                            c.first_name,
                            c.middle_name,
                            c.last_name,
                            *c.emails,
                            *names.get(c.pk, []),
                            phones=c.phones,
                        ),
                    )
                    for c in Contact.objects.filter(pk__in=ids)
                ],
            )


class ConsentHandler(Handler):
    def clean(self, row: Row) -> None:
        if not row.raw.get("contact_external_id", "").strip():
            row.errors["contact_external_id"] = _("Required.")
        channel = row.raw.get("channel", "").strip()
        if channel not in ConsentChannel.values:
            row.errors["channel"] = _("Unknown channel.")
        if row.raw.get("status", "").strip() not in Consent.Status.values:
            row.errors["status"] = _("Unknown status.")
        row.values["at"] = (
            self.cleaner.moment(row.raw.get("at", ""), "at", row.errors) or timezone.now()
        )

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        contacts = self.ext_refs("contact", (r.raw["contact_external_id"].strip() for r in rows))
        consents = []
        for row in rows:
            contact = contacts.get(row.raw["contact_external_id"].strip())
            if contact is None:
                row.errors["contact_external_id"] = _("The contact of this consent is unknown.")
                continue
            consents.append(
                Consent(
                    contact_id=contact.object_id,
                    channel=row.raw["channel"].strip(),
                    status=row.raw["status"].strip(),
                    at=row.values["at"],
                    source=row.raw.get("source", "")[:200],
                )
            )
        if consents:
            Consent.objects.bulk_create(
                consents,
                update_conflicts=True,
                unique_fields=["contact", "channel"],
                update_fields=["status", "at", "source"],
            )
            outcome.created += len(consents)


HANDLERS: dict[str, type[Handler]] = {
    "contacts": ContactHandler,
    "companies": CompanyHandler,
    "interactions": InteractionHandler,
    "links": LinkHandler,
    "consents": ConsentHandler,
}


# --- the run --------------------------------------------------------------------------------


EXT_FIELDS = {"external_id", "contact_external_id", "company_external_id"}


def _row(
    headers: list[str], mapping: dict[str, str], number: int, cells: list[str], ext_prefix: str = ""
) -> Row:
    row = Row(number=number, cells=cells)
    for i, header in enumerate(headers):
        target = mapping.get(header)
        if not target:
            continue
        value = cells[i] if i < len(cells) else ""
        if value[:1] == "'":
            value = unescape_cell(value)
        if ext_prefix and target in EXT_FIELDS and value.strip():
            value = ext_prefix + value.strip()
        if target.startswith("custom."):
            row.custom[target[7:]] = value
        elif value:
            existing = row.raw.get(target)
            row.raw[target] = f"{existing}, {value}" if existing else value
    return row


def _error(job: ImportJob, row: Row, columns: dict[str, str]) -> ImportRowError:
    reasons = {columns.get(k.split(".")[0], columns.get(k, k)): v for k, v in row.errors.items()}
    return ImportRowError(job=job, row=row.number, values=row.cells, reasons=reasons)


def _process(handler: Handler, rows: list[Row], outcome: Outcome) -> None:
    good = [r for r in rows if not r.errors]
    if good:
        handler.write(good, outcome)


def _process_batch(
    handler: Handler, job: ImportJob, rows: list[Row], columns: dict[str, str]
) -> Outcome:
    """The batch in a savepoint (rolled back on a dry run), and on a database refusal row by
    row, each row in its own savepoint, so one bad row does not sink the others."""
    outcome = Outcome()
    try:
        with transaction.atomic():
            _process(handler, rows, outcome)
            if job.dry_run:
                transaction.set_rollback(True)
    except (IntegrityError, DatabaseError):
        outcome = _process_rows(handler, job, rows)
    if job.dry_run:
        handler.forget_written()
    outcome.errors += [_error(job, r, columns) for r in rows if r.errors]
    return outcome


def _process_rows(handler: Handler, job: ImportJob, rows: list[Row]) -> Outcome:
    handler.forget_written()
    outcome = Outcome()
    for row in rows:
        if row.errors:
            continue
        single = Outcome()
        try:
            with transaction.atomic():
                _process(handler, [row], single)
                if job.dry_run:
                    transaction.set_rollback(True)
        except (IntegrityError, DatabaseError) as exc:
            handler.forget_written()
            row.errors["row"] = _("The database refused this row: %(error)s") % {
                "error": str(exc)[:300]
            }
            continue
        outcome.created += single.created
        outcome.updated += single.updated
        outcome.skipped += single.skipped
        outcome.errors += single.errors
    return outcome


def _no_commit_wait() -> None:
    """PostgreSQL: this batch's commit does not wait for the disk to have its WAL.

    A server crash may then lose the last batches committed (at most a fraction of a second of
    them) — together with the job's checkpoint, which is in the same transaction, so running the
    job again redoes exactly those rows. The job's final "done" is committed the normal way,
    and WAL is flushed in order, so once the job says done every batch is on disk."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _write_batch(
    handler: Handler,
    job: ImportJob,
    rows: list[Row],
    columns: dict[str, str],
    done_here: int,
    started: float,
) -> Outcome:
    """Write one batch and its bookkeeping (errors, counters, checkpoint, audit) in one
    transaction.

    The records go in without a savepoint around them. In SQLite a savepoint held over a batch
    makes every statement inside it (each FTS5 trigger insert of the search index) walk the
    batch's whole sub-journal, and the search index then cost more the bigger the table got
    (5× at 50,000 rows). The batch's transaction is only ever rolled back as a whole: when the
    database refuses something, the batch is redone row by row in a new transaction."""
    if not job.dry_run:
        try:
            with transaction.atomic():
                _no_commit_wait()
                outcome = Outcome()
                _process(handler, rows, outcome)
                outcome.errors += [_error(job, r, columns) for r in rows if r.errors]
                _record_batch(job, rows, outcome, done_here, started)
            return outcome
        except (IntegrityError, DatabaseError):
            pass
        with transaction.atomic():
            _no_commit_wait()
            outcome = _process_rows(handler, job, rows)
            outcome.errors += [_error(job, r, columns) for r in rows if r.errors]
            _record_batch(job, rows, outcome, done_here, started)
        return outcome
    with transaction.atomic():
        outcome = _process_batch(handler, job, rows, columns)
        _record_batch(job, rows, outcome, done_here, started)
    return outcome


def import_run(
    *,
    job_id: int,
    finder: DuplicateFinder | None = None,
    progress: Callable[[ImportJob], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportJob:
    """Run (or resume after its checkpoint) one import job. Safe to call again at any time."""
    job = ImportJob.objects.select_related("user", "file").get(pk=job_id)
    if job.status in {JobStatus.DONE, JobStatus.CANCELLED, JobStatus.DRAFT}:
        return job
    finder = finder or get_finder()
    started = time.monotonic()
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING,
        started_at=job.started_at or timezone.now(),
        heartbeat_at=timezone.now(),
        message="",
    )
    job.refresh_from_db()
    with _bulk_pragmas():
        return _run(job, finder, progress, batch_size, started)


@contextmanager
def _bulk_pragmas():
    """SQLite settings for the import's connection, put back afterwards.

    mmap_size=0: SQLite maps up to 256 MB of the database file into the process
    (settings.py); over a million-row import every mapped page counts as resident memory. The
    import reads each page about once, so it runs without the map (the page cache stays
    bounded).

    wal_autocheckpoint: SQLite copies the WAL back into the database (a checkpoint, with two
    fsyncs) once the WAL passes 1,000 pages — after nearly every batch of an import, where
    those fsyncs took a third of the time on a busy disk. The import lets the WAL grow to
    ~64 MB between checkpoints instead; durability is unchanged (a commit in WAL mode with
    synchronous=NORMAL never waited for a checkpoint)."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA mmap_size")
        row = cursor.fetchone()  # no row for an in-memory database
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = cursor.fetchone()[0]
    if row is None:
        yield
        return
    before = row[0]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA mmap_size=0")
        cursor.execute(f"PRAGMA wal_autocheckpoint={max(int(checkpoint), 16384)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA mmap_size={int(before)}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint)}")


def _run(job: ImportJob, finder, progress, batch_size: int, started: float) -> ImportJob:
    done_here = batches = 0
    handler = HANDLERS[job.entity](job, finder)
    columns = {field: header for header, field in job.mapping.items() if field}
    ext_prefix = (job.options or {}).get("ext_prefix", "")
    try:
        with job_source(job) as source:
            if job.total is None and source.total_estimate is not None:
                job.total = source.total_estimate
                ImportJob.objects.filter(pk=job.pk).update(total=job.total)
            for prepared in _prepared_batches(handler, job, source, batch_size, ext_prefix):
                status = (
                    ImportJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
                )
                if status == JobStatus.CANCELLED:
                    return ImportJob.objects.get(pk=job.pk)
                done_here += len(prepared)
                _write_batch(handler, job, prepared, columns, done_here, started)
                batches += 1
                if batches & (batches - 1) == 0:  # 1, 2, 4, 8, … batches written
                    _refresh_statistics(handler)
                if progress is not None:
                    job.refresh_from_db()
                    progress(job)
    except ImportFileError as exc:
        ImportJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, message=exc.message, finished_at=timezone.now()
        )
        return ImportJob.objects.get(pk=job.pk)
    job.refresh_from_db()
    elapsed = max(time.monotonic() - started, 1e-6)
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        finished_at=timezone.now(),
        total=job.processed,
        rows_per_s=round(done_here / elapsed, 1) if done_here else job.rows_per_s,
    )
    job.refresh_from_db()
    if progress is not None:
        progress(job)
    return job


def _refresh_statistics(handler: Handler) -> None:
    """ANALYZE the tables the import looks rows up in, as they grow (PostgreSQL).

    Each batch looks its external ids, emails and phones up among the records already there,
    a thousand values in one `= ANY(...)`. Without fresh statistics (a new table, or
    autovacuum off or behind) PostgreSQL assumes each value matches 0.5 % of the rows, so a
    thousand match them all, and it scans the whole table for every batch: a 1M-row import
    then spends most of its time in those scans. At 1, 2, 4, 8, … batches written, the
    statistics never lag more than 2× behind the table."""
    if connection.vendor != "postgresql":
        return
    tables = [ExternalRef._meta.db_table]
    model = getattr(handler, "model", None)
    if model is not None:
        tables.append(model._meta.db_table)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _prepared_batches(
    handler: Handler, job: ImportJob, source: Source, batch_size: int, ext_prefix: str
) -> Iterator[list[Row]]:
    """The file's rows after the checkpoint, mapped and cleaned, a batch at a time."""
    rows = _rows(source, job)
    while batch := list(islice(rows, batch_size)):
        prepared = []
        for number, cells, problem in batch:
            row = _row(source.headers, job.mapping, number, cells or [], ext_prefix)
            if problem:
                row.errors["row"] = problem
            else:
                handler.clean(row)
            prepared.append(row)
        yield prepared


def _record_batch(
    job: ImportJob, rows: list[Row], outcome: Outcome, done_here: int, started: float
) -> None:
    """The batch's row errors, the job's counters and checkpoint, and one audit row."""
    if outcome.errors:
        ImportRowError.objects.bulk_create(outcome.errors)
    failed = sum(1 for e in outcome.errors if e.kind == ImportRowError.Kind.ERROR)
    elapsed = max(time.monotonic() - started, 1e-6)
    ImportJob.objects.filter(pk=job.pk).update(
        processed=F("processed") + len(rows),
        created=F("created") + outcome.created,
        updated=F("updated") + outcome.updated,
        skipped=F("skipped") + outcome.skipped,
        failed=F("failed") + failed,
        checkpoint=rows[-1].number,
        rows_per_s=round(done_here / elapsed, 1),
        heartbeat_at=timezone.now(),
    )
    AuditLog.objects.create(
        user=job.user,
        action=AuditLog.Action.CREATE,
        entity="import",
        object_id=job.pk,
        object_repr=str(job)[:255],
        changes={
            "rows": [rows[0].number, rows[-1].number],
            "created": outcome.created,
            "updated": outcome.updated,
            "skipped": outcome.skipped,
            "failed": failed,
            "dry_run": job.dry_run,
        },
    )


def _rows(source: Source, job: ImportJob):
    checkpoint = job.checkpoint  # as the job started (the writer updates `job` meanwhile)
    for number, cells, problem in source.rows:
        if number <= checkpoint:
            continue
        yield number, cells, problem


# The sales entities' handlers live in their own module: they call the sales services and
# build on the Handler above, so they are registered once this module is complete.
from kliento.dataio.transfer.sales_import import SALES_HANDLERS  # noqa: E402

HANDLERS.update(SALES_HANDLERS)
