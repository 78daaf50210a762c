"""Order writes. Orders are only ever created from a stock reservation (stock-available)."""

from decimal import Decimal
from uuid import UUID, uuid4

from django.db import connections, transaction

from apps.events.contracts import Line, PricedLine
from apps.orders.enums import ALLOWED_TRANSITIONS, OrderStatus
from apps.orders.events import (
    DATABASE,
    record_direct_order_requested,
    record_order_cancelled,
    record_order_created,
    record_order_failed,
)
from apps.orders.models import CatalogProduct, Order, OrderFailure, OrderStatusChange
from shop.errors import Conflict, InvalidRequest, NotFound


class PriceUnknown(Exception):
    """The order service has not yet heard of a product it must price; retrying will help."""


# Whether the cart's order was made already (or this attempt given up on), and the catalog's prices
# of the order's SKUs, in one query: one row at least, the SKU and price NULL when none is known.
_DECIDED_AND_PRICES = """
SELECT decided.made, product.sku, product.price
FROM (
    SELECT EXISTS (SELECT 1 FROM orders_order WHERE cart_id = %(cart)s)
        OR EXISTS (SELECT 1 FROM orders_orderfailure WHERE cart_id = %(cart)s AND attempt = %(attempt)s) AS made
) AS decided
LEFT JOIN orders_catalogproduct AS product ON product.sku = ANY(%(skus)s)
"""
# The order, its lines and its first history entry, in one statement; ON CONFLICT on the cart keeps
# it one order per cart even against a concurrent attempt.
_CREATE = """
WITH new_order AS (
    INSERT INTO orders_order (id, customer_id, cart_id, status, total_amount, cancel_reason, created_at, updated_at)
    VALUES (%(order)s, %(customer)s, %(cart)s, %(status)s, %(total)s, '', now(), now())
    ON CONFLICT (cart_id) DO NOTHING
    RETURNING id, created_at
), lines AS (
    INSERT INTO orders_orderitem (order_id, product_sku, quantity, price)
    SELECT new_order.id, line.sku, line.quantity, line.price
    FROM new_order, unnest(%(skus)s::text[], %(quantities)s::int[], %(prices)s::numeric[])
        WITH ORDINALITY AS line (sku, quantity, price, position)
    ORDER BY line.position
), history AS (
    INSERT INTO orders_orderstatuschange (order_id, from_status, to_status, reason, changed_at)
    SELECT new_order.id, '', %(status)s, 'stock reserved', now() FROM new_order
)
SELECT created_at FROM new_order
"""


def order_create_from_reservation(
    *, cart_id: UUID, customer_id: UUID, items: list[Line], attempt: int | None = None
) -> Order | None:
    """Create the one order for a cart whose stock is reserved, priced from the catalog.

    Returns None when the cart has its order already, or when this attempt was given up on (its
    stock is back). Runs inside the handler's transaction: two statements and the outbox row.
    """
    skus = sorted({line.product_sku for line in items})
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(_DECIDED_AND_PRICES, {"cart": cart_id, "attempt": attempt or 0, "skus": skus})
        rows = cursor.fetchall()
        if rows[0][0]:
            return None
        prices = {sku: price for _, sku, price in rows if sku is not None}
        missing = set(skus) - prices.keys()
        if missing:
            raise PriceUnknown(f"no catalog price yet for {sorted(missing)}")
        lines = [PricedLine(product_sku=i.product_sku, quantity=i.quantity, price=prices[i.product_sku]) for i in items]
        total = sum((line.price * line.quantity for line in lines), Decimal("0.00"))
        order = Order(
            id=uuid4(), cart_id=cart_id, customer_id=customer_id, status=OrderStatus.CONFIRMED, total_amount=total
        )
        cursor.execute(
            _CREATE,
            {
                "order": order.id,
                "customer": customer_id,
                "cart": cart_id,
                "status": order.status,
                "total": total,
                "skus": [line.product_sku for line in lines],
                "quantities": [line.quantity for line in lines],
                "prices": [line.price for line in lines],
            },
        )
        created = cursor.fetchone()
    if created is None:  # a concurrent attempt made it a moment ago
        return None
    order.created_at = order.updated_at = created[0]
    order._state.adding, order._state.db = False, DATABASE
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
