"""A stock-available the order service gives up on: the stock is asked back once (order.failed), and
the event, replayed or redelivered later, makes no order; a later attempt of the cart is ordered."""

import uuid

import pytest
from django.db import transaction

from apps.events.contracts import Line, StockAvailable
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage
from apps.orders.models import Order, OrderFailure
from apps.orders.services import order_give_up
from apps.orders.tasks import handle_event
from apps.orders.tests.factories import CatalogProductFactory, OrderFactory
from testsupport.events import message

pytestmark = pytest.mark.django_db(databases=["order"])


def stock_available(*, cart_id=None, attempt=1) -> tuple[list, StockAvailable]:
    """The task's arguments for a stock-available of a product the order service has no price for."""
    event = StockAvailable(
        cart_id=cart_id or uuid.uuid4(),
        customer_id=uuid.uuid4(),
        items=[Line(product_sku="NEW-001", quantity=2)],
        attempt=attempt,
    )
    return message(event), event


def failed_events():
    return list(OutboxEvent.objects.using("order").filter(event_type="order.failed"))


def test_the_last_failed_attempt_records_the_failure_and_asks_for_the_stock_back(settings):
    # given: a price that never arrived
    args, event = stock_available()

    # when: the last attempt fails too
    result = handle_event.apply(args=args, retries=settings.HANDLER_MAX_RETRIES)

    # then
    assert result.get() == "dead_lettered"
    assert not Order.objects.exists()
    failure = OrderFailure.objects.get()
    assert (failure.cart_id, failure.attempt, failure.customer_id) == (event.cart_id, 1, event.customer_id)
    assert "PriceUnknown" in failure.error
    [failed] = failed_events()
    assert failed.payload == {
        "attempt": 1,
        "cart_id": str(event.cart_id),
        "customer_id": str(event.customer_id),
        "reason": "the order could not be made",
        "items": [{"product_sku": "NEW-001", "quantity": 2}],
    }
    assert failed.correlation_id == event.cart_id
    assert DeadLetter.objects.using("order").get().event_id == uuid.UUID(args[2]["event_id"])


def test_replayed_after_the_price_arrived_it_makes_no_order_and_asks_nothing_again(settings):
    # given: given up on, then the cause fixed
    args, _ = stock_available()
    handle_event.apply(args=args, retries=settings.HANDLER_MAX_RETRIES)
    CatalogProductFactory(sku="NEW-001")

    # when: replayed (the inbox row is not a success, so the handler runs again)
    result = handle_event.apply(args=args)

    # then: the stock went back already; no order may be made of it
    assert result.get() == "processed"
    assert not Order.objects.exists()
    assert len(failed_events()) == 1
    inbox = ProcessedMessage.objects.using("order").get(message_id=args[2]["event_id"])
    assert inbox.status == "success"


def test_a_later_attempt_of_the_cart_is_ordered(settings):
    # given: the first attempt given up on, and the price known since
    first, event = stock_available()
    handle_event.apply(args=first, retries=settings.HANDLER_MAX_RETRIES)
    CatalogProductFactory(sku="NEW-001")

    # when: the cart asks again and its stock is reserved again
    second, _ = stock_available(cart_id=event.cart_id, attempt=2)
    handle_event.apply(args=second)

    # then
    assert Order.objects.get().cart_id == event.cart_id


def test_no_failure_is_recorded_for_a_cart_whose_order_exists():
    # given: a concurrent attempt at the same event made the order after all
    order = OrderFactory()

    with transaction.atomic(using="order"):
        failed = order_give_up(
            cart_id=order.cart_id,
            customer_id=order.customer_id,
            items=[Line(product_sku="LAP-001", quantity=1)],
            attempt=1,
            error="late",
        )

    assert failed is False
    assert not OrderFailure.objects.exists()
    assert failed_events() == []


def test_giving_up_twice_on_one_attempt_asks_for_the_stock_back_once():
    cart_id, customer_id = uuid.uuid4(), uuid.uuid4()
    items = [Line(product_sku="LAP-001", quantity=1)]

    for _ in range(2):
        with transaction.atomic(using="order"):
            order_give_up(cart_id=cart_id, customer_id=customer_id, items=items, attempt=1, error="x")

    assert OrderFailure.objects.count() == 1
    assert len(failed_events()) == 1
