"""Catalog writes. Each change and its product.changed event commit together."""

from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.events.contracts import MAX_PRICE
from apps.events.outbox import next_state_version
from apps.products.events import DATABASE, record_product_changed
from apps.products.models import Product
from shop.errors import AlreadyExists, InvalidRequest, NotFound

UPDATABLE_FIELDS = ("name", "description", "price")


def product_create(*, sku: str, name: str, price: Decimal, description: str = "") -> Product:
    _check_price(price)
    try:
        with transaction.atomic(using=DATABASE):
            product = Product.objects.create(
                sku=sku, name=name, description=description, price=price, version=next_state_version()
            )
            record_product_changed(product)
    except IntegrityError:
        raise AlreadyExists(f"A product with SKU {sku!r} exists already.", field="sku") from None
    return product


def product_update(*, sku: str, **changes) -> Product:
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"cannot update {sorted(unknown)}")
    if "price" in changes:
        _check_price(changes["price"])
    with transaction.atomic(using=DATABASE):
        product = _locked(sku)
        for field, value in changes.items():
            setattr(product, field, value)
        product.version = next_state_version(product.version)
        product.save()
        record_product_changed(product)
    return product


def product_delete(*, sku: str) -> None:
    with transaction.atomic(using=DATABASE):
        product = _locked(sku)
        product.version = next_state_version(product.version)
        record_product_changed(product, deleted=True)
        product.delete()


def _check_price(price: Decimal) -> None:
    """Every price must fit an order of the most lines and units (see apps.events.contracts)."""
    if not 0 <= price <= MAX_PRICE:
        raise InvalidRequest(f"The price must be between 0 and {MAX_PRICE}.", field="price")


def _locked(sku: str) -> Product:
    try:
        return Product.objects.select_for_update().get(sku=sku)
    except Product.DoesNotExist:
        raise NotFound(f"No product with SKU {sku!r}.") from None
