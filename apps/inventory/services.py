"""Stock writes by staff. Every change is also written to the movement ledger, atomically."""

from django.db import IntegrityError, transaction

from apps.inventory.enums import MovementKind
from apps.inventory.models import InventoryItem, StockMovement
from shop.errors import AlreadyExists, InvalidRequest, NotFound
from shop.registry import get_service

DATABASE = get_service("inventory").database


def inventory_create(*, product_sku: str, quantity: int, reference: str = "") -> InventoryItem:
    _check_quantity(quantity)
    try:
        with transaction.atomic(using=DATABASE):
            item = InventoryItem.objects.create(product_sku=product_sku, quantity=quantity)
            _record_movement(product_sku, quantity, MovementKind.ADJUSTED, reference)
    except IntegrityError:
        raise AlreadyExists(
            f"Stock for SKU {product_sku!r} exists already; use PUT to change it.", field="product_sku"
        ) from None
    return item


def inventory_set_quantity(*, product_sku: str, quantity: int, reference: str = "") -> InventoryItem:
    _check_quantity(quantity)
    with transaction.atomic(using=DATABASE):
        item = _locked(product_sku)
        delta = quantity - item.quantity
        item.quantity = quantity
        item.save(update_fields=["quantity", "updated_at"])
        _record_movement(product_sku, delta, MovementKind.ADJUSTED, reference)
    return item


def inventory_delete(*, product_sku: str, reference: str = "") -> None:
    with transaction.atomic(using=DATABASE):
        item = _locked(product_sku)
        _record_movement(product_sku, -item.quantity, MovementKind.ADJUSTED, reference or "deleted")
        item.delete()


def _check_quantity(quantity: int) -> None:
    # Checked here, not left to the database: its CHECK failure would read as "exists already" or a 500.
    if quantity < 0:
        raise InvalidRequest("Stock cannot be negative.", field="quantity")


def _record_movement(product_sku: str, delta: int, kind: MovementKind, reference: str) -> None:
    if delta:
        StockMovement.objects.create(product_sku=product_sku, delta=delta, kind=kind, reference=reference)


def _locked(product_sku: str) -> InventoryItem:
    try:
        return InventoryItem.objects.select_for_update().get(product_sku=product_sku)
    except InventoryItem.DoesNotExist:
        raise NotFound(f"No stock level for SKU {product_sku!r}.") from None
