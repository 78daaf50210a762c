import uuid

import factory

from apps.events.contracts import Line, OrderCancelled, OrderRequested
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


# --- The events inventory consumes ---------------------------------------------------------------


def lines(*pairs: tuple[str, int]) -> list[Line]:
    return [Line(product_sku=sku, quantity=quantity) for sku, quantity in pairs]


def order_requested(*pairs: tuple[str, int], cart_id=None, customer_id=None) -> OrderRequested:
    """order_requested(("LAP-001", 2), ("PHN-001", 1)): a converted cart asking for stock."""
    return OrderRequested(
        cart_id=cart_id or uuid.uuid4(),
        customer_id=customer_id or uuid.uuid4(),
        items=lines(*pairs),
    )


def order_cancelled(requested: OrderRequested, *, items=None, order_id=None) -> OrderCancelled:
    """The cancellation of the order made for ``requested``'s cart (its items unless given)."""
    return OrderCancelled(
        order_id=order_id or uuid.uuid4(),
        cart_id=requested.cart_id,
        customer_id=requested.customer_id,
        reason="cancelled by the customer",
        items=requested.items if items is None else lines(*items),
    )
