"""Stock for the demo catalog (idempotent: an existing stock level is left as it is)."""

from apps.inventory.models import InventoryItem
from apps.inventory.services import inventory_create

DEMO_STOCK = (
    ("LAP-001", 50),
    ("PHN-001", 100),
    ("HPH-001", 200),
    ("WCH-001", 75),
    ("TAB-001", 30),
)


def seed() -> list[str]:
    created = []
    for sku, quantity in DEMO_STOCK:
        if not InventoryItem.objects.filter(product_sku=sku).exists():
            inventory_create(product_sku=sku, quantity=quantity, reference="demo data")
            created.append(f"stock {sku}={quantity}")
    return created
