"""Factories for the order service's rows, and for the events it consumes.

Orders in tests come from ``on_stock_available`` (see ``place_order``) like in production;
``OrderFactory`` is for read-only tests that need rows in a given shape.
"""

import uuid
from decimal import Decimal

import factory
from django.db import transaction

from apps.events.contracts import Line, ProductChanged, StockAvailable
from apps.orders.enums import OrderStatus
from apps.orders.handlers import on_stock_available
from apps.orders.models import CatalogProduct, Order, OrderItem, OrderStatusChange
from testsupport.events import envelope_of

DATABASE = "order"


class CatalogProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CatalogProduct
        database = DATABASE
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("word")
    price = Decimal("10.00")
    version = 1
    deleted = False


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order
        database = DATABASE

    customer_id = factory.LazyFunction(uuid.uuid4)
    cart_id = factory.LazyFunction(uuid.uuid4)
    status = OrderStatus.CONFIRMED
    total_amount = Decimal("10.00")


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem
        database = DATABASE

    order = factory.SubFactory(OrderFactory)
    product_sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    quantity = 1
    price = Decimal("10.00")


class OrderStatusChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderStatusChange
        database = DATABASE

    order = factory.SubFactory(OrderFactory)
    from_status = ""
    to_status = OrderStatus.CONFIRMED
    reason = "stock reserved"


# --- Events the order service consumes --------------------------------------------------------


class StockAvailableFactory(factory.Factory):
    class Meta:
        model = StockAvailable

    cart_id = factory.LazyFunction(uuid.uuid4)
    customer_id = factory.LazyFunction(uuid.uuid4)
    items = factory.LazyFunction(lambda: [Line(product_sku="LAP-001", quantity=1)])


class ProductChangedFactory(factory.Factory):
    class Meta:
        model = ProductChanged

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("word")
    description = ""
    price = Decimal("10.00")
    version = 1
    deleted = False


def lines(*pairs: tuple[str, int]) -> list[Line]:
    """lines(("LAP-001", 2), ("PHN-001", 1)) -> the items of an event."""
    return [Line(product_sku=sku, quantity=quantity) for sku, quantity in pairs]


def place_order(**event_fields) -> Order:
    """An order made the only way orders are made: a stock-available event, in the inbox transaction.

    Every SKU must already be in the catalog copy (see CatalogProductFactory).
    """
    event = StockAvailableFactory(**event_fields)
    with transaction.atomic(using=DATABASE):
        on_stock_available(event, envelope_of(event))
    return Order.objects.using(DATABASE).get(cart_id=event.cart_id)
