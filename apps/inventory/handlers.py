"""How the inventory service reacts to other services' events. Each runs in the inbox transaction."""

from apps.events.contracts import Envelope, OrderCancelled, OrderFailed, OrderRequested
from apps.inventory.reservations import stock_release, stock_reserve, stock_reserve_given_up, stock_return


def on_order_requested(event: OrderRequested, envelope: Envelope) -> None:
    stock_reserve(cart_id=event.cart_id, customer_id=event.customer_id, items=list(event.items), attempt=event.attempt)


def on_order_cancelled(event: OrderCancelled, envelope: Envelope) -> None:
    stock_return(cart_id=event.cart_id, reference=f"order:{event.order_id}")


def on_order_failed(event: OrderFailed, envelope: Envelope) -> None:
    stock_release(cart_id=event.cart_id, attempt=event.attempt)


# Given up on (dead-lettered after the last retry), a step still ends the cart's saga, in the dead
# letter's transaction: a request is rejected (nothing was taken), stock held for an order that
# will not be made or was cancelled goes back. Each is decided once, so a replay finds it done.


def on_order_requested_given_up(event: OrderRequested, envelope: Envelope, error: str) -> None:
    stock_reserve_given_up(cart_id=event.cart_id, customer_id=event.customer_id, attempt=event.attempt)


def on_order_cancelled_given_up(event: OrderCancelled, envelope: Envelope, error: str) -> None:
    stock_return(cart_id=event.cart_id, reference=f"order:{event.order_id}")


def on_order_failed_given_up(event: OrderFailed, envelope: Envelope, error: str) -> None:
    stock_release(cart_id=event.cart_id, attempt=event.attempt)


HANDLERS = {
    OrderRequested.topic: on_order_requested,
    OrderCancelled.topic: on_order_cancelled,
    OrderFailed.topic: on_order_failed,
}

GIVE_UP_HOOKS = {
    OrderRequested.topic: on_order_requested_given_up,
    OrderCancelled.topic: on_order_cancelled_given_up,
    OrderFailed.topic: on_order_failed_given_up,
}
