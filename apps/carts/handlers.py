"""How the cart service reacts to other services' events. Each runs in the inbox transaction."""

from apps.carts.events import DATABASE
from apps.carts.models import CatalogProduct
from apps.carts.services import cart_mark_ordered, cart_unlock_rejected
from apps.events.contracts import Envelope, OrderCreated, ProductChanged, StockRejected
from apps.events.replicas import replica_apply


def on_product_changed(event: ProductChanged, envelope: Envelope) -> None:
    replica_apply(
        CatalogProduct,
        using=DATABASE,
        key={"sku": event.sku},
        version=event.version,
        fields={"name": event.name, "price": event.price, "deleted": event.deleted},
    )


def on_stock_rejected(event: StockRejected, envelope: Envelope) -> None:
    """The cart can be edited and converted again."""
    cart_unlock_rejected(cart_id=event.cart_id, reason=event.reason, attempt=event.attempt)


def on_order_created(event: OrderCreated, envelope: Envelope) -> None:
    """The cart's outcome is final."""
    cart_mark_ordered(cart_id=event.cart_id)


# Given up on (dead-lettered after the last retry), a rejection or an order still decides the cart:
# the smallest write that ends its saga, in the dead letter's transaction. A replay finds it done.


def on_stock_rejected_given_up(event: StockRejected, envelope: Envelope, error: str) -> None:
    cart_unlock_rejected(cart_id=event.cart_id, reason=event.reason, attempt=event.attempt)


def on_order_created_given_up(event: OrderCreated, envelope: Envelope, error: str) -> None:
    cart_mark_ordered(cart_id=event.cart_id)


HANDLERS = {
    ProductChanged.topic: on_product_changed,
    StockRejected.topic: on_stock_rejected,
    OrderCreated.topic: on_order_created,
}

GIVE_UP_HOOKS = {
    StockRejected.topic: on_stock_rejected_given_up,
    OrderCreated.topic: on_order_created_given_up,
}
