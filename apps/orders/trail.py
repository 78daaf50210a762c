"""The order service's part of a cart's timeline: the order made for it, its history, or why none was made."""

from collections.abc import Mapping
from uuid import UUID

from apps.events.trail import Entry, Kind
from apps.orders.events import DATABASE
from apps.orders.models import Order, OrderFailure, OrderStatusChange
from shop.errors import NotFound
from shop.observability.timeline import Timeline, remote_timeline
from shop.registry import get_service

SERVICE = "order"


def trail(correlation_id: UUID) -> list[Entry]:
    entries = []
    order = Order.objects.using(DATABASE).filter(cart_id=correlation_id).first()
    if order is not None:
        for change in OrderStatusChange.objects.using(DATABASE).filter(order=order).order_by("changed_at", "id"):
            details = f"order {order.id}" + (f"; {change.reason}" if change.reason else "")
            if not change.from_status:
                details += f"; total {order.total_amount}"
            entries.append(
                Entry(change.changed_at, SERVICE, Kind.STATE, f"order {change.to_status}", change.to_status, details)
            )
    for failure in OrderFailure.objects.using(DATABASE).filter(cart_id=correlation_id).order_by("created_at"):
        entries.append(
            Entry(
                failure.created_at,
                SERVICE,
                Kind.STATE,
                "order could not be made",
                "failed",
                f"attempt {failure.attempt}; {failure.error[:300]}",
            )
        )
    return entries


def correlation_of_order(order_id: UUID) -> UUID | None:
    """An order's correlation id: the cart (or POST /orders request) it was made for."""
    return Order.objects.using(DATABASE).filter(id=order_id).values_list("cart_id", flat=True).first()


def order_timeline(*, order_id: UUID, headers: Mapping[str, str]) -> Timeline:
    """The order's cart's timeline across every service: this service's part read here, the others asked
    over HTTP with ``headers`` (the caller's staff credential). A service that cannot be asked is named in
    ``missing``."""
    correlation_id = correlation_of_order(order_id)
    if correlation_id is None:
        raise NotFound(f"No order with id {order_id}.")
    return remote_timeline(correlation_id, here=get_service(SERVICE), headers=headers)
