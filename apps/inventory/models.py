from django.db import models

from apps.inventory.enums import MovementKind, ReservationStatus


class InventoryItem(models.Model):
    product_sku = models.CharField(max_length=64, primary_key=True)
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("product_sku",)
        verbose_name = "stock level"
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="inventory_quantity_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.product_sku}: {self.quantity}"


class StockMovement(models.Model):
    """Every change to a stock level, in the transaction that made it (append-only)."""

    product_sku = models.CharField(max_length=64, db_index=True)
    delta = models.IntegerField()
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.product_sku} {self.delta:+d} ({self.kind})"


class Reservation(models.Model):
    """What inventory decided for one converted cart; it makes reserving and returning happen once."""

    cart_id = models.UUIDField(primary_key=True)
    customer_id = models.UUIDField()
    status = models.CharField(max_length=10, choices=ReservationStatus.choices)
    items = models.JSONField(help_text="[{product_sku, quantity}] as reserved")
    # The cart's conversion this decision is about (0: not numbered); an earlier one's request or
    # failure, replayed late, is stale and changes nothing.
    attempt = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"cart {self.cart_id}: {self.status}"
