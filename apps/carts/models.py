import uuid

from django.db import models

from apps.carts.enums import CartStatus
from apps.events.replicas import Replica


class Cart(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(db_index=True)
    status = models.CharField(max_length=20, choices=CartStatus.choices, default=CartStatus.ACTIVE)
    cart_locked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    # How many times the cart was converted: the attempt its order-requested carries, so that a
    # rejection of an earlier attempt (a dead letter replayed late) does not unlock this one.
    conversions = models.PositiveIntegerField(default=0)
    # Why a stock-unavailable cart was unlocked (a stock.rejected reason); blank otherwise.
    status_reason = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # At most one active (unlocked) cart per customer.
            models.UniqueConstraint(
                fields=["customer_id"],
                condition=models.Q(cart_locked=False),
                name="cart_one_unlocked_per_customer",
            ),
            models.CheckConstraint(
                condition=models.Q(cart_locked=True)
                | models.Q(status__in=[CartStatus.ACTIVE, CartStatus.STOCK_UNAVAILABLE]),
                name="cart_locked_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"cart {self.id} ({self.status})"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product_sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("added_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["cart", "product_sku"], name="cart_item_one_line_per_sku"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="cart_item_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_sku}"


class CatalogProduct(Replica):
    """The cart service's copy of the catalog, kept from product.changed events."""

    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ("sku",)

    def __str__(self) -> str:
        return self.sku
