from django.db import connections, router
from django.db.models import QuerySet

from apps.products.models import Product
from shop.errors import NotFound


def product_list() -> QuerySet[Product]:
    return Product.objects.order_by("sku")


def product_get(*, sku: str) -> Product:
    try:
        return Product.objects.get(sku=sku)
    except Product.DoesNotExist:
        raise NotFound(f"No product with SKU {sku!r}.") from None


def catalog_state() -> tuple[int, int]:
    """(count, highest version): changes with every create, update and delete of the catalog.

    Every write gives its product a version above all before it, and a delete changes the count,
    so two different catalogs never share a state; one query decides whether a cached page holds.
    """
    # Plain SQL: this runs on every list request, and the ORM's aggregate costs more than the query.
    table = Product._meta.db_table
    with connections[router.db_for_read(Product)].cursor() as cursor:
        cursor.execute(f"SELECT count(*), coalesce(max(version), 0) FROM {table}")  # noqa: S608 - our own table
        count, version = cursor.fetchone()
    return count, version
