from django.db import models


class MovementKind(models.TextChoices):
    """Why a SKU's stock changed; the ledger of movements lets audits check conservation."""

    ADJUSTED = "adjusted", "Adjusted by staff"
    RESERVED = "reserved", "Reserved for an order"
    RETURNED = "returned", "Returned by a cancelled order"
    RELEASED = "released", "Released: the order could not be made"


class ReservationStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved (order confirmed or about to be)"
    REJECTED = "rejected", "Rejected (insufficient stock, or a step given up on; the cart may ask again)"
    RELEASED = "released", "Released (order cancelled, stock returned)"
