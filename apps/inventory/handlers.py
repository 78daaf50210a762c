"""How the inventory service reacts to other services' events. Each runs in the inbox transaction."""

from apps.events.contracts import Envelope, OrderCancelled, OrderRequested
from apps.inventory.reservations import stock_reserve, stock_return


def on_order_requested(event: OrderRequested, envelope: Envelope) -> None:
    stock_reserve(cart_id=event.cart_id, customer_id=event.customer_id, items=list(event.items))


def on_order_cancelled(event: OrderCancelled, envelope: Envelope) -> None:
    stock_return(cart_id=event.cart_id, reference=f"order:{event.order_id}")


HANDLERS = {
    OrderRequested.topic: on_order_requested,
    OrderCancelled.topic: on_order_cancelled,
}
