"""What the product service publishes: the whole product after every change."""

from apps.events.contracts import ProductChanged
from apps.events.outbox import record_event
from apps.products.models import Product
from shop.registry import get_service

DATABASE = get_service("product").database
# What this service publishes (its consumers: HANDLERS in handlers.py); shop/topology.py joins the two.
PUBLISHES = (ProductChanged,)


def record_product_changed(product: Product, *, deleted: bool = False) -> None:
    event = ProductChanged(
        sku=product.sku,
        name=product.name,
        description=product.description,
        price=product.price,
        version=product.version,
        deleted=deleted,
    )
    record_event(event, using=DATABASE, ordering_key=product.sku)
