"""Reserving stock for a converted cart, all items or none, and returning it when cancelled.

Both run inside the consuming handler's transaction. Stock rows are locked in SKU order, so
concurrent reservations serialize per SKU without deadlocks and stock never goes negative.

A cart may be converted again after a rejection; its requests are numbered (``attempt``), and a
request is decided once: one of an attempt already decided (a dead letter replayed late) is stale.
"""

import json
from collections import Counter
from uuid import UUID

from django.db import connections
from django.db.models import F

from apps.events.contracts import Line, ShortfallLine
from apps.inventory.enums import MovementKind, ReservationStatus
from apps.inventory.events import DATABASE, record_stock_available, record_stock_rejected
from apps.inventory.models import InventoryItem, Reservation, StockMovement


def stock_reserve(*, cart_id: UUID, customer_id: UUID, items: list[Line], attempt: int | None = None) -> bool:
    """Reserve every item or none; publish stock-available or stock.rejected. True when reserved.

    The stock rows are locked first (in SKU order) and the decision taken on them; a new cart's
    reservation is then inserted with it in one statement. A cart inventory has seen before (a
    duplicate, or a rejected cart asking again) is decided on its locked reservation instead.
    """
    wanted = Counter()
    for line in items:
        wanted[line.product_sku] += line.quantity
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(_LOCK_STOCK, [sorted(wanted)])
        stock = dict(cursor.fetchall())
    shortfall = [
        ShortfallLine(product_sku=sku, requested=quantity, available=stock.get(sku, 0))
        for sku, quantity in sorted(wanted.items())
        if stock.get(sku, 0) < quantity
    ]
    lines = [{"product_sku": sku, "quantity": quantity} for sku, quantity in sorted(wanted.items())]
    status = ReservationStatus.REJECTED if shortfall else ReservationStatus.RESERVED
    if not _decide_new(cart_id, customer_id, attempt, status, lines):
        decided, undecided = _claim(cart_id, customer_id, attempt)
        if not undecided:
            return decided.status == ReservationStatus.RESERVED  # this request has its outcome already
        _decide(decided, customer_id, attempt, status, lines)
    if shortfall:
        record_stock_rejected(cart_id=cart_id, customer_id=customer_id, details=shortfall, attempt=attempt)
        return False
    taken = sorted(wanted.items())
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(
            _TAKE,
            {
                "skus": [sku for sku, _ in taken],
                "quantities": [quantity for _, quantity in taken],
                "kind": MovementKind.RESERVED,
                "reference": f"cart:{cart_id}",
            },
        )
    # What was reserved, one line per SKU: the order is made of exactly these lines.
    record_stock_available(
        cart_id=cart_id, customer_id=customer_id, items=[Line(**line) for line in lines], attempt=attempt
    )
    return True


_LOCK_STOCK = """
SELECT product_sku, quantity FROM inventory_inventoryitem WHERE product_sku = ANY(%s) ORDER BY product_sku FOR UPDATE
"""
# Every reserved SKU's stock taken, and the stock ledger written, in one statement (the rows are
# locked already).
_TAKE = """
WITH taken AS (
    UPDATE inventory_inventoryitem AS item SET quantity = item.quantity - taken.quantity, updated_at = now()
    FROM unnest(%(skus)s::text[], %(quantities)s::int[]) AS taken (product_sku, quantity)
    WHERE item.product_sku = taken.product_sku
    RETURNING item.product_sku, taken.quantity
)
INSERT INTO inventory_stockmovement (product_sku, delta, kind, reference, created_at)
SELECT product_sku, -quantity, %(kind)s, %(reference)s, now() FROM taken
"""
_DECIDE_NEW = """
INSERT INTO inventory_reservation (cart_id, customer_id, status, items, attempt, created_at, updated_at)
VALUES (%s, %s, %s, %s::jsonb, %s, now(), now())
ON CONFLICT (cart_id) DO NOTHING
"""


def _decide_new(cart_id: UUID, customer_id: UUID, attempt: int | None, status: str, lines: list) -> bool:
    """Record the decision for a cart inventory has never seen; False when it has (nothing written)."""
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(_DECIDE_NEW, [cart_id, customer_id, status, json.dumps(lines), attempt or 0])
        return cursor.rowcount == 1


def stock_lock_for_batch(events: list) -> None:
    """Lock, in SKU order, the stock rows of every event of a batch before its handlers run.

    The batch's events run in one transaction; each handler locks its own SKUs in order, but two
    batches taking the same SKUs event by event could still lock them in opposite orders. Locked
    up front, all at once and sorted, they cannot deadlock.
    """
    skus = sorted({line.product_sku for event in events for line in getattr(event, "items", ())})
    if skus:
        with connections[DATABASE].cursor() as cursor:
            cursor.execute(_LOCK_STOCK, [skus])


def stock_reserve_given_up(*, cart_id: UUID, customer_id: UUID, attempt: int | None = None) -> bool:
    """The request could not be handled (dead-lettered): reject it, so the cart is unlocked and the
    customer told. Nothing was reserved. True when rejected here; False when it was decided already."""
    decided, undecided = _claim(cart_id, customer_id, attempt)
    if not undecided:
        return False
    _decide(decided, customer_id, attempt, ReservationStatus.REJECTED, [])
    record_stock_rejected(
        cart_id=cart_id, customer_id=customer_id, details=[], attempt=attempt, reason="reservation_failed"
    )
    return True


def stock_release(*, cart_id: UUID, attempt: int | None = None) -> bool:
    """The order service could not make the order: return the stock, once, and reject the request,
    so that the cart is unlocked (and may ask again) and the customer told. True when stock came back.

    Only the reservation of that attempt: a late failure of an earlier one changes nothing.
    """
    reservation = Reservation.objects.select_for_update().filter(cart_id=cart_id).first()
    if reservation is None or reservation.status != ReservationStatus.RESERVED:
        return False
    if attempt is not None and reservation.attempt != attempt:
        return False
    _put_back(reservation, kind=MovementKind.RELEASED, reference=f"cart:{cart_id}")
    reservation.status = ReservationStatus.REJECTED
    reservation.save(update_fields=["status", "updated_at"])
    record_stock_rejected(
        cart_id=cart_id,
        customer_id=reservation.customer_id,
        details=[],
        attempt=reservation.attempt or None,
        reason="order_failed",
    )
    return True


def stock_return(*, cart_id: UUID, reference: str) -> bool:
    """Return a cancelled order's reserved items to stock, once. True when stock came back."""
    reservation = Reservation.objects.select_for_update().filter(cart_id=cart_id).first()
    if reservation is None or reservation.status != ReservationStatus.RESERVED:
        return False
    _put_back(reservation, kind=MovementKind.RETURNED, reference=reference)
    reservation.status = ReservationStatus.RELEASED
    reservation.save(update_fields=["status", "updated_at"])
    return True


def _claim(cart_id: UUID, customer_id: UUID, attempt: int | None) -> tuple[Reservation, bool]:
    """The cart's reservation, locked, and whether this request is still to be decided.

    The row is claimed first, inserted if new: a concurrent request for the same cart then waits on
    it and sees the outcome (a plain SELECT ... FOR UPDATE would lock no row for a new cart). Only a
    rejected cart may ask again, and only with a later attempt (unnumbered: any request).
    """
    decided, created = Reservation.objects.select_for_update().get_or_create(
        cart_id=cart_id, defaults={"customer_id": customer_id, "status": ReservationStatus.REJECTED, "items": []}
    )
    if created:
        return decided, True
    if decided.status != ReservationStatus.REJECTED:
        return decided, False
    return decided, attempt is None or attempt > decided.attempt


def _decide(reservation: Reservation, customer_id: UUID, attempt: int | None, status: str, lines: list) -> None:
    reservation.customer_id, reservation.status, reservation.items = customer_id, status, lines
    reservation.attempt = attempt or reservation.attempt
    reservation.save(update_fields=["customer_id", "status", "items", "attempt", "updated_at"])


def _put_back(reservation: Reservation, *, kind: str, reference: str) -> None:
    for line in sorted(reservation.items, key=lambda line: line["product_sku"]):
        sku, quantity = line["product_sku"], line["quantity"]
        updated = InventoryItem.objects.filter(product_sku=sku).update(quantity=F("quantity") + quantity)
        if not updated:  # the stock level was deleted meanwhile: the units still exist
            InventoryItem.objects.create(product_sku=sku, quantity=quantity)
        StockMovement.objects.create(product_sku=sku, delta=quantity, kind=kind, reference=reference)
