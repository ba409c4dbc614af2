"""Import of the sales entities: products, leads, deals and orders (one row per order line).

Contacts and companies are bulk-written for speed (engine.py). These rows go through the sales
services instead, one record at a time, each in its own savepoint: a product, lead or deal is
validated, audited, scored, assigned and put on the customer's timeline exactly as when it is
entered by hand, and a row the service refuses becomes a row error naming its column while the
rest of the batch goes on. Re-running a file changes nothing: every record is matched first
(SKU; external id, email or phone; external id or name + customer; order number, as an
external id or else as a Kliento order number) and a service is called only for the values
that differ. A file sets what a person may set by hand; reading back a full export
(`ext_prefix`) also restores closed leads and lines of products no longer sold.

Orders have no service that takes historical values (status, unit cost, replacing the lines),
so the import prices them with the orders app's `compute_totals`, writes them through its
lower-level public functions (`order_insert`, `order_lines_replace`, `order_timeline_sync`)
and audits each change itself.

Leads: a row whose email or phone is a known contact's is attached to that contact's timeline as
an inquiry, as manual entry does, but without the per-row task and email to the owner (an import
of a thousand known customers would send a thousand emails); the job's report flags those rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from kliento.core.errors import KlientoError, ValidationFailedError
from kliento.core.models import AuditLog
from kliento.core.permissions import can_write, record_q
from kliento.core.services import audit_diff, audit_record
from kliento.customers.models import (
    Channel,
    Company,
    Contact,
    Interaction,
    tags_from_db,
    tags_to_db,
)
from kliento.customers.normalize import NormalizationError
from kliento.customers.selectors import contact_qs
from kliento.dataio.transfer.cleaning import _lookup
from kliento.dataio.transfer.engine import Handler, Outcome, Row
from kliento.dataio.transfer.fields import (
    ValueProblem,
    parse_date_value,
    parse_datetime_value,
    parse_decimal,
    split_multi,
)
from kliento.dataio.transfer.models import DuplicateAction, ExternalRef, ImportRowError
from kliento.sales.catalog.models import PriceList, PriceListItem, Product
from kliento.sales.catalog.money import company_currency, money, rate_on
from kliento.sales.catalog.services import price_list_item_set, product_create, product_update
from kliento.sales.deals.models import Deal, DealStatus, LossReason, Pipeline, Stage
from kliento.sales.deals.selectors import pipeline_default
from kliento.sales.deals.services import (
    deal_change_pipeline,
    deal_close_date_set,
    deal_create,
    deal_lose,
    deal_move,
    deal_reopen,
    deal_update,
    deal_win,
)
from kliento.sales.leads.models import (
    OPEN_STATUSES,
    DisqualifyReason,
    Lead,
    LeadSource,
    LeadStatus,
)
from kliento.sales.leads.scoring import lead_score_refresh
from kliento.sales.leads.services import (
    find_duplicate,
    lead_clean,
    lead_create,
    lead_inquiry_create,
    lead_update,
)
from kliento.sales.orders import rollup
from kliento.sales.orders.models import Order, OrderLine, OrderStatus
from kliento.sales.orders.services import (
    MAX_PRICE,
    MAX_QUANTITY,
    LineCalc,
    compute_totals,
    line_discount,
    order_insert,
    order_lines_replace,
    order_timeline_sync,
)

HUNDRED = Decimal("100")
_TRUE = {"1", "true", "yes", "y", "on", "+", "active", "да", "д", "активен", "активный"}
_FALSE = {"0", "false", "no", "n", "off", "-", "inactive", "нет", "н", "неактивен", "не активен"}
# The ExternalRef entity remembering which row attached which inquiry to a known contact.
INQUIRY = "leadinquiry"


class _SalesHandler(Handler):
    """Shared pieces: numbers by the import's decimal separator, choices by value or label,
    one savepoint per record, the services' field errors on the row's columns."""

    # service field → import field, where they differ
    renames: dict[str, str] = {}

    def __init__(self, job, finder):
        super().__init__(job, finder)
        self.seen: dict[str, int] = {}
        # Reading back a full export (services.full_import_create): the records are restored
        # as they were, including states a file may not otherwise set (closed leads, lines of
        # products no longer sold).
        self.restore = bool((job.options or {}).get("ext_prefix"))

    def number(self, row: Row, field: str) -> Decimal | None:
        text = row.raw.get(field, "").strip()
        if not text:
            return None
        try:
            return parse_decimal(text, self.cleaner.decimal)
        except ValueProblem as exc:
            row.errors[field] = str(exc)
            return None

    def moment(self, row: Row, field: str) -> dt.datetime | None:
        """A date-time from the row (a date alone: noon, as manual entry), aware."""
        text = row.raw.get(field, "").strip()
        if not text:
            return None
        try:
            moment = parse_datetime_value(text, self.cleaner.date_format)
        except ValueProblem as exc:
            row.errors[field] = str(exc)
            return None
        if not isinstance(moment, dt.datetime):
            moment = dt.datetime.combine(moment, dt.time(12, 0))
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        if not 1900 <= moment.year <= 2200:
            row.errors[field] = _("The date is out of range.")
        return moment

    def pick(self, row: Row, field: str, table: dict[str, str], allowed) -> str:
        text = row.raw.get(field, "").strip()
        if not text:
            return ""
        value = table.get(text.lower())
        if value is None:
            row.errors[field] = _("%(value)s is not one of: %(allowed)s.") % {
                "value": repr(text),
                "allowed": ", ".join(str(v) for v in allowed),
            }
            return ""
        return value

    def text(self, row: Row, field: str, max_length: int) -> str:
        text = row.raw.get(field, "").strip()
        if len(text) > max_length:
            row.errors[field] = _("At most %(n)s characters.") % {"n": max_length}
        return text

    def attempt(self, row: Row, action: Callable[[], Any]) -> Any:
        """Run one record's service calls in a savepoint; a refusal becomes the row's errors."""
        try:
            with transaction.atomic():
                return action()
        except KlientoError as exc:
            if exc.fields:
                for key, message in exc.fields.items():
                    row.errors[self.renames.get(key, key)] = message
            else:
                row.errors["row"] = exc.message
            return None

    def flag(self, row: Row, field: str, message: str) -> ImportRowError:
        return ImportRowError(
            job=self.job,
            row=row.number,
            kind=ImportRowError.Kind.FLAGGED,
            values=row.cells,
            reasons={self.column(field): message},
        )

    def column(self, field: str) -> str:
        for header, target in self.job.mapping.items():
            if target == field:
                return header
        return field

    def mapped(self, *fields: str) -> str:
        """The first of `fields` the file has a column for (where to report a missing value)."""
        targets = set(self.job.mapping.values())
        return next((f for f in fields if f in targets), fields[0])

    def once(self, rows: list[Row], key: Callable[[Row], str], field: str) -> list[Row]:
        """Drop (as errors) rows whose key already appeared in an earlier row of this file."""
        kept = []
        for row in rows:
            value = key(row)
            first = self.seen.setdefault(value, row.number) if value else row.number
            if first < row.number:
                row.errors[field] = _(
                    "%(value)s already appeared in row %(row)s of this file; this row was not "
                    "imported."
                ) % {"value": repr(value), "row": first}
                continue
            kept.append(row)
        return kept

    def owner_error(self, row: Row, entity: str, obj, field: str = "external_id") -> None:
        row.errors[field] = _(
            "This row matches %(entity)s #%(id)s owned by %(owner)s, which you may not change."
        ) % {"entity": entity, "id": obj.pk, "owner": obj.owner.display_name}

    # customers of deals and orders -------------------------------------------------------

    def customers(self, rows: list[Row]) -> dict[int, tuple[int | None, int | None]]:
        """Row number → (contact id, company id) among the records the user can see; a
        reference that matches nothing visible is an error on its column."""

        def cell(row: Row, field: str) -> str:
            return row.raw.get(field, "").strip()

        contact_refs = self.ext_refs("contact", (cell(r, "contact_external_id") for r in rows))
        company_refs = self.ext_refs("company", (cell(r, "company_external_id") for r in rows))
        visible = contact_qs(self.user)
        ids = {ref.object_id for ref in contact_refs.values()}
        seen_contacts = (
            set(visible.filter(pk__in=ids).values_list("id", flat=True)) if ids else set()
        )
        emails = {cell(r, "contact_email").lower() for r in rows} - {""}
        by_email: dict[str, int] = {}
        if emails:
            for pk, email in (
                visible.filter(email__in=emails).order_by("id").values_list("id", "email")
            ):
                by_email.setdefault(email, pk)
        companies = Company.objects.all()
        q = record_q(self.user, "company")
        if q is not None:
            companies = companies.filter(q)
        ids = {ref.object_id for ref in company_refs.values()}
        seen_companies = (
            set(companies.filter(pk__in=ids).values_list("id", flat=True)) if ids else set()
        )
        names = {cell(r, "company") for r in rows} - {""}
        by_name: dict[str, int] = {}
        if names:
            for pk, name in (
                companies.filter(name__in=names).order_by("id").values_list("id", "name")
            ):
                by_name.setdefault(name, pk)
        result = {}
        for row in rows:
            contact_id = company_id = None
            if cell(row, "contact_external_id"):
                ref = contact_refs.get(cell(row, "contact_external_id"))
                contact_id = ref.object_id if ref and ref.object_id in seen_contacts else None
                if contact_id is None:
                    row.errors["contact_external_id"] = _(
                        "No contact you can see has this external id."
                    )
            elif cell(row, "contact_email"):
                contact_id = by_email.get(cell(row, "contact_email").lower())
                if contact_id is None:
                    row.errors["contact_email"] = _("No contact you can see has this email.")
            if cell(row, "company_external_id"):
                ref = company_refs.get(cell(row, "company_external_id"))
                company_id = ref.object_id if ref and ref.object_id in seen_companies else None
                if company_id is None:
                    row.errors["company_external_id"] = _(
                        "No company you can see has this external id."
                    )
            elif cell(row, "company"):
                company_id = by_name.get(cell(row, "company"))
                if company_id is None:
                    row.errors["company"] = _("No company you can see has this name.")
            result[row.number] = (contact_id, company_id)
        return result


def _bool(row: Row, field: str) -> bool | None:
    text = row.raw.get(field, "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    row.errors[field] = _("Write yes or no (1 or 0).")
    return None


def _count(outcome: Outcome, state: str, n: int = 1) -> None:
    setattr(outcome, state, getattr(outcome, state) + n)


# --- products -------------------------------------------------------------------------------

PRODUCT_VALUES = ("sku", "name", "category", "unit", "description", "cost", "tax_rate", "active")


class ProductHandler(_SalesHandler):
    """Products by SKU (a known SKU updates its product), with an optional price in a price
    list (the named one, or the default list of the company currency)."""

    def __init__(self, job, finder):
        super().__init__(job, finder)
        self.price_lists: dict[str, tuple[PriceList | None, str]] = {}

    def clean(self, row: Row) -> None:
        values: dict[str, Any] = {}
        sku = self.text(row, "sku", 64)
        if not sku:
            row.errors["sku"] = _("Required: the SKU identifies the product.")
        values["sku"] = sku
        for field, size in (("name", 255), ("category", 100), ("unit", 20)):
            text = self.text(row, field, size)
            if text:
                values[field] = text
        if row.raw.get("description", "").strip():
            values["description"] = row.raw["description"].strip()
        for field in ("cost", "tax_rate", "price"):
            number = self.number(row, field)
            if number is not None:
                values[field] = number
        active = _bool(row, "active")
        if active is not None:
            values["active"] = active
        if "price" in values:
            plist, problem = self.price_list(row.raw.get("price_list", "").strip())
            if problem:
                row.errors["price_list"] = problem
            values["price_list"] = plist
        elif row.raw.get("price_list", "").strip():
            row.errors["price"] = _("Give the price for this price list.")
        row.values = values
        row.ext = sku.upper()

    def price_list(self, name: str) -> tuple[PriceList | None, str]:
        key = name.casefold()
        if key not in self.price_lists:
            if name:
                found = list(PriceList.objects.filter(name__iexact=name)[:2])
                if not found:
                    answer = (None, _("No price list is named %(name)s.") % {"name": repr(name)})
                elif len(found) > 1:
                    answer = (
                        None,
                        _("Several price lists are named %(name)s; rename one.")
                        % {"name": repr(name)},
                    )
                else:
                    answer = (found[0], "")
            else:
                lists = PriceList.objects.filter(is_default=True).order_by("id")
                default = lists.filter(currency=company_currency()).first() or lists.first()
                answer = (
                    (default, "")
                    if default
                    else (
                        None,
                        _("There is no default price list: name the price list in a column."),
                    )
                )
            self.price_lists[key] = answer
        return self.price_lists[key]

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        rows = self.once(rows, lambda r: r.ext, "sku")
        found = {
            p.sku.upper(): p
            for p in Product.objects.annotate(key=Upper("sku")).filter(
                key__in=[r.ext for r in rows]
            )
        }
        for row in rows:
            result = self.attempt(row, lambda row=row: self.save(row, found.get(row.ext)))
            if result is not None:
                found[row.ext], state = result
                _count(outcome, state)

    def save(self, row: Row, product: Product | None) -> tuple[Product, str]:
        values = {k: v for k, v in row.values.items() if k in PRODUCT_VALUES}
        if product is None:
            product = product_create(user=self.user, data=values)
            state = "created"
        else:
            data = {k: v for k, v in values.items() if k != "sku" and getattr(product, k) != v}
            state = "skipped"
            if data:
                product = product_update(user=self.user, product=product, data=data)
                state = "updated"
        if "price" in row.values:
            plist = row.values["price_list"]
            current = (
                PriceListItem.objects.filter(price_list=plist, product=product)
                .values_list("price", flat=True)
                .first()
            )
            if current != row.values["price"]:
                price_list_item_set(
                    user=self.user, price_list=plist, product=product, price=row.values["price"]
                )
                state = "created" if state == "created" else "updated"
        return product, state


# --- leads ----------------------------------------------------------------------------------

LEAD_TEXT = (
    "first_name", "last_name", "company_name", "job_title", "region", "city", "website",
    "message", "campaign", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "referrer",
)  # fmt: skip
# What only a full export restores: a lead closed in Kliento (converted or disqualified) as it
# was, with its reason. Not passed to the lead services, which set them by the lead's actions.
LEAD_CLOSING = ("disqualify_reason", "disqualify_note", "converted_at")


class LeadHandler(_SalesHandler):
    """Leads through the leads services (normalisation, assignment rules, scoring, audit).

    A row is matched by its external id, else by email or phone to an open lead (which it
    updates), else to a known contact (the inquiry is attached to the contact's timeline and
    the row is flagged); otherwise `lead_create` makes the lead, dated from the file's
    created_at when given.

    A file sets the open statuses only: converting or disqualifying a lead are actions in
    Kliento. Restoring a full export is the exception: a closed lead is written as it was
    (status, disqualification reason and note, conversion date), matched by external id only,
    since its email may well be the contact it was converted into.
    """

    renames = {"owner_id": "owner"}

    def __init__(self, job, finder):
        super().__init__(job, finder)
        self.sources = _lookup(LeadSource)
        self.channels = _lookup(Channel)
        self.statuses = _lookup(LeadStatus)
        self.reasons = _lookup(DisqualifyReason)

    def clean(self, row: Row) -> None:
        values: dict[str, Any] = {}
        full = row.raw.get("full_name", "").strip()
        if full and not (row.raw.get("first_name", "").strip() or row.raw.get("last_name")):
            parts = full.split()
            if len(parts) == 1:
                values["first_name"] = parts[0]
            else:
                values["first_name"], values["last_name"] = parts[0], " ".join(parts[1:])
        for field in LEAD_TEXT:
            size = 20_000 if field == "message" else Lead._meta.get_field(field).max_length
            text = self.text(row, field, size)
            if text:
                values[field] = text
        country = row.raw.get("country", "").strip()
        if country:
            if len(country) != 2 or not country.isalpha():
                row.errors["country"] = _("Use the two-letter country code, e.g. RU.")
            values["country"] = country.upper()
        for field, normalise in (("email", self.cleaner.email), ("phone", self.cleaner.phone)):
            text = row.raw.get(field, "").strip()
            if not text:
                continue
            try:
                values[field] = normalise(text)
            except NormalizationError as exc:
                row.errors[field] = (
                    _("Invalid email %(value)s: %(reason)s")
                    if field == "email"
                    else _("Invalid phone %(value)s: %(reason)s")
                ) % {"value": repr(text), "reason": exc}
        for field, table, choices in (
            ("source", self.sources, LeadSource),
            ("channel", self.channels, Channel),
        ):
            value = self.pick(row, field, table, choices.values)
            if value:
                values[field] = value
        status = self.pick(row, "status", self.statuses, LeadStatus.values)
        if status and status not in OPEN_STATUSES and not self.restore:
            row.errors["status"] = _(
                "An import sets new, working or qualified; convert or disqualify the lead in "
                "Kliento."
            )
        elif status:
            values["status"] = status
        for field in ("created_at", "converted_at"):
            moment = self.moment(row, field)
            if moment is not None:
                values[field] = moment
        reason = self.pick(row, "disqualify_reason", self.reasons, DisqualifyReason.values)
        if reason:
            values["disqualify_reason"] = reason
        note = row.raw.get("disqualify_note", "").strip()
        if note:
            values["disqualify_note"] = note
        closing = [f for f in LEAD_CLOSING if f in values]
        if closing and not self.restore:
            row.errors[closing[0]] = _(
                "Set when a lead is converted or disqualified in Kliento, not by an import."
            )
        if row.raw.get("owner", "").strip():
            owner_id = self.cleaner.owner(row.raw["owner"], row.errors)
            if owner_id:
                values["owner_id"] = owner_id
        if row.raw.get("tags", "").strip():
            values["tags"] = split_multi(row.raw["tags"])
        row.values = values
        row.ext = row.raw.get("external_id", "").strip()[:100]
        if not (row.ext or values.get("email") or values.get("phone")):
            row.errors.setdefault(
                self.mapped("email", "phone", "external_id"),
                _(
                    "Give an external id, an email or a phone: without one, importing the file "
                    "again would duplicate the lead."
                ),
            )

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        refs = self.ext_refs("lead", (r.ext for r in rows))
        rows = self.check_ext_duplicates(rows, refs)
        known = Lead.objects.select_related("owner").in_bulk(
            [ref.object_id for ref in refs.values()]
        )
        inquiries = self.ext_refs(INQUIRY, (self.inquiry_key(r) for r in rows))
        pairs: list[tuple[Row, int]] = []
        for row in rows:
            ref = refs.get(row.ext) if row.ext else None
            lead = known.get(ref.object_id) if ref else None
            closed = row.values.get("status", LeadStatus.NEW) not in OPEN_STATUSES
            if lead is None and closed:  # a full export restored
                restored = self.attempt(row, lambda row=row: self.restore_closed(row))
                if restored is not None:
                    outcome.created += 1
                    pairs.append((row, restored.pk))
                continue
            by_key = False
            if lead is None:
                lead = self.open_lead(row.values)
                by_key = lead is not None
            if lead is not None:
                if not can_write(self.user, "lead", lead):
                    self.owner_error(row, "lead", lead, "external_id" if not by_key else "email")
                    continue
                if by_key and self.action != DuplicateAction.MERGE:
                    if self.action == DuplicateAction.FLAG:
                        outcome.errors.append(
                            self.flag(
                                row,
                                "email",
                                _("Looks like lead #%(id)s; not imported.") % {"id": lead.pk},
                            )
                        )
                    outcome.skipped += 1
                    continue
                state = self.attempt(row, lambda row=row, lead=lead: self.update(row, lead))
                if state is not None:
                    _count(outcome, state)
                    pairs.append((row, lead.pk))
                continue
            contact, _lead = find_duplicate(
                email=row.values.get("email", ""), phone=row.values.get("phone", "")
            )
            if contact is not None:
                if self.action == DuplicateAction.SKIP:
                    outcome.skipped += 1
                    continue
                self.attach(row, contact, inquiries, outcome)
                continue
            intake = self.attempt(row, lambda row=row: self.create(row))
            if intake is None:
                continue
            if intake.created:
                outcome.created += 1
                pairs.append((row, intake.lead.pk))
            else:  # someone entered the same person a moment ago: attached like a capture
                outcome.errors.append(
                    self.flag(row, "email", _("Attached to an existing record as an inquiry."))
                )
                outcome.updated += 1
        self.save_refs("lead", pairs, refs)

    def open_lead(self, values: dict[str, Any]) -> Lead | None:
        q = Q(pk__in=[])
        if values.get("email"):
            q |= Q(email=values["email"])
        if values.get("phone"):
            q |= Q(phone=values["phone"])
        return (
            Lead.objects.filter(q, status__in=OPEN_STATUSES)
            .select_related("owner")
            .order_by("id")
            .first()
        )

    def create(self, row: Row):
        data = {k: v for k, v in row.values.items() if k not in {"created_at", *LEAD_CLOSING}}
        data.setdefault("source", LeadSource.IMPORT)
        intake = lead_create(user=self.user, data=data)
        created_at = row.values.get("created_at")
        if intake.created and created_at is not None:
            # When the lead came in, as the file says: its age, response times and reports
            # count from then, not from the day of the import.
            Lead.objects.filter(pk=intake.lead.pk).update(created_at=created_at)
            intake.lead.created_at = created_at
        return intake

    def restore_closed(self, row: Row) -> Lead:
        """A converted or disqualified lead of a full export, written as it was: validated as
        the lead services validate a lead, audited and scored, but not assigned, linked to a
        contact or announced (it is history, not a new inquiry)."""
        data = {
            k: v for k, v in row.values.items() if k not in {"status", "created_at", *LEAD_CLOSING}
        }
        data.setdefault("source", LeadSource.IMPORT)
        values = lead_clean(user=self.user, data=data)
        values.setdefault("owner_id", self.user.pk)
        now = timezone.now()
        lead = Lead.objects.create(
            **values,
            **self.closing(row.values),
            created_at=row.values.get("created_at") or now,
            updated_at=now,
        )
        audit_record(
            user=self.user,
            action=AuditLog.Action.CREATE,
            entity="lead",
            obj=lead,
            changes=audit_diff({}, {**values, **self.closing(row.values)}),
        )
        lead_score_refresh(lead=lead)
        return lead

    @staticmethod
    def closing(values: dict[str, Any]) -> dict[str, Any]:
        status = values["status"]
        disqualified = status == LeadStatus.DISQUALIFIED
        return {
            "status": status,
            "disqualify_reason": values.get("disqualify_reason", "") if disqualified else "",
            "disqualify_note": values.get("disqualify_note", ""),
            "converted_at": values.get("converted_at") if status == LeadStatus.CONVERTED else None,
        }

    def update(self, row: Row, lead: Lead) -> str:
        data: dict[str, Any] = {}
        restore_closed = False
        for key, value in row.values.items():
            if key in {"created_at", *LEAD_CLOSING}:
                continue  # set when the lead is created, or closed below
            if key == "status" and value not in OPEN_STATUSES:
                restore_closed = value != lead.status
            elif key == "tags":
                merged = tags_from_db(lead.tags) + [t for t in value if t]
                if tags_to_db(merged) != lead.tags:
                    data["tags"] = merged
            elif getattr(lead, key) != value:
                data[key] = value
        if not (data or restore_closed):
            return "skipped"
        if data:
            lead = lead_update(user=self.user, lead=lead, data=data)
        if restore_closed:
            self.close_restored(lead, row.values)
        return "updated"

    def close_restored(self, lead: Lead, values: dict[str, Any]) -> None:
        """An open lead closed as a restored full export says it was; a closed one is left to
        the leads services' rule (a closed lead stays as it is)."""
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if not lead.is_open:
            raise ValidationFailedError(
                fields={
                    "status": _("This lead is already %(status)s.")
                    % {"status": lead.get_status_display().lower()}
                }
            )
        closing = self.closing(values)
        before = {k: getattr(lead, k) for k in closing}
        for key, value in closing.items():
            setattr(lead, key, value)
        lead.version += 1
        lead.updated_at = timezone.now()
        lead.save(update_fields=[*closing, "version", "updated_at"])
        audit_record(
            user=self.user,
            action=AuditLog.Action.UPDATE,
            entity="lead",
            obj=lead,
            changes=audit_diff(before, closing),
        )

    @staticmethod
    def inquiry_key(row: Row) -> str:
        return (row.ext or row.values.get("email") or row.values.get("phone") or "")[:100]

    def attach(self, row: Row, contact: Contact, inquiries, outcome: Outcome) -> None:
        """The inquiry on the known contact's timeline, as manual entry records it, once."""
        key = self.inquiry_key(row)
        ref = inquiries.get(key)
        message = _(
            "This person is already contact #%(id)s: the inquiry is on their timeline and no "
            "lead was created."
        ) % {"id": contact.pk}
        if ref is not None and Interaction.objects.filter(pk=ref.object_id).exists():
            outcome.skipped += 1
            return

        def record() -> Interaction:
            inquiry = lead_inquiry_create(user=self.user, values=row.values, contact=contact)
            audit_record(
                user=self.user,
                action=AuditLog.Action.UPDATE,
                entity="contact",
                obj=contact,
                changes={"inquiry": [None, inquiry.subject]},
            )
            ExternalRef.objects.update_or_create(
                entity=INQUIRY,
                external_id=key,
                defaults={"object_id": inquiry.pk, "job": self.job, "row": row.number},
            )
            return inquiry

        if self.attempt(row, record) is not None:
            outcome.updated += 1
            outcome.errors.append(self.flag(row, "email", message))


# --- deals ----------------------------------------------------------------------------------


class DealHandler(_SalesHandler):
    """Deals through the deal services: created in their pipeline and stage, moved, closed as
    won or lost (with the loss reason) or reopened, as a person would do it by hand.

    Matched by external id; a row without one matches the deal of the same name, pipeline
    and customer.

    The file's dates are the deal's real ones (a migration from another CRM, a full export
    read back): a new deal is created on its created_at, and a won or lost deal is closed on
    its closed_at, so the deal's age and the sales cycle are what they were. A closed deal
    without a created date starts on its close date (never after it). The created date of a
    known deal is left as it is; a different close date of a deal closed the same way is
    corrected in place (no reopen), and a known open deal the row moves and closes is moved on
    the close date, so its history reads in order."""

    # A move's date is the row's close date (DealHandler.update).
    renames = {"reason": "loss_reason", "note": "loss_note", "at": "closed_at"}

    def __init__(self, job, finder):
        super().__init__(job, finder)
        self.statuses = _lookup(DealStatus)
        self.pipelines: dict[str, Pipeline | None] = {}
        self.reasons: dict[str, LossReason | None] = {}

    def pipeline(self, name: str) -> Pipeline | None:
        """The pipeline of that name (blank: the default one)."""
        key = name.casefold()
        if key not in self.pipelines:
            self.pipelines[key] = (
                Pipeline.objects.filter(name__iexact=name)
                .order_by("-active", "position", "id")
                .first()
                if name
                else pipeline_default()
            )
        return self.pipelines[key]

    @staticmethod
    def stage(row: Row, pipeline: Pipeline) -> Stage | None:
        name = row.raw.get("stage", "").strip()
        if not name:
            return None
        stage = Stage.objects.filter(pipeline=pipeline, name__iexact=name).order_by("id").first()
        if stage is None:
            other = Stage.objects.filter(name__iexact=name).select_related("pipeline").first()
            row.errors["stage"] = (
                _("The stage %(stage)s is not in the pipeline %(pipeline)s (it is in %(other)s).")
                % {"stage": repr(name), "pipeline": pipeline.name, "other": other.pipeline.name}
                if other
                else _("The pipeline %(pipeline)s has no stage %(stage)s.")
                % {"stage": repr(name), "pipeline": pipeline.name}
            )
        return stage

    def clean(self, row: Row) -> None:
        values: dict[str, Any] = {}
        for field, size in (("name", 255), ("source", 50)):
            text = self.text(row, field, size)
            if text:
                values[field] = text
        pipeline_name = row.raw.get("pipeline", "").strip()
        pipeline = self.pipeline(pipeline_name)
        if pipeline is None:
            row.errors["pipeline"] = (
                _("No pipeline is named %(name)s.") % {"name": repr(pipeline_name)}
                if pipeline_name
                else _("There is no pipeline yet: an administrator creates one.")
            )
        else:
            values["pipeline"] = pipeline
            values["explicit_pipeline"] = bool(pipeline_name)
            stage_name = row.raw.get("stage", "").strip()
            if pipeline_name:
                stage = self.stage(row, pipeline)
            else:
                # Without a pipeline column a known deal keeps its own pipeline: a stage
                # that is not in the default one is looked up in the deal's when it is written.
                stage = (
                    Stage.objects.filter(pipeline=pipeline, name__iexact=stage_name).first()
                    if stage_name
                    else None
                )
                if stage is None and stage_name:
                    values["stage_name"] = stage_name
            if stage is not None:
                values["stage"] = stage
        amount = self.number(row, "amount")
        if amount is not None:
            if amount < 0:
                row.errors["amount"] = _("Must not be negative.")
            values["amount"] = amount
        currency = row.raw.get("currency", "").strip().upper()
        if currency:
            if len(currency) != 3 or not currency.isalpha():
                row.errors["currency"] = _("Use a three-letter currency code such as RUB.")
            values["currency"] = currency
        if row.raw.get("expected_close", "").strip():
            try:
                values["expected_close"] = parse_date_value(
                    row.raw["expected_close"], self.cleaner.date_format
                )
            except ValueProblem as exc:
                row.errors["expected_close"] = str(exc)
        if row.raw.get("owner", "").strip():
            owner_id = self.cleaner.owner(row.raw["owner"], row.errors)
            if owner_id:
                values["owner_id"] = owner_id
        status = self.pick(row, "status", self.statuses, DealStatus.values)
        if status:
            values["status"] = status
        reason = row.raw.get("loss_reason", "").strip()
        if reason:
            key = reason.casefold()
            if key not in self.reasons:
                self.reasons[key] = LossReason.objects.filter(name__iexact=reason).first()
            if self.reasons[key] is None:
                row.errors["loss_reason"] = _("No loss reason is named %(name)s.") % {
                    "name": repr(reason)
                }
            values["loss_reason"] = self.reasons[key]
        if row.raw.get("loss_note", "").strip():
            values["loss_note"] = row.raw["loss_note"].strip()
        for field in ("created_at", "closed_at"):
            moment = self.moment(row, field)
            if moment is not None:
                values[field] = moment
        if status == DealStatus.OPEN and "closed_at" in values:
            row.errors["closed_at"] = _open_deal_dated()
        if status == DealStatus.LOST and not reason:
            row.errors[self.mapped("loss_reason", "status")] = _("Say why the deal was lost.")
        if not values.get("name") and not row.raw.get("external_id", "").strip():
            row.errors["name"] = _("A deal needs a name.")
        row.values = values
        row.ext = row.raw.get("external_id", "").strip()[:100]

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        refs = self.ext_refs("deal", (r.ext for r in rows))
        rows = self.check_ext_duplicates(rows, refs)
        known = Deal.objects.select_related("owner", "pipeline", "stage").in_bulk(
            [ref.object_id for ref in refs.values()]
        )
        customers = self.customers(rows)
        pairs: list[tuple[Row, int]] = []
        for row in rows:
            if row.errors:
                continue
            contact_id, company_id = customers[row.number]
            ref = refs.get(row.ext) if row.ext else None
            deal = known.get(ref.object_id) if ref else None
            if deal is None and "name" in row.values:
                deal = (
                    Deal.objects.filter(
                        name=row.values["name"],
                        pipeline=row.values["pipeline"],
                        contact_id=contact_id,
                        company_id=company_id,
                    )
                    .select_related("owner", "pipeline", "stage")
                    .order_by("id")
                    .first()
                )
            if deal is None:
                if not row.values.get("name"):
                    row.errors["name"] = _("A deal needs a name.")
                    continue
                deal = self.attempt(
                    row, lambda row=row, c=contact_id, k=company_id: self.create(row, c, k)
                )
                if deal is not None:
                    outcome.created += 1
                    pairs.append((row, deal.pk))
                continue
            if not can_write(self.user, "deal", deal):
                self.owner_error(row, "deal", deal)
                continue
            state = self.attempt(
                row,
                lambda row=row, deal=deal, c=contact_id, k=company_id: self.update(row, deal, c, k),
            )
            if state is not None:
                _count(outcome, state)
                pairs.append((row, deal.pk))
        self.save_refs("deal", pairs, refs)

    def create(self, row: Row, contact_id: int | None, company_id: int | None) -> Deal:
        values = row.values
        data: dict[str, Any] = {"name": values["name"], "pipeline": values["pipeline"].pk}
        if "stage_name" in values:
            self.stage(row, values["pipeline"])
            raise ValidationFailedError(fields={"stage": row.errors.pop("stage")})
        if "stage" in values:
            data["stage"] = values["stage"].pk
        for key in ("amount", "currency", "expected_close", "source"):
            if key in values:
                data[key] = values[key]
        if "owner_id" in values:
            data["owner"] = values["owner_id"]
        if contact_id:
            data["contact"] = contact_id
        if company_id:
            data["company"] = company_id
        created_at = values.get("created_at")
        closed_at = values.get("closed_at")
        if created_at is None and closed_at is not None:
            created_at = min(closed_at, timezone.now())
        deal = deal_create(user=self.user, data=data, created_at=created_at)
        return self.close(deal, values)

    def close(self, deal: Deal, values: dict[str, Any]) -> Deal:
        """Win or lose the deal as the row says, on the row's close date (default now)."""
        status = values.get("status", DealStatus.OPEN)
        closed_at = values.get("closed_at")
        if status == DealStatus.OPEN and closed_at is not None:
            raise ValidationFailedError(fields={"closed_at": _open_deal_dated()})
        if status == DealStatus.WON and deal.status != DealStatus.WON:
            deal = deal_win(user=self.user, deal=deal, closed_at=closed_at)
        elif status == DealStatus.LOST and deal.status != DealStatus.LOST:
            if values.get("loss_reason") is None:
                raise ValidationFailedError(fields={"loss_reason": _("Say why the deal was lost.")})
            deal = deal_lose(
                user=self.user,
                deal=deal,
                reason=values["loss_reason"],
                note=values.get("loss_note", ""),
                closed_at=closed_at,
            )
        return deal

    def update(self, row: Row, deal: Deal, contact_id: int | None, company_id: int | None) -> str:
        values = row.values
        pipeline = values["pipeline"] if values.get("explicit_pipeline") else deal.pipeline
        stage = values.get("stage")
        if "stage_name" in values or (stage is not None and stage.pipeline_id != pipeline.pk):
            stage = self.stage(row, pipeline)  # the stage named in the deal's own pipeline
            if stage is None:
                raise ValidationFailedError(fields={"stage": row.errors.pop("stage")})
        if stage is None and pipeline.pk != deal.pipeline_id:
            stage = pipeline.stages.order_by("position", "id").first()
        data: dict[str, Any] = {}
        for key in ("name", "amount", "currency", "expected_close", "source"):
            if key in values and getattr(deal, key) != values[key]:
                data[key] = values[key]
        for key, value in (
            ("owner", values.get("owner_id")),
            ("contact", contact_id),
            ("company", company_id),
        ):
            if value and getattr(deal, f"{key}_id") != value:
                data[key] = value
        status = values.get("status", deal.status)
        move = stage is not None and stage.pk != deal.stage_id
        relose = status == deal.status == DealStatus.LOST and (
            (values.get("loss_reason") and values["loss_reason"].pk != deal.loss_reason_id)
            or ("loss_note" in values and values["loss_note"] != deal.loss_note)
        )
        # The same outcome on another date (the file corrects a close date): closed again.
        redate = (
            status == deal.status != DealStatus.OPEN
            and values.get("closed_at") is not None
            and values["closed_at"] != deal.closed_at
        )
        if not (data or move or relose or redate or status != deal.status):
            return "skipped"
        reason = values.get("loss_reason") or deal.loss_reason  # a reopened deal forgets it
        reopen = deal.status != DealStatus.OPEN and (status != deal.status or move or relose)
        if reopen:
            deal = deal_reopen(user=self.user, deal=deal)
        elif redate:
            # Only the date differs: corrected in place, so the history shows no reopen.
            deal = deal_close_date_set(user=self.user, deal=deal, closed_at=values["closed_at"])
        if move:
            # An open deal moved and closed by the row moved on its close date, so the move
            # comes before the close in its history; an open row has no date (moved now), and
            # a deal this row reopened (now) moves now as well.
            at = None if reopen else values.get("closed_at")
            if stage.pipeline_id != deal.pipeline_id:
                deal = deal_change_pipeline(user=self.user, deal=deal, stage=stage, at=at)
            else:
                deal = deal_move(user=self.user, deal=deal, stage=stage, at=at)
        if data:
            deal = deal_update(user=self.user, deal=deal, data=data)
        self.close(deal, {**values, "status": status, "loss_reason": reason})
        return "updated"


def _open_deal_dated() -> str:
    return _("An open deal has no close date: give the status won or lost, or no date.")


# --- orders ---------------------------------------------------------------------------------

# What an order's rows share; a later row of the same order may leave them blank.
ORDER_HEADER = (
    "ordered_at", "status", "channel", "currency", "owner", "note", "contact_external_id",
    "contact_email", "company_external_id", "company",
)  # fmt: skip


class OrderHandler(_SalesHandler):
    """Orders, one row per line, grouped by the order number (rows of one order need not be
    next to each other). The first batch of a job that meets an order replaces its lines;
    later batches of the same job add theirs, so a re-run leaves the order as one run made it.
    Totals, tax, revenue and margin come from the orders app's `compute_totals`."""

    def __init__(self, job, finder):
        super().__init__(job, finder)
        self.statuses = _lookup(OrderStatus)
        self.channels = _lookup(Channel)
        self.made: set[int] = set()
        # (month, owner) of the orders this batch wrote: their P&L rollup is recomputed once.
        self.rollup_keys: set[rollup.Key] = set()
        # Order number → its first row refused while cleaning: the order is not imported.
        self.broken: dict[str, int] = {}

    def clean(self, row: Row) -> None:
        values: dict[str, Any] = {}
        row.ext = row.raw.get("external_id", "").strip()[:100]
        if not row.ext:
            row.errors["external_id"] = _("Required: the order number groups the lines.")
        ordered_at = self.moment(row, "ordered_at")
        if ordered_at is not None:
            values["ordered_at"] = ordered_at
        for field, table, choices in (
            ("status", self.statuses, OrderStatus),
            ("channel", self.channels, Channel),
        ):
            value = self.pick(row, field, table, choices.values)
            if value:
                values[field] = value
        currency = row.raw.get("currency", "").strip().upper()
        if currency:
            if len(currency) != 3 or not currency.isalpha():
                row.errors["currency"] = _("Use a three-letter currency code such as RUB.")
            values["currency"] = currency
        if row.raw.get("owner", "").strip():
            owner_id = self.cleaner.owner(row.raw["owner"], row.errors)
            if owner_id:
                values["owner_id"] = owner_id
        note = row.raw.get("note", "").strip()
        if note:
            if len(note) > 5000:
                row.errors["note"] = _("At most %(n)s characters.") % {"n": 5000}
            values["note"] = note
        if not row.raw.get("sku", "").strip():
            row.errors["sku"] = _("Required: the SKU of the product.")
        quantity = self.number(row, "quantity")
        if quantity is None and "quantity" not in row.errors:
            row.errors["quantity"] = _("Enter a quantity.")
        elif quantity is not None and quantity <= 0:
            row.errors["quantity"] = _("The quantity must be greater than zero.")
        elif quantity is not None and (quantity > MAX_QUANTITY or -quantity.as_tuple()[2] > 3):
            row.errors["quantity"] = _("At most 999999999 with 3 decimals.")
        price = self.number(row, "price")
        if price is None and "price" not in row.errors:
            row.errors["price"] = _("Enter a price.")
        elif price is not None and price < 0:
            row.errors["price"] = _("The price can't be negative.")
        elif price is not None and (price > MAX_PRICE or -price.as_tuple()[2] > 2):
            row.errors["price"] = _("Too large or more than 2 decimals.")
        cost = self.number(row, "cost")
        if cost is not None and (cost < 0 or -cost.as_tuple()[2] > 2):
            row.errors["cost"] = _("A cost is at least 0, with at most 2 decimals.")
        discount_text = row.raw.get("discount", "").strip()
        percent = discount_text.endswith("%")
        if percent:
            row.raw["discount"] = discount_text[:-1]
        discount = self.number(row, "discount")
        if percent:
            row.raw["discount"] = discount_text
        if discount is not None and discount < 0:
            row.errors["discount"] = _("A discount can't be negative.")
        elif discount is not None and percent and discount > HUNDRED:
            row.errors["discount"] = _("At most 100%.")
        if "quantity" not in row.errors and "price" not in row.errors and discount:
            gross = money(quantity * price)
            amount = line_discount(gross, "percent" if percent else "amount", discount)
            if amount > gross:
                row.errors["discount"] = _("The discount is larger than the line.")
            discount = amount
        values.update(quantity=quantity, price=price, cost=cost, discount=discount or Decimal(0))
        row.values = values
        if row.errors and row.ext:
            self.broken.setdefault(row.ext, row.number)

    def write(self, rows: list[Row], outcome: Outcome) -> None:
        customers = self.customers(rows)
        skus = {r.raw["sku"].strip().upper() for r in rows}
        products = {
            p.sku.upper(): p
            for p in Product.objects.annotate(key=Upper("sku")).filter(key__in=skus)
        }
        groups: dict[str, list[Row]] = {}
        for row in rows:
            groups.setdefault(row.ext, []).append(row)
        refs = self.ext_refs("order", groups)
        known = {key: ref.object_id for key, ref in refs.items()}
        known.update(self.by_number([key for key in groups if key not in refs]))
        sold: dict[int, set[int]] = {}
        for order_id, product_id in OrderLine.objects.filter(
            order_id__in=set(known.values()), product__isnull=False
        ).values_list("order_id", "product_id"):
            sold.setdefault(order_id, set()).add(product_id)
        for key, group in groups.items():
            if key in self.broken:
                for row in group:
                    row.errors["external_id"] = _(
                        "Not imported: row %(row)s of the same order has a problem."
                    ) % {"row": self.broken[key]}
                continue
            header = self.header(group, customers)
            on_order = sold.get(known.get(key), set())
            lines = [self.line(row, products, on_order) for row in group]
            bad = [r for r in group if r.errors]
            if not bad:
                ref = refs.get(key)
                state = self.attempt(
                    group[0],
                    lambda group=group, header=header, lines=lines, ref=ref, key=key: self.save(
                        key=key,
                        header=header,
                        lines=lines,
                        ref=ref,
                        order_id=known.get(key),
                        first=group[0],
                    ),
                )
                if state is not None:
                    _count(outcome, state, len(group))
                    continue
                bad = [group[0]]
            for row in group:
                if not row.errors:
                    row.errors["external_id"] = _(
                        "Not imported: row %(row)s of the same order has a problem."
                    ) % {"row": bad[0].number}
        rollup.refresh(self.rollup_keys)
        self.rollup_keys.clear()

    def by_number(self, keys: list[str]) -> dict[str, int]:
        """Order number → id of the orders the file names by their Kliento number (an orders
        list export read back) and no stored external id matches yet. Not when restoring a
        full export, whose order numbers are external ids of another database, nor an order
        this job created for another row (its new number may equal a foreign one)."""
        if self.restore or not keys:
            return {}
        return dict(
            Order.objects.filter(number__in=keys)
            .exclude(pk__in=self.made)
            .values_list("number", "id")
        )

    def header(self, group: list[Row], customers) -> dict[str, Any]:
        """The order's own values: each from the first row giving it; another row may repeat
        or omit it, not contradict it."""
        given: dict[str, Row] = {}
        for row in group:
            for field in ORDER_HEADER:
                mine = row.raw.get(field, "").strip()
                if not mine:
                    continue
                first = given.setdefault(field, row)
                theirs = first.raw.get(field, "").strip()
                if mine != theirs:
                    row.errors[field] = _(
                        "Differs from row %(row)s of the same order (%(value)s)."
                    ) % {"row": first.number, "value": repr(theirs)}
        header: dict[str, Any] = {}
        for field in ("ordered_at", "status", "channel", "currency", "owner", "note"):
            if field in given:
                key = "owner_id" if field == "owner" else field
                header[key] = given[field].values.get(key)
        # None and None: the file names no customer (a known order keeps its own).
        source = next(
            (given[f] for f in ("contact_external_id", "contact_email", "company_external_id",
                                "company") if f in given),
            group[0],
        )  # fmt: skip
        header["contact_id"], header["company_id"] = customers[source.number]
        return header

    def line(self, row: Row, products: dict[str, Product], on_order: set[int]) -> LineCalc | None:
        """The row's order line. A product no longer sold may be on it only when the order
        has it already (a re-run) or when a full export is restored: new sales by file sell
        active products only."""
        sku = row.raw.get("sku", "").strip()
        product = products.get(sku.upper())
        if product is None:
            row.errors["sku"] = _("No product has the SKU %(sku)s.") % {"sku": repr(sku)}
            return None
        if not (product.active or self.restore or product.pk in on_order):
            row.errors["sku"] = _(
                "%(product)s is no longer sold (inactive); choose another product."
            ) % {"product": product.name}
            return None
        if row.errors:
            return None
        values = row.values
        return LineCalc(
            product=product,
            description=product.name,
            quantity=values["quantity"],
            price=values["price"],
            discount=values["discount"],
            tax_rate=product.tax_rate,
            cost=values["cost"] if values["cost"] is not None else product.cost,
        )

    def save(
        self, *, key: str, header, lines: list[LineCalc], ref, order_id: int | None, first: Row
    ) -> str:
        """Create or update the order; `order_id` is the one matched by external id or,
        without one, by the Kliento order number. The key is stored as its external id."""
        order = None
        if order_id is not None:
            order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is not None and not can_write(self.user, "order", order):
            raise ValidationFailedError(
                fields={
                    "external_id": _("This row matches order %(number)s, which you may not change.")
                    % {"number": order.number}
                }
            )
        append = order is not None and ref is not None and ref.job_id == self.job.pk
        if order is not None:
            if append:
                kept = [
                    LineCalc(
                        product=x.product,
                        description=x.description,
                        quantity=x.quantity,
                        price=x.price,
                        discount=x.discount,
                        tax_rate=x.tax_rate,
                        cost=x.cost,
                    )
                    for x in order.lines.select_related("product").order_by("position", "id")
                ]
                lines = kept + lines
            self.rollup_keys.add(rollup.key_of(order))
            state = self.update(order, header, lines, appended=append)
        else:
            order = self.create(header, lines)
            state = "created"
        self.rollup_keys.add(rollup.key_of(order))
        if order.pk in self.made:
            state = "created"
        ExternalRef.objects.update_or_create(
            entity="order",
            external_id=key,
            defaults={"object_id": order.pk, "job": self.job, "row": first.number},
        )
        return state

    def totals(self, header: dict[str, Any], lines: list[LineCalc]):
        # No rate for the currency on that day: a ValidationFailedError on "currency".
        rate = rate_on(header["currency"], timezone.localdate(header["ordered_at"]))
        return compute_totals(lines, rate)

    def create(self, header: dict[str, Any], lines: list[LineCalc]) -> Order:
        if not (header["contact_id"] or header["company_id"]):
            field = self.mapped(
                "contact_external_id", "contact_email", "company_external_id", "company"
            )
            message = _("Give the customer: a contact (external id or email) or a company.")
            raise ValidationFailedError(fields={field: message})
        values = {
            "ordered_at": header.get("ordered_at") or timezone.now(),
            "status": header.get("status") or OrderStatus.NEW,
            "channel": header.get("channel") or Channel.OTHER,
            "currency": header.get("currency") or company_currency(),
            "owner_id": header.get("owner_id") or self.user.pk,
            "note": header.get("note", ""),
            "contact_id": header["contact_id"],
            "company_id": header["company_id"],
        }
        totals = self.totals(values, lines)
        order = Order(**values, **totals.__dict__)
        order_insert(user=self.user, order=order, lines=lines)
        self.made.add(order.pk)
        return order

    def update(self, order: Order, header, lines: list[LineCalc], *, appended: bool) -> str:
        fields = ("ordered_at", "status", "channel", "currency", "owner_id", "note")
        before = {f: getattr(order, f) for f in (*fields, "contact_id", "company_id")}
        after = dict(before)
        for field in fields:
            if header.get(field) not in (None, ""):
                after[field] = header[field]
        if header["contact_id"] or header["company_id"]:
            after["contact_id"], after["company_id"] = header["contact_id"], header["company_id"]
        totals = self.totals(after, lines)
        old_lines = list(order.lines.order_by("position", "id"))
        signature = [
            (x.product_id, x.description, x.quantity, x.price, x.discount, x.tax_rate, x.cost)
            for x in old_lines
        ]
        new_signature = [
            (
                x.product.pk if x.product else None,
                x.description,
                x.quantity,
                x.price,
                x.discount,
                x.tax_rate,
                x.cost,
            )
            for x in lines
        ]
        changes = audit_diff(before, after)
        if not changes and signature == new_signature and not appended:
            return "skipped"
        for field, value in {**after, **totals.__dict__}.items():
            setattr(order, field, value)
        if signature != new_signature:
            order_lines_replace(order=order, lines=lines)
            changes["lines"] = [len(old_lines), len(lines)]
        order.version += 1
        order.updated_at = timezone.now()
        order.save()
        audit_record(
            user=self.user,
            action=AuditLog.Action.UPDATE,
            entity="order",
            obj=order,
            changes={**changes, "total": [None, str(order.total)]},
        )
        order_timeline_sync(user=self.user, order=order)
        return "updated"


SALES_HANDLERS: dict[str, type[Handler]] = {
    "products": ProductHandler,
    "leads": LeadHandler,
    "deals": DealHandler,
    "orders": OrderHandler,
}
