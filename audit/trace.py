"""``manage.py trace <id>``: one cart's life across every service, read as the audit reads them.

The id may be a cart's, an order's or a correlation id (which is the cart's, or a ``POST /orders``
request's). Each service's part is read through its own connection (``shop.observability.timeline``:
its outbox, inbox and dead letters, and its own state), and the parts are merged in time order.
"""

from __future__ import annotations

from uuid import UUID

from apps.carts.trail import is_cart
from apps.events.trail import Entry
from apps.orders.trail import correlation_of_order
from shop.observability.timeline import Timeline, local_timeline


def resolve(identifier: UUID) -> tuple[UUID, str]:
    """(the correlation id, what ``identifier`` turned out to be: "order", "cart" or "correlation id")."""
    cart_id = correlation_of_order(identifier)
    if cart_id is not None:
        return cart_id, "order"
    if is_cart(identifier):
        return identifier, "cart"
    return identifier, "correlation id"


def trace(identifier: UUID) -> tuple[Timeline, str]:
    correlation_id, kind = resolve(identifier)
    return local_timeline(correlation_id), kind


COLUMNS = ("time (UTC)", "+ms", "service", "kind", "what", "outcome", "details", "event id")


def table(entries: list[Entry]) -> list[str]:
    """The entries as a plain-text table: one line each, the time since the first in milliseconds."""
    if not entries:
        return []
    start = entries[0].at
    rows = [
        (
            entry.at.strftime("%H:%M:%S.%f")[:-3],
            f"{(entry.at - start).total_seconds() * 1000:.0f}",
            entry.service,
            entry.kind,
            entry.what,
            entry.outcome,
            entry.details,
            entry.event_id,
        )
        for entry in entries
    ]
    widths = [max(len(str(row[i])) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 2)]
    lines = []
    for row in [COLUMNS, *rows]:
        fixed = "  ".join(str(cell).ljust(width) for cell, width in zip(row[:-2], widths, strict=False))
        lines.append(f"{fixed}  {row[-2]}  {row[-1]}".rstrip())
    return lines
