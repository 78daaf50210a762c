"""What the inventory service publishes: the outcome of a stock reservation."""

from uuid import UUID

from apps.events.contracts import Line, ShortfallLine, StockAvailable, StockRejected
from apps.events.outbox import record_event
from shop.registry import get_service

DATABASE = get_service("inventory").database
# What this service publishes (its consumers: HANDLERS in handlers.py); shop/topology.py joins the two.
PUBLISHES = (StockAvailable, StockRejected)


def record_stock_available(*, cart_id: UUID, customer_id: UUID, items: list[Line], attempt: int | None) -> None:
    event = StockAvailable(cart_id=cart_id, customer_id=customer_id, items=items, attempt=attempt)
    record_event(event, using=DATABASE, ordering_key=str(cart_id), correlation_id=cart_id)


def record_stock_rejected(
    *,
    cart_id: UUID,
    customer_id: UUID,
    details: list[ShortfallLine],
    attempt: int | None,
    reason: str = "insufficient_stock",
) -> None:
    event = StockRejected(cart_id=cart_id, customer_id=customer_id, details=details, attempt=attempt, reason=reason)
    record_event(event, using=DATABASE, ordering_key=str(cart_id), correlation_id=cart_id)
