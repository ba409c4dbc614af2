"""Pipelines, their stages, deals and the history of every stage change."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kliento.sales.catalog.models import MONEY


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_default = models.BooleanField(_("default"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("win probability, %"), default=10, validators=[MaxValueValidator(100)]
    )
    # A deal that sits here longer than this is marked on the board (None: no limit).
    expected_days = models.PositiveIntegerField(_("expected days in stage"), null=True, blank=True)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    def __str__(self) -> str:
        return self.name


class LossReason(models.Model):
    name = models.CharField(_("name"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("loss reason")
        verbose_name_plural = _("loss reasons")

    def __str__(self) -> str:
        return self.name


class DealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", pgettext_lazy("forecast category", "Pipeline")
    BEST_CASE = "best_case", pgettext_lazy("forecast category", "Best case")
    COMMIT = "commit", pgettext_lazy("forecast category", "Commit")
    OMITTED = "omitted", pgettext_lazy("forecast category", "Omitted")


class Deal(models.Model):
    name = models.CharField(_("name"), max_length=255)
    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="deals", verbose_name=_("pipeline")
    )
    stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, related_name="deals", verbose_name=_("stage")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN
    )
    amount = models.DecimalField(
        _("amount"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(_("currency"), max_length=3)
    # `amount` in the company currency at the rate of the day it was last set (for reports).
    amount_company = models.DecimalField(**MONEY, default=Decimal("0"))
    expected_close = models.DateField(_("expected close date"), null=True, blank=True)
    forecast_category = models.CharField(
        _("forecast category"),
        max_length=20,
        choices=ForecastCategory.choices,
        default=ForecastCategory.PIPELINE,
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        verbose_name=_("contact"),
    )
    company = models.ForeignKey(
        "customers.Company",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
        verbose_name=_("company"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    price_list = models.ForeignKey(
        "catalog.PriceList",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("price list"),
    )
    competitors = models.CharField(_("competitors"), max_length=500, blank=True)
    next_step = models.CharField(_("next step"), max_length=255, blank=True)
    next_step_at = models.DateField(_("next step date"), null=True, blank=True)
    loss_reason = models.ForeignKey(
        LossReason,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("loss reason"),
    )
    loss_note = models.TextField(_("loss note"), blank=True)
    stage_entered_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=50, blank=True)
    tags = models.CharField(_("tags"), max_length=500, blank=True, default="")
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [
            # The kanban board: a pipeline's open deals, column by column, highest amount
            # first. The trailing owner makes it covering for the visibility filter: a rep's
            # column totals and cards never touch the table rows of other people's deals.
            models.Index(
                fields=["pipeline", "status", "stage", "-amount_company", "id", "owner"],
                name="deal_board_owner_idx",
            ),
            models.Index(fields=["owner", "status", "-updated_at", "id"], name="deal_owner_idx"),
            # The reports read only index entries, never table rows (covering indexes):
            # the forecast's open deals by expected close date…
            models.Index(
                fields=[
                    "status",
                    "expected_close",
                    "pipeline",
                    "owner",
                    "stage",
                    "forecast_category",
                    "amount_company",
                ],
                name="deal_forecast_cover_idx",
            ),
            # …and the won/lost deals by close date (forecast won, sales cycle).
            models.Index(
                fields=[
                    "status",
                    "closed_at",
                    "pipeline",
                    "owner",
                    "stage",
                    "amount_company",
                    "created_at",
                ],
                name="deal_closed_cover_idx",
            ),
            # …and the deals created in a period (sales cycle by creation date, deals created
            # in the activity report).
            models.Index(
                fields=[
                    "created_at",
                    "pipeline",
                    "owner",
                    "status",
                    "stage",
                    "closed_at",
                    "amount_company",
                ],
                name="deal_created_cover_idx",
            ),
            models.Index(fields=["-updated_at", "-id"], name="deal_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def days_in_stage(self) -> int:
        return (timezone.now() - self.stage_entered_at).days

    @property
    def is_stale(self) -> bool:
        """Open and in its stage longer than the stage expects."""
        expected = self.stage.expected_days
        return bool(self.status == DealStatus.OPEN and expected and self.days_in_stage > expected)


class DealProduct(models.Model):
    """A product the deal is about (quotes price them; this is the deal's own list)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="products")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=3, default=Decimal("1")
    )
    price = models.DecimalField(_("price"), **MONEY, default=Decimal("0"))

    class Meta:
        ordering = ["id"]

    @property
    def total(self) -> Decimal:
        return (self.quantity * self.price).quantize(Decimal("0.01"))


class StageChange(models.Model):
    """One move of a deal: into a stage, or to won/lost. The data of sales-cycle analysis."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="+")
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    # Status after the change: open for a move, won/lost for closing.
    status = models.CharField(max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN)
    at = models.DateTimeField(default=timezone.now)
    # How long the deal spent in from_stage (seconds), so reports need no window functions.
    seconds_in_from = models.BigIntegerField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["deal", "at"], name="stagechange_deal_idx"),
            models.Index(fields=["pipeline", "at"], name="stagechange_pipeline_idx"),
            models.Index(fields=["user", "at"], name="stagechange_user_idx"),
            # Time in stage of a deal's moves, read from the index alone (sales cycle).
            models.Index(
                fields=["deal", "seconds_in_from", "from_stage"], name="stagechange_cycle_idx"
            ),
        ]
