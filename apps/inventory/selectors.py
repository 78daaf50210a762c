from django.db.models import QuerySet

from apps.inventory.models import InventoryItem
from shop.errors import NotFound


def inventory_list() -> QuerySet[InventoryItem]:
    return InventoryItem.objects.order_by("product_sku")


def inventory_get(*, product_sku: str) -> InventoryItem:
    try:
        return InventoryItem.objects.get(product_sku=product_sku)
    except InventoryItem.DoesNotExist:
        raise NotFound(f"No stock level for SKU {product_sku!r}.") from None
