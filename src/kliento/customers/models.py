"""The customer database: companies, contacts, consent, sharing, the interaction timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kliento.customers.normalize import format_phone


def tags_to_db(tags: list[str] | None) -> str:
    """Tags are kept as ",a,b," so `contains=",a,"` is an exact tag match on every database."""
    clean = sorted({t.strip().lower() for t in (tags or []) if t and t.strip()})
    return f",{','.join(clean)}," if clean else ""


def tags_from_db(value: str) -> list[str]:
    return [t for t in (value or "").split(",") if t]


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead")
    PROSPECT = "prospect", _("Prospect")
    CUSTOMER = "customer", _("Customer")
    FORMER = "former", _("Former customer")


class Gender(models.TextChoices):
    UNKNOWN = "", _("Not specified")
    FEMALE = "f", _("Female")
    MALE = "m", _("Male")


class ConsentChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")
    POST = "post", _("Post")
    WHATSAPP = "whatsapp", _("WhatsApp")
    TELEGRAM = "telegram", _("Telegram")
    VIBER = "viber", _("Viber")


class CompanySize(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    MICRO = "1-10", _("1–10 employees")
    SMALL = "11-50", _("11–50 employees")
    MEDIUM = "51-250", _("51–250 employees")
    LARGE = "251-1000", _("251–1000 employees")
    ENTERPRISE = "1000+", _("Over 1000 employees")


class CustomerRecord(models.Model):
    """Fields every customer record has: owner, tags, custom values, version for ETags."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    tags = models.CharField(_("tags"), max_length=500, blank=True, default="")
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        abstract = True

    @property
    def tag_list(self) -> list[str]:
        return tags_from_db(self.tags)

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


class Company(CustomerRecord):
    name = models.CharField(_("name"), max_length=255)
    legal_name = models.CharField(_("legal name"), max_length=255, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    size = models.CharField(_("size"), max_length=10, choices=CompanySize.choices, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    address = models.TextField(_("address"), blank=True)
    postal_address = models.TextField(_("postal address"), blank=True)
    website = models.CharField(_("website"), max_length=255, blank=True)
    emails = models.JSONField(_("emails"), default=list, blank=True)
    phones = models.JSONField(_("phones"), default=list, blank=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [
            models.Index(fields=["name", "id"], name="company_name_idx"),
            models.Index(fields=["owner", "name", "id"], name="company_owner_name_idx"),
            models.Index(fields=["-updated_at", "-id"], name="company_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def phones_display(self) -> list[str]:
        return [format_phone(p) for p in self.phones]


class Contact(CustomerRecord):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    # Primary email/phone are columns for fast exact lookups; all of them live in the lists.
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    emails = models.JSONField(_("emails"), default=list, blank=True)
    phones = models.JSONField(_("phones"), default=list, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    social = models.JSONField(_("social profiles"), default=dict, blank=True)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=20,
        choices=LifecycleStage.choices,
        default=LifecycleStage.LEAD,
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=20, choices=ConsentChannel.choices, blank=True
    )
    preferences = models.TextField(_("preferences"), blank=True)
    companies = models.ManyToManyField(
        Company, through="ContactCompany", related_name="contacts", blank=True
    )

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"], name="contact_name_idx"),
            models.Index(
                fields=["owner", "last_name", "first_name", "id"], name="contact_owner_name_idx"
            ),
            models.Index(
                fields=["lifecycle_stage", "last_name", "first_name", "id"],
                name="contact_stage_name_idx",
            ),
            models.Index(
                fields=["city", "last_name", "first_name", "id"], name="contact_city_name_idx"
            ),
            # A rep's own contacts at one stage, by name (the rep's everyday list).
            models.Index(
                fields=["owner", "lifecycle_stage", "last_name", "first_name", "id"],
                name="contact_owner_stage_name_idx",
            ),
            models.Index(fields=["-created_at", "-id"], name="contact_created_idx"),
            models.Index(fields=["-updated_at", "-id"], name="contact_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        parts = [self.first_name, self.middle_name, self.last_name]
        name = " ".join(p for p in parts if p)
        return name or self.email or self.phone or f"#{self.pk}"

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)

    @property
    def phones_display(self) -> list[str]:
        return [format_phone(p) for p in self.phones]


class ContactCompany(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="company_links")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contact_links")
    role = models.CharField(_("role"), max_length=100, blank=True)
    title = models.CharField(_("job title"), max_length=100, blank=True)
    is_primary = models.BooleanField(_("primary"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "company"], name="contact_company_uniq")
        ]
        indexes = [models.Index(fields=["company", "contact"], name="company_contact_idx")]


class RecordShare(models.Model):
    """Grants one user access to a record they don't own."""

    class Entity(models.TextChoices):
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")
        LEAD = "lead", _("Lead")
        DEAL = "deal", _("Deal")

    entity = models.CharField(max_length=20, choices=Entity.choices)
    object_id = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    can_edit = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "object_id", "user"], name="share_uniq")
        ]
        indexes = [models.Index(fields=["user", "entity", "object_id"], name="share_user_idx")]


class Consent(models.Model):
    class Status(models.TextChoices):
        OPT_IN = "opt_in", _("Opted in")
        OPT_OUT = "opt_out", _("Opted out")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=20, choices=ConsentChannel.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    at = models.DateTimeField(_("when"), default=timezone.now)
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel"], name="consent_contact_channel")
        ]
        ordering = ["channel"]


class InteractionKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    EVENT = "event", _("Event")
    WEBFORM = "webform", _("Web form")
    AD_CLICK = "ad_click", _("Ad click")
    CHAT = "chat", _("Chat")
    SOCIAL = "social", _("Social message")
    SMS = "sms", _("SMS")
    VISIT = "visit", _("Visit")
    PURCHASE = "purchase", _("Purchase")
    TICKET = "ticket", _("Ticket")
    NOTE = "note", _("Note")
    TASK = "task", _("Task")


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    IN_PERSON = "in_person", _("In person")
    WEB = "web", _("Website")
    ADS = "ads", _("Advertising")
    CHAT = "chat", _("Chat")
    SOCIAL = "social", _("Social network")
    SMS = "sms", _("SMS")
    MESSENGER = "messenger", _("Messenger")
    POST = "post", _("Post")
    STORE = "store", _("Store")
    OTHER = "other", _("Other")


DEFAULT_CHANNEL = {
    "call": "phone",
    "email": "email",
    "meeting": "in_person",
    "event": "in_person",
    "webform": "web",
    "ad_click": "ads",
    "chat": "chat",
    "social": "social",
    "sms": "sms",
    "visit": "in_person",
    "purchase": "store",
    "ticket": "web",
    "note": "other",
    "task": "other",
}


class Direction(models.TextChoices):
    IN = "in", _("Inbound")
    OUT = "out", _("Outbound")
    INTERNAL = "internal", _("Internal")


class Interaction(models.Model):
    """Any touchpoint with a customer, past or planned (a task, a scheduled call)."""

    kind = models.CharField(_("kind"), max_length=20, choices=InteractionKind.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.OUT
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("details"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=255, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (s)"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="interactions",
        verbose_name=_("contact"),
    )
    company = models.ForeignKey(
        Company,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="interactions",
        verbose_name=_("company"),
    )
    # The object of a later module this touchpoint belongs to ("deal", 17), without a hard FK.
    related_type = models.CharField(max_length=40, blank=True)
    related_id = models.BigIntegerField(null=True, blank=True)
    # Planned interactions (tasks, scheduled calls and meetings).
    planned = models.BooleanField(_("planned"), default=False)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("assignee"),
    )
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    remind_at = models.DateTimeField(_("reminder"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="ix_contact_time"),
            models.Index(fields=["company", "-occurred_at", "-id"], name="ix_company_time"),
            models.Index(fields=["user", "-occurred_at", "-id"], name="ix_user_time"),
            models.Index(fields=["assignee", "done", "due_at"], name="ix_assignee_tasks"),
            models.Index(fields=["-occurred_at", "-id"], name="ix_time"),
            models.Index(fields=["related_type", "related_id"], name="ix_related"),
        ]

    def __str__(self) -> str:
        return self.subject or self.get_kind_display()

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def is_overdue(self) -> bool:
        return bool(self.planned and not self.done and self.due_at and self.due_at < timezone.now())


class SearchEntry(models.Model):
    """One row per searchable record, holding its normalised, transliterated text.

    On SQLite an FTS5 trigram index mirrors `text`; on PostgreSQL a pg_trgm GIN index
    covers it. Both are created by migration 0002 and queried in customers/search.py.
    """

    entity = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    owner_id = models.BigIntegerField(null=True)
    title = models.CharField(max_length=255)
    text = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "object_id"], name="search_entity_obj")
        ]


class SearchWord(models.Model):
    """The vocabulary of indexed words; typos in a query are corrected against it."""

    word = models.CharField(max_length=100, primary_key=True)
