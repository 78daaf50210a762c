"""What the order service publishes."""

from uuid import UUID, uuid4

from apps.events.contracts import Line, OrderCancelled, OrderCreated, OrderFailed, OrderRequested, PricedLine
from apps.events.outbox import record_event
from apps.orders.models import Order, OrderFailure
from shop.registry import get_service

DATABASE = get_service("order").database
# What this service publishes (its consumers: HANDLERS in handlers.py); shop/topology.py joins the two.
PUBLISHES = (OrderRequested, OrderCreated, OrderCancelled, OrderFailed)


def record_order_created(order: Order, lines: list[PricedLine]) -> None:
    """``lines``: the order's items as just written (nothing is read back)."""
    event = OrderCreated(
        order_id=order.id,
        cart_id=order.cart_id,
        customer_id=order.customer_id,
        total_amount=order.total_amount,
        items=lines,
    )
    record_event(event, using=DATABASE, ordering_key=str(order.id), correlation_id=order.cart_id)


def record_order_cancelled(order: Order) -> None:
    event = OrderCancelled(
        order_id=order.id,
        cart_id=order.cart_id,
        customer_id=order.customer_id,
        reason=order.cancel_reason,
        items=[Line(product_sku=i.product_sku, quantity=i.quantity) for i in order.items.all()],
    )
    record_event(event, using=DATABASE, ordering_key=str(order.id), correlation_id=order.cart_id)


def record_order_failed(failure: OrderFailure) -> None:
    event = OrderFailed(
        cart_id=failure.cart_id,
        customer_id=failure.customer_id,
        reason="the order could not be made",
        items=[Line(**line) for line in failure.items],
        attempt=failure.attempt or None,
    )
    record_event(event, using=DATABASE, ordering_key=str(failure.cart_id), correlation_id=failure.cart_id)


def record_direct_order_requested(*, customer_id: UUID, items: list[Line]) -> UUID:
    """POST /orders: ask inventory for stock like a converted cart would; the id stands in for a cart."""
    request_id = uuid4()
    event = OrderRequested(cart_id=request_id, customer_id=customer_id, items=items)
    record_event(event, using=DATABASE, ordering_key=str(request_id), correlation_id=request_id)
    return request_id
