"""Order writes and reads, called directly."""

import uuid
from decimal import Decimal

import pytest

from apps.events.contracts import OrderRequested
from apps.events.models import OutboxEvent
from apps.orders import selectors, services
from apps.orders.enums import ALLOWED_TRANSITIONS, OrderStatus
from apps.orders.models import Order, OrderStatusChange
from apps.orders.tests.factories import CatalogProductFactory, OrderFactory, lines, place_order
from shop.errors import Conflict, InvalidRequest, NotFound

pytestmark = pytest.mark.django_db(databases=["order"])


def outbox(event_type):
    return list(OutboxEvent.objects.using("order").filter(event_type=event_type).order_by("id"))


@pytest.fixture
def order():
    CatalogProductFactory(sku="LAP-001", price=Decimal("999.99"))
    CatalogProductFactory(sku="PHN-001", price=Decimal("699.99"))
    return place_order(items=lines(("LAP-001", 1), ("PHN-001", 2)))


def test_the_transition_table_is_the_contracts():
    allowed = {(old, new) for old, news in ALLOWED_TRANSITIONS.items() for new in news}

    assert allowed == {
        (OrderStatus.CONFIRMED, OrderStatus.SHIPPED),
        (OrderStatus.SHIPPED, OrderStatus.DELIVERED),
        (OrderStatus.CONFIRMED, OrderStatus.CANCELLED),
    }
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus.values)


def test_change_status_moves_the_order_and_records_history(order):
    # when
    services.order_change_status(order_id=order.id, status=OrderStatus.SHIPPED, reason="picked up")
    services.order_change_status(order_id=order.id, status=OrderStatus.DELIVERED)

    # then
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED
    history = [(c.from_status, c.to_status, c.reason) for c in order.history.all()]
    assert history == [
        ("", OrderStatus.CONFIRMED, "stock reserved"),
        (OrderStatus.CONFIRMED, OrderStatus.SHIPPED, "picked up"),
        (OrderStatus.SHIPPED, OrderStatus.DELIVERED, ""),
    ]
    assert order.cancel_reason == ""
    assert outbox("order.cancelled") == []


def test_an_illegal_transition_is_a_conflict_and_writes_nothing(order):
    services.order_change_status(order_id=order.id, status=OrderStatus.SHIPPED)
    before = order.history.count(), OutboxEvent.objects.using("order").count()

    with pytest.raises(Conflict):
        services.order_change_status(order_id=order.id, status=OrderStatus.CANCELLED)

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert (order.history.count(), OutboxEvent.objects.using("order").count()) == before


def test_an_unknown_status_is_invalid(order):
    with pytest.raises(InvalidRequest):
        services.order_change_status(order_id=order.id, status="returned")

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.history.count() == 1


def test_another_customers_order_is_not_found(order):
    with pytest.raises(NotFound):
        services.order_change_status(order_id=order.id, status=OrderStatus.SHIPPED, customer_id=uuid.uuid4())

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED


def test_an_unknown_order_is_not_found():
    with pytest.raises(NotFound):
        services.order_cancel(order_id=uuid.uuid4())


def test_cancel_records_the_reason_and_one_order_cancelled_event(order):
    # when
    services.order_cancel(order_id=order.id, reason="changed my mind", customer_id=order.customer_id)

    # then
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "changed my mind"
    last = order.history.last()
    assert (last.from_status, last.to_status, last.reason) == (
        OrderStatus.CONFIRMED,
        OrderStatus.CANCELLED,
        "changed my mind",
    )
    [cancelled] = outbox("order.cancelled")
    assert cancelled.payload == {
        "order_id": str(order.id),
        "cart_id": str(order.cart_id),
        "customer_id": str(order.customer_id),
        "reason": "changed my mind",
        "items": [{"product_sku": "LAP-001", "quantity": 1}, {"product_sku": "PHN-001", "quantity": 2}],
    }
    assert cancelled.ordering_key == str(order.id)
    assert cancelled.correlation_id == order.cart_id


def test_cancel_without_a_reason_says_cancelled(order):
    services.order_cancel(order_id=order.id)

    [cancelled] = outbox("order.cancelled")
    assert cancelled.payload["reason"] == "cancelled"


def test_cancelling_twice_is_a_conflict_with_one_event(order):
    services.order_cancel(order_id=order.id)

    with pytest.raises(Conflict):
        services.order_cancel(order_id=order.id)

    assert len(outbox("order.cancelled")) == 1
    assert OrderStatusChange.objects.filter(to_status=OrderStatus.CANCELLED).count() == 1


def test_order_request_records_order_requested_and_creates_no_order():
    # given
    CatalogProductFactory(sku="LAP-001")
    customer_id = uuid.uuid4()

    # when
    request_id = services.order_request(customer_id=customer_id, items=lines(("LAP-001", 3)))

    # then
    assert not Order.objects.exists()
    [requested] = outbox("order-requested")
    assert requested.topic == OrderRequested.topic
    assert requested.payload == {
        "cart_id": str(request_id),
        "customer_id": str(customer_id),
        "items": [{"product_sku": "LAP-001", "quantity": 3}],
    }
    assert requested.ordering_key == str(request_id)


@pytest.mark.parametrize("deleted", [False, True], ids=["never-seen", "deleted"])
def test_order_request_refuses_unknown_skus(deleted):
    CatalogProductFactory(sku="LAP-001")
    if deleted:
        CatalogProductFactory(sku="OLD-001", deleted=True)

    with pytest.raises(NotFound, match="OLD-001"):
        services.order_request(customer_id=uuid.uuid4(), items=lines(("LAP-001", 1), ("OLD-001", 1)))

    assert not OutboxEvent.objects.using("order").exists()


def test_order_list_filters():
    customer_id = uuid.uuid4()
    mine = OrderFactory(customer_id=customer_id)
    mine_shipped = OrderFactory(customer_id=customer_id, status=OrderStatus.SHIPPED)
    OrderFactory()

    assert set(selectors.order_list(customer_id=customer_id)) == {mine, mine_shipped}
    assert list(selectors.order_list(customer_id=customer_id, status=OrderStatus.SHIPPED)) == [mine_shipped]
    assert list(selectors.order_list(cart_id=mine.cart_id)) == [mine]
    assert selectors.order_list().count() == 3


def test_order_get_hides_other_customers_orders():
    order = OrderFactory()

    assert selectors.order_get(order_id=order.id, customer_id=order.customer_id) == order
    with pytest.raises(NotFound):
        selectors.order_get(order_id=order.id, customer_id=uuid.uuid4())
    with pytest.raises(NotFound):
        selectors.order_get(order_id=uuid.uuid4())
