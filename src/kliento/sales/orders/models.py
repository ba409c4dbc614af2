"""Orders: the customer's transaction history, with exact amounts, costs and margins."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kliento.customers.models import Channel
from kliento.sales.catalog.models import MONEY


class OrderStatus(models.TextChoices):
    # A context keeps "New" from taking another app's (feminine) "Новая" in Russian.
    NEW = "new", pgettext_lazy("order status", "New")
    PAID = "paid", pgettext_lazy("order status", "Paid")
    SHIPPED = "shipped", pgettext_lazy("order status", "Shipped")
    CANCELLED = "cancelled", pgettext_lazy("order status", "Cancelled")
    RETURNED = "returned", pgettext_lazy("order status", "Returned")


# Orders that bring no revenue: left out of P&L, plan actuals and the product rollup.
NO_REVENUE_STATUSES = (OrderStatus.CANCELLED, OrderStatus.RETURNED)


class Order(models.Model):
    number = models.CharField(_("number"), max_length=30, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.NEW
    )
    ordered_at = models.DateTimeField(_("date"), default=timezone.now)
    channel = models.CharField(
        _("channel"), max_length=20, choices=Channel.choices, default=Channel.OTHER
    )
    contact = models.ForeignKey(
        "customers.Contact",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("contact"),
    )
    company = models.ForeignKey(
        "customers.Company",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("company"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    deal = models.ForeignKey(
        "deals.Deal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("deal"),
    )
    # At most one order per accepted quote.
    quote = models.OneToOneField(
        "quotes.Quote",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="order",
        verbose_name=_("quote"),
    )
    price_list = models.ForeignKey(
        "catalog.PriceList", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    currency = models.CharField(_("currency"), max_length=3)
    # Exact totals in the order currency (recomputed from the lines by the service).
    subtotal = models.DecimalField(_("subtotal"), **MONEY, default=Decimal("0"))
    discount_total = models.DecimalField(_("discounts"), **MONEY, default=Decimal("0"))
    tax_total = models.DecimalField(_("tax"), **MONEY, default=Decimal("0"))
    total = models.DecimalField(_("total"), **MONEY, default=Decimal("0"))
    # Net revenue (total − tax) and cost in the company currency; margin = revenue − cost.
    revenue_company = models.DecimalField(_("revenue"), **MONEY, default=Decimal("0"))
    cost_company = models.DecimalField(_("cost"), **MONEY, default=Decimal("0"))
    margin_company = models.DecimalField(_("margin"), **MONEY, default=Decimal("0"))
    note = models.TextField(_("note"), blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["contact", "-ordered_at"], name="order_contact_idx"),
            models.Index(fields=["company", "-ordered_at"], name="order_company_idx"),
            models.Index(fields=["owner", "-ordered_at", "-id"], name="order_owner_idx"),
            models.Index(fields=["-ordered_at", "-id"], name="order_time_idx"),
            models.Index(fields=["status", "ordered_at"], name="order_status_idx"),
            # P&L by company or contact, and the orders behind P&L by product, read from the
            # index alone: every column those reports filter on or add up.
            models.Index(
                fields=[
                    "ordered_at",
                    "status",
                    "owner",
                    "currency",
                    "total",
                    "tax_total",
                    "discount_total",
                    "revenue_company",
                    "cost_company",
                    "company",
                    "contact",
                ],
                name="order_pnl_cover_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    # Empty only for a free-text line copied from a quote; a direct order names a product.
    product = models.ForeignKey(
        "catalog.Product",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order_lines",
    )
    description = models.CharField(_("description"), max_length=500, blank=True)
    quantity = models.DecimalField(
        _("quantity"), max_digits=12, decimal_places=3, validators=[MinValueValidator(0)]
    )
    price = models.DecimalField(_("price"), **MONEY, validators=[MinValueValidator(0)])
    # The line's whole discount in the order currency (line and its share of the document's).
    discount = models.DecimalField(_("discount"), **MONEY, default=Decimal("0"))
    tax_rate = models.DecimalField(
        _("tax rate, %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    tax = models.DecimalField(**MONEY, default=Decimal("0"))
    net = models.DecimalField(**MONEY, default=Decimal("0"))
    # Unit cost in the company currency.
    cost = models.DecimalField(_("cost"), **MONEY, default=Decimal("0"))
    # `net` in the company currency at the order date's rate; the order's revenue is their sum,
    # so per-line and per-order analytics add up to the cent.
    revenue_company = models.DecimalField(_("revenue"), **MONEY, default=Decimal("0"))

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["product", "order"], name="orderline_product_idx"),
            # P&L by product reads an order's lines from the index alone.
            models.Index(
                fields=["order", "product", "quantity", "cost", "revenue_company", "discount"],
                name="orderline_pnl_cover_idx",
            ),
        ]


class ProductMonth(models.Model):
    """Order lines added up per month, owner and product: what P&L by product reads for the
    whole months of its period instead of millions of lines.

    Kept exact by `kliento.sales.orders.rollup`: every write of an order recomputes its
    (month, owner) in the same transaction; `kliento manage pnl_rollup` rebuilds it all.
    Months are those of the company time zone (TIME_ZONE). Orders that bring no revenue
    (cancelled, returned) are left out, as in the report.
    """

    month = models.DateField()  # its first day
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The product's id, 0 for lines without a product (a unique key can't hold NULL on SQLite),
    # -1 for the (month, owner)'s number of orders, each counted once (its sums stay zero).
    product_key = models.BigIntegerField()
    orders = models.PositiveIntegerField(default=0)
    quantity = models.DecimalField(max_digits=20, decimal_places=3, default=Decimal("0"))
    revenue = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    # Σ quantity × unit cost and Σ discounts in the company currency, kept unrounded.
    cost = models.DecimalField(max_digits=26, decimal_places=5, default=Decimal("0"))
    discounts = models.DecimalField(max_digits=30, decimal_places=10, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "owner", "product_key"], name="productmonth_key"
            )
        ]
