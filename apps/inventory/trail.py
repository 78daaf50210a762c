"""The inventory service's part of a cart's timeline: its reservation and the stock it moved."""

from datetime import timedelta
from uuid import UUID

from apps.events.trail import MAX_ROWS, Entry, Kind
from apps.inventory.events import DATABASE
from apps.inventory.models import Reservation, StockMovement

SERVICE = "inventory"


def trail(correlation_id: UUID) -> list[Entry]:
    """What inventory decided for the cart (the reservation, and its last change), and the stock movements
    made for it (reserved, released: those referenced ``cart:<id>``; a cancelled order's return is
    referenced by the order and shows as the reservation's change to ``released``)."""
    entries = []
    reservation = Reservation.objects.using(DATABASE).filter(cart_id=correlation_id).first()
    if reservation is not None:
        lines = ", ".join(f"{line['quantity']} x {line['product_sku']}" for line in reservation.items)
        details = f"attempt {reservation.attempt}; {lines}"
        if reservation.updated_at - reservation.created_at < timedelta(milliseconds=10):  # decided, not changed since
            entries.append(
                Entry(
                    reservation.created_at,
                    SERVICE,
                    Kind.STATE,
                    f"reservation {reservation.status}",
                    reservation.status,
                    details,
                )
            )
        else:  # decided, then changed (released, rejected after a failure, or decided again for a later attempt)
            entries.append(Entry(reservation.created_at, SERVICE, Kind.STATE, "reservation decided", "", details))
            entries.append(
                Entry(
                    reservation.updated_at, SERVICE, Kind.STATE, f"reservation {reservation.status}", reservation.status
                )
            )
    # (The ledger has no index on its reference: this reads it whole, which an operator's look-up can afford.)
    movements = StockMovement.objects.using(DATABASE).filter(reference=f"cart:{correlation_id}").order_by("id")
    for movement in movements[:MAX_ROWS]:
        entries.append(
            Entry(
                movement.created_at,
                SERVICE,
                Kind.STATE,
                f"stock {movement.kind}",
                f"{movement.delta:+d}",
                f"{movement.product_sku} ({movement.reference})",
            )
        )
    return entries
