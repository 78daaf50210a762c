"""The order service's reactions to other services' events, called as the inbox will call them."""

from decimal import Decimal

import pytest
from django.db import transaction

from apps.events.contracts import OrderCreated, ProductChanged, StockAvailable
from apps.events.models import OutboxEvent
from apps.orders.enums import OrderStatus
from apps.orders.handlers import HANDLERS, on_product_changed, on_stock_available
from apps.orders.models import CatalogProduct, Order, OrderItem, OrderStatusChange
from apps.orders.services import PriceUnknown
from apps.orders.tests.factories import (
    CatalogProductFactory,
    ProductChangedFactory,
    StockAvailableFactory,
    lines,
    place_order,
)
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["order"])


def deliver(handler, event, envelope=None):
    """Run a handler the way the inbox does: inside one transaction on the order database."""
    with transaction.atomic(using="order"):
        handler(event, envelope or envelope_of(event))


def outbox(event_type):
    return list(OutboxEvent.objects.using("order").filter(event_type=event_type).order_by("id"))


@pytest.fixture
def catalog():
    """Part of the demo catalog, as product.changed events have left it in the order database."""
    return {
        "LAP-001": CatalogProductFactory(sku="LAP-001", name="Laptop", price=Decimal("999.99")),
        "PHN-001": CatalogProductFactory(sku="PHN-001", name="Smartphone", price=Decimal("699.99")),
        "CBL-001": CatalogProductFactory(sku="CBL-001", name="Cable", price=Decimal("0.10")),
    }


# --- stock-available -> one confirmed order ------------------------------------------------------


def test_stock_available_creates_one_confirmed_order_priced_from_the_catalog(catalog):
    # given
    event = StockAvailableFactory(items=lines(("LAP-001", 2), ("CBL-001", 3)))

    # when
    deliver(on_stock_available, event)

    # then
    order = Order.objects.get()
    assert order.cart_id == event.cart_id
    assert order.customer_id == event.customer_id
    assert order.status == OrderStatus.CONFIRMED
    assert order.cancel_reason == ""
    assert order.total_amount == Decimal("2000.28")  # 2 * 999.99 + 3 * 0.10
    assert order.total_amount.as_tuple().exponent == -2
    items = [(i.product_sku, i.quantity, i.price) for i in order.items.all()]
    assert items == [("LAP-001", 2, Decimal("999.99")), ("CBL-001", 3, Decimal("0.10"))]


def test_stock_available_records_the_first_history_row(catalog):
    event = StockAvailableFactory(items=lines(("PHN-001", 1)))

    deliver(on_stock_available, event)

    [change] = OrderStatusChange.objects.filter(order__cart_id=event.cart_id)
    assert change.from_status == ""
    assert change.to_status == OrderStatus.CONFIRMED
    assert change.changed_at is not None


def test_stock_available_records_exactly_one_order_created_event_with_the_contract_payload(catalog):
    # given
    event = StockAvailableFactory(items=lines(("LAP-001", 1), ("CBL-001", 10)))

    # when
    deliver(on_stock_available, event)

    # then
    order = Order.objects.get()
    [created] = outbox("order.created")
    assert created.payload == {
        "order_id": str(order.id),
        "cart_id": str(event.cart_id),
        "customer_id": str(event.customer_id),
        "status": "confirmed",
        "total_amount": "1000.99",
        "items": [
            {"product_sku": "LAP-001", "quantity": 1, "price": "999.99"},
            {"product_sku": "CBL-001", "quantity": 10, "price": "0.10"},
        ],
    }
    OrderCreated.model_validate(created.payload)
    assert created.topic == "order.created"
    assert created.schema_version == 1
    assert created.ordering_key == str(order.id)
    assert created.correlation_id == event.cart_id
    assert created.published_at is None
    assert OutboxEvent.objects.using("order").count() == 1


def test_money_in_the_event_keeps_two_places_for_round_amounts():
    CatalogProductFactory(sku="TAB-001", price=Decimal("450"))

    deliver(on_stock_available, StockAvailableFactory(items=lines(("TAB-001", 2))))

    [created] = outbox("order.created")
    assert created.payload["total_amount"] == "900.00"
    assert created.payload["items"][0]["price"] == "450.00"


def test_a_redelivered_stock_available_creates_nothing_more(catalog):
    # given: the event has been handled once
    event = StockAvailableFactory(items=lines(("LAP-001", 1)))
    envelope = envelope_of(event)
    deliver(on_stock_available, event, envelope)

    # when: Pub/Sub delivers it again
    deliver(on_stock_available, event, envelope)

    # then
    assert Order.objects.count() == 1
    assert OrderItem.objects.count() == 1
    assert OrderStatusChange.objects.count() == 1
    assert len(outbox("order.created")) == 1


def test_another_stock_available_for_the_same_cart_changes_nothing(catalog):
    # given
    first = StockAvailableFactory(items=lines(("LAP-001", 1)))
    deliver(on_stock_available, first)
    order = Order.objects.get()

    # when: a different event (new event id, other items) names the same cart
    second = StockAvailableFactory(cart_id=first.cart_id, customer_id=first.customer_id, items=lines(("PHN-001", 5)))
    deliver(on_stock_available, second)

    # then: the cart keeps its one order, as it was
    assert list(Order.objects.values_list("id", flat=True)) == [order.id]
    assert [(i.product_sku, i.quantity) for i in OrderItem.objects.all()] == [("LAP-001", 1)]
    assert Order.objects.get().total_amount == Decimal("999.99")
    assert OrderStatusChange.objects.count() == 1
    assert len(outbox("order.created")) == 1


def test_a_cancelled_order_is_not_recreated_by_a_late_stock_available(catalog, service_client):
    # given: the cart's order exists and has been cancelled
    event = StockAvailableFactory(items=lines(("LAP-001", 1)))
    deliver(on_stock_available, event)
    order = Order.objects.get()
    assert service_client("order").delete(f"/orders/{order.id}").status_code == 200

    # when
    deliver(on_stock_available, event)

    # then
    assert Order.objects.count() == 1
    assert Order.objects.get().status == OrderStatus.CANCELLED
    assert len(outbox("order.created")) == 1


def test_orders_for_different_carts_are_separate(catalog):
    customer_event = StockAvailableFactory(items=lines(("LAP-001", 1)))
    deliver(on_stock_available, customer_event)
    deliver(on_stock_available, StockAvailableFactory(customer_id=customer_event.customer_id))

    assert Order.objects.filter(customer_id=customer_event.customer_id).count() == 2
    assert len(outbox("order.created")) == 2


def test_an_unknown_price_raises_price_unknown_and_writes_nothing(catalog):
    # given: one SKU the order service has never heard of
    event = StockAvailableFactory(items=lines(("LAP-001", 1), ("NEW-001", 1)))

    # when / then
    with pytest.raises(PriceUnknown, match="NEW-001"):
        deliver(on_stock_available, event)

    assert not Order.objects.exists()
    assert not OrderItem.objects.exists()
    assert not OrderStatusChange.objects.exists()
    assert not OutboxEvent.objects.using("order").exists()


def test_the_order_is_created_once_the_price_arrives(catalog):
    # given: a first attempt failed for want of a price
    event = StockAvailableFactory(items=lines(("NEW-001", 2)))
    with pytest.raises(PriceUnknown):
        deliver(on_stock_available, event)

    # when: the catalog change arrives, then the inbox retries the event
    deliver(on_product_changed, ProductChangedFactory(sku="NEW-001", price=Decimal("12.50")))
    deliver(on_stock_available, event)

    # then
    order = Order.objects.get(cart_id=event.cart_id)
    assert order.total_amount == Decimal("25.00")
    assert len(outbox("order.created")) == 1


def test_a_product_deleted_after_the_reservation_is_priced_at_its_last_known_price(catalog):
    """Stock is reserved already: refusing the order would leave the cart processing for ever."""
    deliver(on_product_changed, ProductChangedFactory(sku="LAP-001", price=Decimal("999.99"), version=5, deleted=True))

    deliver(on_stock_available, StockAvailableFactory(items=lines(("LAP-001", 1))))

    assert Order.objects.get().total_amount == Decimal("999.99")


def test_later_price_changes_do_not_touch_existing_orders(catalog):
    # given
    order = place_order(items=lines(("PHN-001", 1)))

    # when
    deliver(on_product_changed, ProductChangedFactory(sku="PHN-001", price=Decimal("1.00"), version=2))
    later = place_order(items=lines(("PHN-001", 1)))

    # then
    order.refresh_from_db()
    assert order.total_amount == Decimal("699.99")
    assert order.items.get().price == Decimal("699.99")
    assert later.total_amount == Decimal("1.00")


# --- product.changed -> the catalog copy ---------------------------------------------------------


def test_product_changed_creates_the_copy():
    deliver(on_product_changed, ProductChangedFactory(sku="CAM-001", name="Camera", price=Decimal("349.50"), version=7))

    copy = CatalogProduct.objects.get(sku="CAM-001")
    assert (copy.name, copy.price, copy.version, copy.deleted) == ("Camera", Decimal("349.50"), 7, False)


def test_a_newer_product_changed_wins():
    # given
    deliver(on_product_changed, ProductChangedFactory(sku="CAM-001", name="Camera", price=Decimal("349.50"), version=7))

    # when
    deliver(
        on_product_changed, ProductChangedFactory(sku="CAM-001", name="Camera II", price=Decimal("399.00"), version=8)
    )

    # then
    copy = CatalogProduct.objects.get(sku="CAM-001")
    assert (copy.name, copy.price, copy.version) == ("Camera II", Decimal("399.00"), 8)


@pytest.mark.parametrize("stale_version", [6, 7])
def test_an_older_or_repeated_product_changed_is_ignored(stale_version):
    # given
    deliver(on_product_changed, ProductChangedFactory(sku="CAM-001", name="Camera", price=Decimal("349.50"), version=7))

    # when: a late (or re-delivered) change arrives
    deliver(
        on_product_changed,
        ProductChangedFactory(sku="CAM-001", name="Old", price=Decimal("1.00"), version=stale_version),
    )

    # then
    copy = CatalogProduct.objects.get(sku="CAM-001")
    assert (copy.name, copy.price, copy.version) == ("Camera", Decimal("349.50"), 7)
    assert CatalogProduct.objects.count() == 1


def test_a_late_change_does_not_bring_a_deleted_product_back():
    # given
    deliver(on_product_changed, ProductChangedFactory(sku="CAM-001", version=7))
    deliver(on_product_changed, ProductChangedFactory(sku="CAM-001", version=9, deleted=True))

    # when
    deliver(on_product_changed, ProductChangedFactory(sku="CAM-001", version=8, deleted=False))

    # then
    copy = CatalogProduct.objects.get(sku="CAM-001")
    assert copy.deleted is True
    assert copy.version == 9


def test_product_changed_writes_no_event():
    deliver(on_product_changed, ProductChangedFactory(sku="CAM-001"))

    assert not OutboxEvent.objects.using("order").exists()


def test_the_handler_map_names_the_consumed_topics():
    assert {
        ProductChanged.topic: on_product_changed,
        StockAvailable.topic: on_stock_available,
    } == HANDLERS
    assert set(HANDLERS) == {"product.changed", "stock-available"}
