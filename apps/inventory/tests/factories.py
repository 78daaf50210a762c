import factory

from apps.inventory.enums import MovementKind
from apps.inventory.models import InventoryItem, StockMovement


class InventoryItemFactory(factory.django.DjangoModelFactory):
    """A stock level written straight to the table: no ledger row (use the services for that)."""

    class Meta:
        model = InventoryItem
        database = "inventory"

    product_sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    quantity = 10


class StockMovementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockMovement
        database = "inventory"

    product_sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    delta = 10
    kind = MovementKind.ADJUSTED
    reference = "test"
