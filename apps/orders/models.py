import uuid

from django.db import models

from apps.events.replicas import Replica
from apps.orders.enums import OrderStatus


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(db_index=True)
    # One order per converted cart, whatever the number of deliveries of stock-available.
    cart_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.CONFIRMED)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    cancel_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=models.Q(total_amount__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return f"order {self.id} ({self.status})"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product_sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_sku} @ {self.price}"


class OrderStatusChange(models.Model):
    """The order's history: every status it has had, and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("changed_at", "id")

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class OrderFailure(models.Model):
    """The order service gave up making the order for reserved stock (its stock-available was
    dead-lettered) and asked inventory to return the stock (order.failed). Kept per cart and
    attempt: that stock-available, replayed or redelivered later, makes no order."""

    cart_id = models.UUIDField()
    attempt = models.PositiveIntegerField(default=0)  # 0: the request was not numbered
    customer_id = models.UUIDField()
    items = models.JSONField(help_text="[{product_sku, quantity}] as reserved")
    error = models.TextField(help_text="why the order could not be made")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(fields=["cart_id", "attempt"], name="order_failure_one_per_attempt"),
        ]

    def __str__(self) -> str:
        return f"cart {self.cart_id} attempt {self.attempt}: {self.error[:60]}"


class CatalogProduct(Replica):
    """The order service's copy of catalog prices, kept from product.changed events."""

    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ("sku",)

    def __str__(self) -> str:
        return f"{self.sku} @ {self.price}"
