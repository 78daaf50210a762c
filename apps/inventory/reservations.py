"""Reserving stock for a converted cart, all items or none, and returning it when cancelled.

Both run inside the consuming handler's transaction. Stock rows are locked in SKU order, so
concurrent reservations serialize per SKU without deadlocks and stock never goes negative.
"""

from collections import Counter
from uuid import UUID

from django.db.models import F

from apps.events.contracts import Line, ShortfallLine
from apps.inventory.enums import MovementKind, ReservationStatus
from apps.inventory.events import record_stock_available, record_stock_rejected
from apps.inventory.models import InventoryItem, Reservation, StockMovement


def stock_reserve(*, cart_id: UUID, customer_id: UUID, items: list[Line]) -> bool:
    """Reserve every item or none; publish stock-available or stock.rejected. True when reserved."""
    # Claim the cart's row first, inserting it if new: a concurrent request for the same cart then
    # waits on it and sees the outcome (a plain SELECT ... FOR UPDATE would lock no row for a new cart).
    decided, created = Reservation.objects.select_for_update().get_or_create(
        cart_id=cart_id, defaults={"customer_id": customer_id, "status": ReservationStatus.REJECTED, "items": []}
    )
    if not created and decided.status != ReservationStatus.REJECTED:
        return decided.status == ReservationStatus.RESERVED  # this cart has its outcome already
    wanted = Counter()
    for line in items:
        wanted[line.product_sku] += line.quantity
    stock = {
        item.product_sku: item.quantity
        for item in InventoryItem.objects.select_for_update().filter(product_sku__in=wanted).order_by("product_sku")
    }
    shortfall = [
        ShortfallLine(product_sku=sku, requested=quantity, available=stock.get(sku, 0))
        for sku, quantity in sorted(wanted.items())
        if stock.get(sku, 0) < quantity
    ]
    lines = [{"product_sku": sku, "quantity": quantity} for sku, quantity in sorted(wanted.items())]
    status = ReservationStatus.REJECTED if shortfall else ReservationStatus.RESERVED
    decided.customer_id, decided.status, decided.items = customer_id, status, lines
    decided.save(update_fields=["customer_id", "status", "items", "updated_at"])
    if shortfall:
        record_stock_rejected(cart_id=cart_id, customer_id=customer_id, details=shortfall)
        return False
    for sku, quantity in wanted.items():
        InventoryItem.objects.filter(product_sku=sku).update(quantity=F("quantity") - quantity)
    StockMovement.objects.bulk_create(
        StockMovement(product_sku=sku, delta=-quantity, kind=MovementKind.RESERVED, reference=f"cart:{cart_id}")
        for sku, quantity in wanted.items()
    )
    # What was reserved, one line per SKU: the order is made of exactly these lines.
    record_stock_available(cart_id=cart_id, customer_id=customer_id, items=[Line(**line) for line in lines])
    return True


def stock_return(*, cart_id: UUID, reference: str) -> bool:
    """Return a cancelled order's reserved items to stock, once. True when stock came back."""
    reservation = Reservation.objects.select_for_update().filter(cart_id=cart_id).first()
    if reservation is None or reservation.status != ReservationStatus.RESERVED:
        return False
    for line in sorted(reservation.items, key=lambda line: line["product_sku"]):
        sku, quantity = line["product_sku"], line["quantity"]
        updated = InventoryItem.objects.filter(product_sku=sku).update(quantity=F("quantity") + quantity)
        if not updated:  # the stock level was deleted meanwhile: the units still exist
            InventoryItem.objects.create(product_sku=sku, quantity=quantity)
        StockMovement.objects.create(product_sku=sku, delta=quantity, kind=MovementKind.RETURNED, reference=reference)
    reservation.status = ReservationStatus.RELEASED
    reservation.save(update_fields=["status", "updated_at"])
    return True
