"""Quotes (commercial proposals): priced lines, discounts, approval, revisions, acceptance."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kliento.sales.catalog.models import MONEY


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PENDING_APPROVAL = "pending_approval", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    SUPERSEDED = "superseded", _("Superseded by a newer version")


class DiscountKind(models.TextChoices):
    PERCENT = "percent", _("Percent")
    AMOUNT = "amount", _("Amount")


class Quote(models.Model):
    """One revision of a proposal. A new revision copies the lines; the old one is kept."""

    deal = models.ForeignKey(
        "deals.Deal", on_delete=models.CASCADE, related_name="quotes", verbose_name=_("deal")
    )
    number = models.CharField(_("number"), max_length=30, db_index=True)
    revision = models.PositiveIntegerField(_("version"), default=1)
    status = models.CharField(
        _("status"), max_length=20, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT
    )
    price_list = models.ForeignKey(
        "catalog.PriceList",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("price list"),
    )
    currency = models.CharField(_("currency"), max_length=3)
    language = models.CharField(
        _("language"), max_length=8, default="en", choices=[("en", "English"), ("ru", "Русский")]
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("contact"),
    )
    company = models.ForeignKey(
        "customers.Company",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("company"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    issued_on = models.DateField(_("date"), default=timezone.localdate)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    terms = models.TextField(_("terms"), blank=True)
    discount_kind = models.CharField(
        _("document discount"), max_length=10, choices=DiscountKind.choices, blank=True
    )
    discount_value = models.DecimalField(
        _("document discount value"),
        **MONEY,
        default=Decimal("0"),
        validators=[MinValueValidator(0)],
    )
    # Totals, recomputed by the service on every change of a line or discount.
    subtotal = models.DecimalField(_("subtotal"), **MONEY, default=Decimal("0"))
    discount_total = models.DecimalField(_("discounts"), **MONEY, default=Decimal("0"))
    tax_total = models.DecimalField(_("tax"), **MONEY, default=Decimal("0"))
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0"))
    # The effective discount as a share of the subtotal, compared with the role's limit.
    discount_percent = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal("0"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approval_note = models.TextField(_("approval note"), blank=True)
    # The customer's accept/decline link carries this token.
    token = models.CharField(max_length=64, unique=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    sent_to = models.CharField(_("sent to"), max_length=254, blank=True)
    responded_at = models.DateTimeField(_("customer answered"), null=True, blank=True)
    decline_reason = models.TextField(_("decline reason"), blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        constraints = [
            models.UniqueConstraint(fields=["number", "revision"], name="quote_number_revision")
        ]
        indexes = [models.Index(fields=["deal", "-revision"], name="quote_deal_idx")]

    def __str__(self) -> str:
        return f"{self.number} v{self.revision}"

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def net(self) -> Decimal:
        """The total after every discount and before tax: the sale's value, as deal amounts
        (quantity × list price, tax excluded) and order revenue count it."""
        return self.subtotal - self.discount_total


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(_("description"), max_length=500)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=3, validators=[MinValueValidator(0)]
    )
    price = models.DecimalField(_("price"), **MONEY, validators=[MinValueValidator(0)])
    discount_kind = models.CharField(
        _("discount"), max_length=10, choices=DiscountKind.choices, blank=True
    )
    discount_value = models.DecimalField(
        _("discount value"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    tax_rate = models.DecimalField(
        _("tax rate, %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    # Unit cost in the company currency when the line was priced (for margins of the order).
    cost = models.DecimalField(_("cost"), **MONEY, default=Decimal("0"))
    # quantity × price − line discount − its share of the document discount, before tax.
    net = models.DecimalField(**MONEY, default=Decimal("0"))
    discount_amount = models.DecimalField(**MONEY, default=Decimal("0"))
    tax = models.DecimalField(**MONEY, default=Decimal("0"))

    class Meta:
        ordering = ["position", "id"]


class QuoteApproval(models.Model):
    """Every request for, and decision on, a discount above the limit: who, when, what."""

    class Decision(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="approvals")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    discount_percent = models.DecimalField(max_digits=7, decimal_places=2)
    limit_percent = models.DecimalField(max_digits=7, decimal_places=2)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
