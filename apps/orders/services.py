"""Order writes. Orders are only ever created from a stock reservation (stock-available)."""

from decimal import Decimal
from uuid import UUID

from django.db import transaction

from apps.events.contracts import Line
from apps.orders.enums import ALLOWED_TRANSITIONS, OrderStatus
from apps.orders.events import (
    DATABASE,
    record_direct_order_requested,
    record_order_cancelled,
    record_order_created,
    record_order_failed,
)
from apps.orders.models import CatalogProduct, Order, OrderFailure, OrderItem, OrderStatusChange
from shop.errors import Conflict, InvalidRequest, NotFound


class PriceUnknown(Exception):
    """The order service has not yet heard of a product it must price; retrying will help."""


def order_create_from_reservation(
    *, cart_id: UUID, customer_id: UUID, items: list[Line], attempt: int | None = None
) -> Order | None:
    """Create the one order for a cart whose stock is reserved, priced from the catalog.

    Returns None when the cart has its order already, or when this attempt was given up on (its
    stock is back). Runs inside the handler's transaction.
    """
    decided = (
        Order.objects.filter(cart_id=cart_id)
        .values("pk")
        .union(OrderFailure.objects.filter(cart_id=cart_id, attempt=attempt or 0).values("pk"), all=True)
    )
    if decided.exists():  # made already, or this attempt was given up on: one query for both
        return None
    skus = {line.product_sku for line in items}
    prices = dict(CatalogProduct.objects.filter(sku__in=skus).values_list("sku", "price"))
    missing = skus - prices.keys()
    if missing:
        raise PriceUnknown(f"no catalog price yet for {sorted(missing)}")
    total = sum((prices[line.product_sku] * line.quantity for line in items), Decimal("0.00"))
    order = Order.objects.create(cart_id=cart_id, customer_id=customer_id, total_amount=total)
    lines = OrderItem.objects.bulk_create(
        OrderItem(order=order, product_sku=line.product_sku, quantity=line.quantity, price=prices[line.product_sku])
        for line in items
    )
    OrderStatusChange.objects.create(order=order, to_status=OrderStatus.CONFIRMED, reason="stock reserved")
    record_order_created(order, lines)
    return order


def order_give_up(*, cart_id: UUID, customer_id: UUID, items: list[Line], attempt: int | None, error: str) -> bool:
    """The order for reserved stock cannot be made (its stock-available is dead-lettered): record it
    and ask inventory for the stock back (order.failed), once. False when the order exists after all.

    Runs in the dead letter's transaction, after the inbox row: a concurrent attempt at the same
    event has committed by then, so its order is seen.
    """
    if Order.objects.filter(cart_id=cart_id).exists():
        return False
    failure, created = OrderFailure.objects.get_or_create(
        cart_id=cart_id,
        attempt=attempt or 0,
        defaults={
            "customer_id": customer_id,
            "items": [line.model_dump(mode="json") for line in items],
            "error": error[:10_000],
        },
    )
    if created:
        record_order_failed(failure)
    return created


def order_request(*, customer_id: UUID, items: list[Line]) -> UUID:
    """Ask for an order without a cart; it is created, or not, by the same stock reservation."""
    unknown = {line.product_sku for line in items} - set(
        CatalogProduct.objects.filter(sku__in=[line.product_sku for line in items], deleted=False).values_list(
            "sku", flat=True
        )
    )
    if unknown:
        raise NotFound(f"Unknown product SKU(s): {', '.join(sorted(unknown))}.", field="items")
    with transaction.atomic(using=DATABASE):
        return record_direct_order_requested(customer_id=customer_id, items=items)


def order_change_status(*, order_id: UUID, status: str, reason: str = "", customer_id: UUID | None = None) -> Order:
    """Move an order along its allowed transitions; cancelling publishes order.cancelled."""
    if status not in OrderStatus.values:
        raise InvalidRequest(f"Unknown status {status!r}.", field="status")
    with transaction.atomic(using=DATABASE):
        orders = Order.objects.select_for_update()
        if customer_id is not None:
            orders = orders.filter(customer_id=customer_id)
        order = orders.filter(id=order_id).first()
        if order is None:
            raise NotFound(f"No order with id {order_id}.")
        if status not in ALLOWED_TRANSITIONS[order.status]:
            raise Conflict(f"An order that is {order.status} cannot become {status}.", field="status")
        OrderStatusChange.objects.create(order=order, from_status=order.status, to_status=status, reason=reason)
        order.status = status
        if status == OrderStatus.CANCELLED:
            order.cancel_reason = reason or "cancelled"
        order.save(update_fields=["status", "cancel_reason", "updated_at"])
        if status == OrderStatus.CANCELLED:
            record_order_cancelled(order)
    return order


def order_cancel(*, order_id: UUID, reason: str = "", customer_id: UUID | None = None) -> Order:
    return order_change_status(
        order_id=order_id, status=OrderStatus.CANCELLED, reason=reason or "cancelled", customer_id=customer_id
    )
