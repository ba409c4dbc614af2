"""Products, price lists, currency rates and the discount limit of each role."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kliento.core.models import Role

MONEY = {"max_digits": 16, "decimal_places": 2}
# The largest amount accepted: SQLite keeps 15 significant digits of a decimal, and a value
# past them reads back rounded up to one digit more than MONEY allows.
MAX_MONEY = Decimal("9999999999999.99")


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=255)
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    unit = models.CharField(_("unit"), max_length=20, default="pcs")
    description = models.TextField(_("description"), blank=True)
    # What one unit costs the company, in the company currency (for margins).
    cost = models.DecimalField(
        _("cost"), **MONEY, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    tax_rate = models.DecimalField(
        _("tax rate, %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [models.Index(fields=["active", "name", "id"], name="product_active_name_idx")]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


class PriceList(models.Model):
    """Prices for a customer segment, region or channel, in one currency, for a period."""

    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3)
    segment = models.CharField(_("customer segment"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("price list")
        verbose_name_plural = _("price lists")

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    def is_valid_on(self, day) -> bool:
        if not self.active:
            return False
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_to and day > self.valid_to)


class PriceListItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="prices")
    price = models.DecimalField(_("price"), **MONEY, validators=[MinValueValidator(0)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["price_list", "product"], name="pricelist_product_uniq")
        ]


class CurrencyRate(models.Model):
    """How many units of the company currency one unit of `currency` buys, from a date on."""

    currency = models.CharField(_("currency"), max_length=3)
    rate = models.DecimalField(
        _("rate"), max_digits=18, decimal_places=6, validators=[MinValueValidator(0)]
    )
    valid_from = models.DateField(_("valid from"), default=timezone.localdate)

    class Meta:
        ordering = ["currency", "-valid_from"]
        verbose_name = _("currency rate")
        verbose_name_plural = _("currency rates")
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="rate_currency_day")
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} ({self.valid_from})"


class DiscountLimit(models.Model):
    """The largest discount (percent of the document) a role may give without approval."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, unique=True)
    max_percent = models.DecimalField(
        _("maximum discount, %"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )

    class Meta:
        ordering = ["role"]
        verbose_name = _("discount limit")
        verbose_name_plural = _("discount limits")

    def __str__(self) -> str:
        return f"{self.role}: {self.max_percent}%"
