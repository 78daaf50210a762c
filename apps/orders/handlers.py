"""How the order service reacts to other services' events. Each runs in the inbox transaction."""

from apps.events.contracts import Envelope, ProductChanged, StockAvailable
from apps.events.replicas import replica_apply
from apps.orders.events import DATABASE
from apps.orders.models import CatalogProduct
from apps.orders.services import order_create_from_reservation, order_give_up


def on_product_changed(event: ProductChanged, envelope: Envelope) -> None:
    replica_apply(
        CatalogProduct,
        using=DATABASE,
        key={"sku": event.sku},
        version=event.version,
        fields={"name": event.name, "price": event.price, "deleted": event.deleted},
    )


def on_stock_available(event: StockAvailable, envelope: Envelope) -> None:
    order_create_from_reservation(
        cart_id=event.cart_id, customer_id=event.customer_id, items=list(event.items), attempt=event.attempt
    )


def on_stock_available_given_up(event: StockAvailable, envelope: Envelope, error: str) -> None:
    """No order can be made for the reserved stock (a price that never arrived, a bug): the stock
    goes back, the cart is unlocked and the customer told, through order.failed."""
    order_give_up(
        cart_id=event.cart_id,
        customer_id=event.customer_id,
        items=list(event.items),
        attempt=event.attempt,
        error=error,
    )


HANDLERS = {
    ProductChanged.topic: on_product_changed,
    StockAvailable.topic: on_stock_available,
}

GIVE_UP_HOOKS = {StockAvailable.topic: on_stock_available_given_up}
