"""What the cart service publishes: a converted cart asks inventory for its stock."""

from apps.carts.models import Cart
from apps.events.contracts import Line, OrderRequested
from apps.events.outbox import record_event
from shop.registry import get_service

DATABASE = get_service("cart").database
# What this service publishes (its consumers: HANDLERS in handlers.py); shop/topology.py joins the two.
PUBLISHES = (OrderRequested,)


def record_order_requested(cart: Cart) -> None:
    event = OrderRequested(
        cart_id=cart.id,
        customer_id=cart.customer_id,
        items=[Line(product_sku=i.product_sku, quantity=i.quantity) for i in cart.items.all()],
        attempt=cart.conversions,
    )
    record_event(event, using=DATABASE, ordering_key=str(cart.id), correlation_id=cart.id)
