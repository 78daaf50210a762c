"""Reading the inventory database as an auditor would: is every unit accounted for?"""

from collections import Counter

from django.db.models import Sum

from apps.inventory.enums import MovementKind, ReservationStatus
from apps.inventory.models import InventoryItem, Reservation, StockMovement


def stock() -> dict[str, int]:
    return dict(InventoryItem.objects.values_list("product_sku", "quantity"))


def reserved_units() -> Counter:
    """Units held by reservations that still stand (their orders are confirmed, not cancelled)."""
    units = Counter()
    for items in Reservation.objects.filter(status=ReservationStatus.RESERVED).values_list("items", flat=True):
        for line in items:
            units[line["product_sku"]] += line["quantity"]
    return units


def ledger(kind: MovementKind | None = None) -> dict[str, int]:
    rows = StockMovement.objects.all()
    if kind is not None:
        rows = rows.filter(kind=kind)
    return {row["product_sku"]: row["total"] for row in rows.values("product_sku").annotate(total=Sum("delta"))}


def conservation_breaches() -> list[str]:
    """Invariant 2, per SKU: on hand + reserved == stock ever put in (ADJUSTED); never negative.

    Also checks the ledger: all movements of a SKU sum to what is on hand.
    """
    on_hand, reserved, put_in, moved = stock(), reserved_units(), ledger(MovementKind.ADJUSTED), ledger()
    breaches = []
    for sku in sorted(on_hand.keys() | reserved.keys() | put_in.keys() | moved.keys()):
        have, held, added, net = on_hand.get(sku, 0), reserved.get(sku, 0), put_in.get(sku, 0), moved.get(sku, 0)
        if have < 0:
            breaches.append(f"{sku}: {have} on hand")
        if have + held != added:
            breaches.append(f"{sku}: {have} on hand + {held} reserved != {added} put in")
        if net != have:
            breaches.append(f"{sku}: the ledger says {net}, {have} on hand")
    return breaches
