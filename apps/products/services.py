"""Catalog writes. Each change and its product.changed event commit together."""

from decimal import Decimal

from django.db import IntegrityError, connections, transaction

from apps.events.contracts import MAX_PRICE
from apps.events.outbox import next_state_version
from apps.products.events import DATABASE, record_product_changed
from apps.products.models import Product
from shop.errors import AlreadyExists, InvalidRequest, NotFound

UPDATABLE_FIELDS = ("name", "description", "price")

# The catalog's next version (CatalogVersion's one row), locked until the transaction ends. Past the
# last version and past the clock (microseconds, as next_state_version): without the row (a new
# database), it still starts above every version a product or a copy of it ever had.
_NEXT_VERSION = """
INSERT INTO products_catalogversion (id, version) VALUES (1, %s)
ON CONFLICT (id) DO UPDATE SET version = GREATEST(products_catalogversion.version + 1, EXCLUDED.version)
RETURNING version
"""


def product_create(*, sku: str, name: str, price: Decimal, description: str = "") -> Product:
    _check_price(price)
    try:
        with transaction.atomic(using=DATABASE):
            product = Product.objects.create(
                sku=sku, name=name, description=description, price=price, version=_next_version()
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
        product.version = _next_version(product.version)
        product.save()
        record_product_changed(product)
    return product


def product_delete(*, sku: str) -> None:
    with transaction.atomic(using=DATABASE):
        product = _locked(sku)
        product.version = _next_version(product.version)
        record_product_changed(product, deleted=True)
        product.delete()


def _next_version(previous: int = 0) -> int:
    """The catalog's next version, above ``previous`` too; every catalog write takes one."""
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(_NEXT_VERSION, [next_state_version(previous)])
        return cursor.fetchone()[0]


def _check_price(price: Decimal) -> None:
    """Every price must fit an order of the most lines and units (see apps.events.contracts)."""
    if not 0 <= price <= MAX_PRICE:
        raise InvalidRequest(f"The price must be between 0 and {MAX_PRICE}.", field="price")


def _locked(sku: str) -> Product:
    try:
        return Product.objects.select_for_update().get(sku=sku)
    except Product.DoesNotExist:
        raise NotFound(f"No product with SKU {sku!r}.") from None
