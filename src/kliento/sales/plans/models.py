"""Sales targets for a period at every level of the team hierarchy, and reps' forecasts."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kliento.sales.catalog.models import MONEY


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")


class Metric(models.TextChoices):
    DEALS_WON = "deals_won", _("Won deals")
    ORDERS = "orders", _("Order revenue")


class CascadeMethod(models.TextChoices):
    EVEN = "even", _("Evenly")
    WEIGHTS = "weights", _("By weights")
    LAST_YEAR = "last_year", _("By last year's share")
    MANUAL = "manual", _("Set by hand")


class SalesTarget(models.Model):
    """A target for one team or one user (exactly one of them) in one period, company currency."""

    period_kind = models.CharField(_("period"), max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField(_("period start"))
    metric = models.CharField(
        _("measured by"), max_length=20, choices=Metric.choices, default=Metric.DEALS_WON
    )
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
    amount = models.DecimalField(
        _("target"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    # The owner's own forecast for the period (reps enter theirs; teams' roll up).
    forecast = models.DecimalField(
        _("forecast"), **MONEY, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    # The target this one was cascaded from, and how.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    method = models.CharField(
        _("cascade method"), max_length=10, choices=CascadeMethod.choices, default="manual"
    )
    weight = models.DecimalField(_("weight"), max_digits=9, decimal_places=4, null=True, blank=True)
    adjusted = models.BooleanField(_("adjusted by its owner"), default=False)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["period_start", "id"]
        verbose_name = _("sales target")
        verbose_name_plural = _("sales targets")
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True, user__isnull=False)
                | Q(team__isnull=False, user__isnull=True),
                name="target_team_xor_user",
            ),
            models.UniqueConstraint(
                fields=["period_kind", "period_start", "metric", "team"],
                condition=Q(team__isnull=False),
                name="target_team_period_uniq",
            ),
            models.UniqueConstraint(
                fields=["period_kind", "period_start", "metric", "user"],
                condition=Q(user__isnull=False),
                name="target_user_period_uniq",
            ),
        ]

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'
