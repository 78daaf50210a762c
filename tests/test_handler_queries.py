"""The statements each event costs its consumer, pinned for every handler: inbox claim, handler, outbox.

Every event goes through its service's real consumer (``apps/<app>/tasks.py``), as the worker runs
it. Counted here: what the consumer sends to PostgreSQL for one event, including the SAVEPOINT and
RELEASE the test's own transaction turns the consumer's BEGIN and COMMIT into. A count that grows
is a cost every order pays: look at what was added before raising the pin.
"""

import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.carts.tasks import consumer as cart_consumer
from apps.carts.tests.factories import CartFactory
from apps.email.tasks import consumer as email_consumer
from apps.email.tests.factories import CustomerContactFactory
from apps.events.consumer import Delivery, Outcome
from apps.events.contracts import (
    CustomerChanged,
    EmailRequested,
    Line,
    NotificationDelivered,
    OrderCancelled,
    OrderCreated,
    OrderFailed,
    OrderRequested,
    PricedLine,
    ProductChanged,
    PushRequested,
    StockAvailable,
    StockRejected,
)
from apps.inventory.tasks import consumer as inventory_consumer
from apps.inventory.tests.factories import InventoryItemFactory
from apps.notifications.tasks import consumer as notification_consumer
from apps.notifications.tests.factories import NotificationFactory
from apps.orders.tasks import consumer as order_consumer
from apps.orders.tests.factories import CatalogProductFactory
from apps.push.tasks import consumer as push_consumer
from testsupport.events import message

pytestmark = pytest.mark.django_db(databases=["cart", "inventory", "order", "notification", "email", "push"])

CUSTOMER = uuid.uuid4()
TRANSACTION = 2  # the consumer's BEGIN and COMMIT, as the test's SAVEPOINT and RELEASE


def statements(consumer, event) -> list[str]:
    with CaptureQueriesContext(connections[consumer.database]) as queries:
        [result] = consumer.handle([Delivery.of(message(event))])
    assert result.outcome is Outcome.PROCESSED, result.error
    return [query["sql"] for query in queries.captured_queries]


def order_created(cart_id) -> OrderCreated:
    return OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=cart_id,
        customer_id=CUSTOMER,
        total_amount=Decimal("9.99"),
        items=[PricedLine(product_sku="LAP-001", quantity=1, price=Decimal("9.99"))],
    )


def test_reserving_stock():
    InventoryItemFactory(product_sku="LAP-001", quantity=5)
    event = OrderRequested(cart_id=uuid.uuid4(), customer_id=CUSTOMER, items=[Line(product_sku="LAP-001", quantity=1)])

    # claim, lock the stock, decide, take it with its stock ledger entry, stock-available
    assert len(statements(inventory_consumer, event)) == TRANSACTION + 5


def test_confirming_the_order():
    CatalogProductFactory(sku="LAP-001", price=Decimal("9.99"))
    event = StockAvailable(cart_id=uuid.uuid4(), customer_id=CUSTOMER, items=[Line(product_sku="LAP-001", quantity=1)])

    # claim, made or given up on already and the prices, the order with its items and history, order.created
    assert len(statements(order_consumer, event)) == TRANSACTION + 4


def test_the_cart_taking_its_outcome():
    cart = CartFactory(processing=True)

    # claim, one UPDATE
    assert len(statements(cart_consumer, order_created(cart.id))) == TRANSACTION + 2


def test_notifying_the_customer_of_an_order():
    # claim, both notifications in one INSERT, a delivery request each
    assert len(statements(notification_consumer, order_created(uuid.uuid4()))) == TRANSACTION + 4


def test_a_delivery_report():
    notification = NotificationFactory()
    event = NotificationDelivered(notification_id=notification.id, channel=notification.channel)

    # claim, one UPDATE
    assert len(statements(notification_consumer, event)) == TRANSACTION + 2


def test_sending_an_email():
    CustomerContactFactory(customer_id=CUSTOMER)
    event = EmailRequested(notification_id=uuid.uuid4(), customer_id=CUSTOMER, subject="Hi", body="Hello")

    # before the transaction, the hand-over noted: the address, the record
    # in it: claim, the record read, marked sent, notification.delivered
    assert len(statements(email_consumer, event)) == 2 + TRANSACTION + 4


def test_storing_a_push_message():
    event = PushRequested(notification_id=uuid.uuid4(), customer_id=CUSTOMER, title="Hi", message="Hello")

    # claim, the message, notification.delivered
    assert len(statements(push_consumer, event)) == TRANSACTION + 3


# --- the rest of the handlers: not on every order's path, pinned all the same ----------------------


def product_changed() -> ProductChanged:
    return ProductChanged(sku="LAP-001", name="Laptop", description="", price=Decimal("9.99"), version=7)


def test_the_cart_keeping_its_catalog_copy():
    # claim, the copy locked (none yet), inserted
    assert len(statements(cart_consumer, product_changed())) == TRANSACTION + 3


def test_the_order_service_keeping_its_catalog_copy():
    # claim, the copy locked (none yet), inserted
    assert len(statements(order_consumer, product_changed())) == TRANSACTION + 3


def test_the_email_service_keeping_its_address_book():
    event = CustomerChanged(customer_id=CUSTOMER, name="Jane", email="jane@example.com", version=3)

    # claim, the copy locked (none yet), inserted
    assert len(statements(email_consumer, event)) == TRANSACTION + 3


def test_the_cart_unlocked_after_a_rejection():
    cart = CartFactory(processing=True)
    event = StockRejected(cart_id=cart.id, customer_id=CUSTOMER, details=[])

    # claim, one UPDATE
    assert len(statements(cart_consumer, event)) == TRANSACTION + 2


def test_notifying_the_customer_of_a_rejection():
    event = StockRejected(cart_id=uuid.uuid4(), customer_id=CUSTOMER, reason="reservation_failed", details=[])

    # claim, both notifications in one INSERT, a delivery request each
    assert len(statements(notification_consumer, event)) == TRANSACTION + 4


def test_notifying_the_customer_of_a_cancellation():
    event = OrderCancelled(
        order_id=uuid.uuid4(),
        cart_id=uuid.uuid4(),
        customer_id=CUSTOMER,
        reason="changed my mind",
        items=[Line(product_sku="LAP-001", quantity=1)],
    )

    # claim, both notifications in one INSERT, a delivery request each
    assert len(statements(notification_consumer, event)) == TRANSACTION + 4


def reserved(cart_id) -> None:
    InventoryItemFactory(product_sku="LAP-001", quantity=5)
    event = OrderRequested(cart_id=cart_id, customer_id=CUSTOMER, items=[Line(product_sku="LAP-001", quantity=1)])
    statements(inventory_consumer, event)


def test_returning_a_cancelled_orders_stock():
    cart_id = uuid.uuid4()
    reserved(cart_id)
    event = OrderCancelled(
        order_id=uuid.uuid4(),
        cart_id=cart_id,
        customer_id=CUSTOMER,
        reason="",
        items=[Line(product_sku="LAP-001", quantity=1)],
    )

    # claim, the reservation locked, the stock back, its ledger entry, the reservation released
    assert len(statements(inventory_consumer, event)) == TRANSACTION + 5


def test_returning_the_stock_of_an_order_that_could_not_be_made():
    cart_id = uuid.uuid4()
    reserved(cart_id)
    event = OrderFailed(
        cart_id=cart_id, customer_id=CUSTOMER, reason="x", items=[Line(product_sku="LAP-001", quantity=1)]
    )

    # claim, the reservation locked, the stock back, its ledger entry, the reservation rejected,
    # stock.rejected
    assert len(statements(inventory_consumer, event)) == TRANSACTION + 6
