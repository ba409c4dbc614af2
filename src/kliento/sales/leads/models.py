"""Leads, the web forms that capture them, and the rules that assign and score them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kliento.customers.models import Channel


class LeadStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("lead status", "New")
    WORKING = "working", _("In progress")
    QUALIFIED = "qualified", _("Qualified")
    CONVERTED = "converted", _("Converted")
    DISQUALIFIED = "disqualified", _("Disqualified")


class LeadSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    MANUAL = "manual", _("Manual entry")


class DisqualifyReason(models.TextChoices):
    NO_BUDGET = "no_budget", _("No budget")
    NO_NEED = "no_need", _("No need")
    NOT_REACHABLE = "unreachable", _("Could not reach")
    COMPETITOR = "competitor", _("Chose a competitor")
    SPAM = "spam", _("Spam or junk")
    DUPLICATE = "duplicate", _("Duplicate")
    OTHER = "other", _("Other")


# The statuses of a lead still being worked (its email or phone is a duplicate to avoid).
OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.WORKING, LeadStatus.QUALIFIED)


class WebForm(models.Model):
    """A form a company embeds in its site; submissions become leads (or attach to one)."""

    name = models.CharField(_("name"), max_length=200)
    # The public key in the form's action URL; not guessable, replaceable.
    key = models.CharField(max_length=32, unique=True)
    # The lead fields the form accepts, in display order ("first_name", "email", ...).
    fields = models.JSONField(_("fields"), default=list)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.WEB
    )
    success_message = models.CharField(_("thank-you message"), max_length=500, blank=True)
    redirect_url = models.URLField(_("redirect after submit"), blank=True)
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner when no rule matches"),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    company_name = models.CharField(_("company"), max_length=255, blank=True)
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    # Normalised like contacts' (lowercase email, E.164 phone) so duplicates are found exactly.
    email = models.CharField(_("email"), max_length=254, blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    website = models.CharField(_("website"), max_length=255, blank=True)
    message = models.TextField(_("message"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    score = models.IntegerField(_("score"), default=0)
    source = models.CharField(
        _("source"), max_length=20, choices=LeadSource.choices, default=LeadSource.MANUAL
    )
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.OTHER
    )
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    utm_source = models.CharField("utm_source", max_length=200, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=200, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=200, blank=True)
    utm_term = models.CharField("utm_term", max_length=200, blank=True)
    utm_content = models.CharField("utm_content", max_length=200, blank=True)
    referrer = models.CharField(_("referrer"), max_length=500, blank=True)
    web_form = models.ForeignKey(
        WebForm, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    # Set when the lead matched an existing contact, and when it is converted.
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        verbose_name=_("contact"),
    )
    company = models.ForeignKey(
        "customers.Company",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        verbose_name=_("company"),
    )
    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        verbose_name=_("deal"),
    )
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    disqualify_reason = models.CharField(
        _("disqualification reason"), max_length=20, choices=DisqualifyReason.choices, blank=True
    )
    disqualify_note = models.TextField(_("disqualification note"), blank=True)
    assigned_by_rule = models.ForeignKey(
        "AssignmentRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.CharField(_("tags"), max_length=500, blank=True, default="")
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [
            models.Index(fields=["owner", "status", "-score", "id"], name="lead_owner_status_idx"),
            models.Index(fields=["status", "-score", "id"], name="lead_status_score_idx"),
            models.Index(fields=["-created_at", "-id"], name="lead_created_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        name = " ".join(p for p in [self.first_name, self.last_name] if p)
        return name or self.company_name or self.email or self.phone or f"#{self.pk}"

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class AssignmentRule(models.Model):
    """Applied in `position` order to each new lead; the first that matches assigns it."""

    class Kind(models.TextChoices):
        TERRITORY = "territory", _("By territory")
        ROUND_ROBIN = "round_robin", _("Round-robin within a team")
        LOAD = "load", _("By load (fewest open leads)")
        FIXED = "fixed", _("Fixed owner")

    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Conditions (empty = any): the lead's region/city, its source and web form.
    regions = models.JSONField(_("regions"), default=list, blank=True)
    cities = models.JSONField(_("cities"), default=list, blank=True)
    sources = models.JSONField(_("sources"), default=list, blank=True)
    web_form = models.ForeignKey(
        WebForm, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Whom to assign: a team's members (round-robin, load, territory) or one user (fixed).
    team = models.ForeignKey(
        "core.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Round-robin pointer: the member who got the last lead (locked while assigning).
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self) -> str:
        return self.name


class ScoringRule(models.Model):
    """Points added to a lead's score when its condition holds."""

    class Kind(models.TextChoices):
        FIELD_FILLED = "field_filled", _("Field is filled in")
        FIELD_EQUALS = "field_equals", _("Field equals")
        SOURCE = "source", _("Came from source")
        INTERACTIONS = "interactions", _("At least N interactions")
        INTERACTION_KIND = "interaction_kind", _("Had an interaction of kind")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    field = models.CharField(_("field"), max_length=50, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    points = models.IntegerField(_("points"))
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("scoring rule")
        verbose_name_plural = _("scoring rules")

    def __str__(self) -> str:
        return self.name


class CaptureHit(models.Model):
    """Web-form submissions per client IP and minute: the per-IP rate limit, shared by hosts."""

    ip = models.CharField(max_length=45)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ip", "minute"], name="capturehit_uniq")]
