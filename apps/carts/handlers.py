"""How the cart service reacts to other services' events. Each runs in the inbox transaction."""

from django.db.models import Q

from apps.carts.enums import CartStatus
from apps.carts.events import DATABASE
from apps.carts.models import Cart, CatalogProduct
from apps.events.contracts import Envelope, OrderCreated, ProductChanged, StockRejected
from apps.events.replicas import replica_apply


def on_product_changed(event: ProductChanged, envelope: Envelope) -> None:
    replica_apply(
        CatalogProduct,
        using=DATABASE,
        key={"sku": event.sku},
        version=event.version,
        fields={"name": event.name, "price": event.price, "deleted": event.deleted},
    )


def on_stock_rejected(event: StockRejected, envelope: Envelope) -> None:
    """The cart can be edited and converted again."""
    Cart.objects.filter(id=event.cart_id, status=CartStatus.PROCESSING).update(
        status=CartStatus.STOCK_UNAVAILABLE, cart_locked=False
    )


def on_order_created(event: OrderCreated, envelope: Envelope) -> None:
    """The cart's outcome is final."""
    Cart.objects.filter(Q(id=event.cart_id), ~Q(status=CartStatus.ORDERED)).update(
        status=CartStatus.ORDERED, cart_locked=True
    )


HANDLERS = {
    ProductChanged.topic: on_product_changed,
    StockRejected.topic: on_stock_rejected,
    OrderCreated.topic: on_order_created,
}
