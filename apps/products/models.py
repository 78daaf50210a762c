from django.db import models

from apps.events.contracts import MAX_PRICE


class Product(models.Model):
    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    # Grows with every change, across a delete and re-create of the same SKU too, so that the
    # services keeping a copy of the catalog apply changes in order: the catalog's version at the change.
    version = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("sku",)
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="product_price_not_negative"),
            # What an order of the most lines and units can be priced at and stored (the admin's forms check it too).
            models.CheckConstraint(
                condition=models.Q(price__lte=MAX_PRICE),
                name="product_price_at_most_max_price",
                violation_error_message=f"The price must be at most {MAX_PRICE}.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class CatalogVersion(models.Model):
    """The catalog's version: one row, moved past its last value by every catalog write, in its transaction.

    The row stays locked until that transaction ends, so writers take versions in the order they
    commit: a reader that sees version n has seen every change up to n and none after it. The products
    carry the version of their last change, and GET /products replays a page while it is unchanged.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.PositiveBigIntegerField()

    def __str__(self) -> str:
        return f"catalog version {self.version}"
