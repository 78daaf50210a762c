from django.db import connections, router
from django.db.models import QuerySet

from apps.products.models import CatalogVersion, Product
from shop.errors import NotFound


def product_list() -> QuerySet[Product]:
    return Product.objects.order_by("sku")


def product_get(*, sku: str) -> Product:
    try:
        return Product.objects.get(sku=sku)
    except Product.DoesNotExist:
        raise NotFound(f"No product with SKU {sku!r}.") from None


def catalog_state() -> int:
    """The catalog's version (0 before its first write): it changes with every create, update and delete.

    Writers take versions in commit order (see CatalogVersion), so one tiny query decides whether a
    page rendered at a version still holds: nothing has committed since while the version is the same.
    """
    # Plain SQL: this runs on every list request, and the ORM costs more than the query.
    table = CatalogVersion._meta.db_table
    with connections[router.db_for_read(CatalogVersion)].cursor() as cursor:
        cursor.execute(f"SELECT version FROM {table} WHERE id = 1")  # noqa: S608 - our own table
        row = cursor.fetchone()
    return row[0] if row else 0
