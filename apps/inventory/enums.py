from django.db import models


class MovementKind(models.TextChoices):
    """Why a SKU's stock changed; the ledger of movements lets audits check conservation."""

    ADJUSTED = "adjusted", "Adjusted by staff"
    RESERVED = "reserved", "Reserved for an order"
    RETURNED = "returned", "Returned by a cancelled order"
