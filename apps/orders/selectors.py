from uuid import UUID

from django.db.models import QuerySet

from apps.orders.models import Order
from shop.errors import NotFound


def order_list(
    *,
    customer_id: UUID | None = None,
    cart_id: UUID | None = None,
    status: str | None = None,
) -> QuerySet[Order]:
    orders = Order.objects.prefetch_related("items")
    if customer_id is not None:
        orders = orders.filter(customer_id=customer_id)
    if cart_id is not None:
        orders = orders.filter(cart_id=cart_id)
    if status:
        orders = orders.filter(status=status)
    return orders


def order_get(*, order_id: UUID, customer_id: UUID | None = None) -> Order:
    """The order; a customer asking (``customer_id``) sees only their own."""
    orders = Order.objects.prefetch_related("items", "history")
    if customer_id is not None:
        orders = orders.filter(customer_id=customer_id)
    try:
        return orders.get(id=order_id)
    except Order.DoesNotExist:
        raise NotFound(f"No order with id {order_id}.") from None
