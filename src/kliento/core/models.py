"""Users, teams, roles, API keys, the audit log, custom field definitions, saved views."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    HEAD = "head", _("Head of sales")
    REP = "rep", _("Sales rep")
    MARKETER = "marketer", _("Marketer")
    SUPPORT = "support", _("Support agent")
    ANALYST = "analyst", _("Analyst (read-only)")


class Team(models.Model):
    """A node of the org chart: company → division → team.

    `path` is the materialised path of ids ("/1/4/9/"), so a head's subtree is one
    `path__startswith` lookup instead of a recursive query.
    """

    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent team"),
    )
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")

    class Meta:
        ordering = ["path"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return max(self.path.count("/") - 2, 0)


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.REP)
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        verbose_name=_("team"),
    )
    language = models.CharField(
        _("language"), max_length=8, default="en", choices=[("en", "English"), ("ru", "Русский")]
    )

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class OrgSettings(models.Model):
    """Company-wide switches; a single row (pk=1)."""

    company_name = models.CharField(_("company name"), max_length=200, default="Kliento")
    team_sharing = models.BooleanField(
        _("reps see their team's records"),
        default=False,
        help_text=_("When on, a rep sees and edits every record owned by a member of their team."),
    )
    default_region = models.CharField(
        _("default phone region"),
        max_length=2,
        default="RU",
        help_text=_("Country used to read phone numbers typed without a country code."),
    )

    # Sales: the currency reports convert to, and what quotes print about the company.
    currency = models.CharField(_("company currency"), max_length=3, default="RUB")
    legal_name = models.CharField(_("legal name"), max_length=255, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=32, blank=True)
    address = models.TextField(_("address"), blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    website = models.CharField(_("website"), max_length=255, blank=True)
    bank_details = models.TextField(_("bank details"), blank=True)
    # The logo lives in the database so every serve host can print it (no shared disk).
    logo = models.BinaryField(_("logo"), null=True, blank=True)
    logo_type = models.CharField(max_length=40, blank=True)
    default_tax_rate = models.DecimalField(
        _("default tax rate, %"), max_digits=5, decimal_places=2, default=0
    )
    quote_validity_days = models.PositiveIntegerField(_("quotes valid for, days"), default=30)
    quote_terms = models.TextField(_("default quote terms"), blank=True)

    class Meta:
        verbose_name = _("organisation settings")

    def __str__(self) -> str:
        return self.company_name

    @classmethod
    def get(cls) -> OrgSettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class ApiKey(models.Model):
    """An API key: only its SHA-256 digest is stored; the key is shown once at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}".strip()

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class AuditLog(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        DELETE = "delete", _("deleted")
        MERGE = "merge", _("merged")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    entity = models.CharField(max_length=40)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=255, blank=True)
    # {"field": [old, new], ...}
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["entity", "object_id", "-at"], name="audit_object_idx")]


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    CHOICE = "choice", _("Choice")
    MULTI_CHOICE = "multichoice", _("Multiple choice")
    BOOLEAN = "boolean", _("Yes / no")


class CustomField(models.Model):
    class Entity(models.TextChoices):
        CONTACT = "contact", _("Contact")
        COMPANY = "company", _("Company")

    entity = models.CharField(_("record type"), max_length=20, choices=Entity.choices)
    key = models.SlugField(_("key"), max_length=50)
    label = models.CharField(_("label"), max_length=100)
    type = models.CharField(_("type"), max_length=20, choices=CustomFieldType.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["entity", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "key"], name="customfield_entity_key_uniq")
        ]

    def __str__(self) -> str:
        return self.label


class SavedView(models.Model):
    """A named list filter + sort a user saved (stored as the list's query string)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="saved_views")
    entity = models.CharField(max_length=20)
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]


class JobFailure(models.Model):
    """A background job that raised; visible to admins, retried by Huey before it lands here."""

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, db_index=True)
    args = models.TextField(blank=True)
    error = models.TextField()
    retries_left = models.IntegerField(default=0)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
