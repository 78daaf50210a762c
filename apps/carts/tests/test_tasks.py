"""The cart's handlers as the bridge runs them: through its Celery task and the inbox."""

import uuid
from decimal import Decimal

import pytest

from apps.carts.models import CatalogProduct
from apps.carts.services import cart_convert
from apps.carts.tasks import handle_event, handle_events
from apps.carts.tests.factories import CartFactory, CartItemFactory
from apps.events.contracts import OrderCreated, PricedLine, ProductChanged, ShortfallLine, StockRejected
from apps.events.models import ProcessedMessage
from testsupport.events import attributes_of, message

pytestmark = pytest.mark.django_db(databases=["cart"])


def deliver(event, event_id=None):
    return handle_event(*message(event, event_id))


def stock_rejected(cart):
    return StockRejected(
        cart_id=cart.id,
        customer_id=cart.customer_id,
        details=[ShortfallLine(product_sku="LAP-001", requested=2, available=0)],
    )


def state(cart):
    cart.refresh_from_db()
    return cart.status, cart.cart_locked


def test_stock_rejected_is_applied_once_and_recorded_in_the_cart_inbox():
    cart = CartFactory(processing=True)
    event_id = uuid.uuid4()

    assert deliver(stock_rejected(cart), event_id) == "processed"

    assert state(cart) == ("stock-unavailable", False)
    [row] = ProcessedMessage.objects.using("cart").all()
    assert (row.message_id, row.event_type, row.service_name, row.status) == (
        str(event_id),
        "stock.rejected",
        "cart-service",
        "success",
    )


def test_a_redelivered_stock_rejected_never_unlocks_the_next_conversion():
    # given a rejected cart that the customer has converted again
    cart = CartFactory(processing=True)
    CartItemFactory(cart=cart, product_sku="LAP-001")
    event_id = uuid.uuid4()
    deliver(stock_rejected(cart), event_id)
    cart_convert(customer_id=cart.customer_id)

    # when the first rejection is delivered again
    outcome = deliver(stock_rejected(cart), event_id)

    # then it has no second effect
    assert outcome == "duplicate"
    assert state(cart) == ("processing", True)
    assert ProcessedMessage.objects.using("cart").count() == 1


def test_order_created_through_the_task_makes_the_cart_ordered():
    cart = CartFactory(processing=True)
    event = OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=cart.id,
        customer_id=cart.customer_id,
        total_amount=Decimal("19.98"),
        items=[PricedLine(product_sku="LAP-001", quantity=2, price=Decimal("9.99"))],
    )

    assert deliver(event) == "processed"

    assert state(cart) == ("ordered", True)


def test_product_changed_through_the_task_updates_the_catalog_copy():
    event = ProductChanged(sku="LAP-001", name="Laptop", description="", price=Decimal("999.99"), version=7)

    assert deliver(event) == "processed"

    product = CatalogProduct.objects.get(sku="LAP-001")
    assert (product.price, product.version, product.deleted) == (Decimal("999.99"), 7, False)


def test_a_malformed_stock_rejected_changes_no_cart():
    cart = CartFactory(processing=True)
    payload = {"customer_id": str(cart.customer_id), "details": []}  # no cart_id
    attributes = attributes_of(StockRejected)

    outcome = handle_event("stock.rejected", payload, attributes)

    assert outcome == "dead_lettered"
    assert state(cart) == ("processing", True)
    assert not ProcessedMessage.objects.using("cart").filter(status="success").exists()


def test_a_retry_that_cannot_be_scheduled_goes_back_to_the_broker(monkeypatch):
    """The broker is restarting when an event fails: the message must be requeued, never acked as failed."""
    from celery.exceptions import Reject

    from apps.events import tasks as event_tasks

    def broker_down(*args, **options):
        raise ConnectionError("broker restarting")

    cart = CartFactory(processing=True)
    fail_for(monkeypatch, cart)
    monkeypatch.setattr(handle_event, "retry", broker_down)
    monkeypatch.setattr(event_tasks, "REQUEUE_PAUSE_SECONDS", 0)

    with pytest.raises(Reject) as rejected:
        deliver(stock_rejected(cart))

    assert rejected.value.requeue is True
    assert state(cart) == ("processing", True)


def test_a_last_attempt_that_cannot_be_dead_lettered_goes_back_to_the_broker(monkeypatch, settings):
    from celery.exceptions import Reject
    from django.db import OperationalError

    from apps.events import consumer as event_consumer
    from apps.events import tasks as event_tasks

    def database_down(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    cart = CartFactory(processing=True)
    fail_for(monkeypatch, cart)
    monkeypatch.setattr(event_consumer, "dead_letter", database_down)
    monkeypatch.setattr(event_tasks, "REQUEUE_PAUSE_SECONDS", 0)

    result = handle_event.apply(args=message(stock_rejected(cart)), retries=settings.HANDLER_MAX_RETRIES)

    assert result.state == "REJECTED"
    assert isinstance(result.result, Reject)
    assert result.result.requeue is True


def fail_for(monkeypatch, unlucky):
    """The stock.rejected handler fails (a lock timeout, say) for one cart and works for the rest."""
    from django.db import OperationalError

    from apps.carts.handlers import HANDLERS

    apply = HANDLERS[StockRejected.topic]

    def flaky(event, envelope):
        if event.cart_id == unlucky.id:
            raise OperationalError("canceling statement due to lock timeout")
        apply(event, envelope)

    monkeypatch.setitem(HANDLERS, StockRejected.topic, flaky)


def test_a_pulled_batch_applies_each_event_in_its_own_transaction_and_retries_a_failed_one_alone(monkeypatch):
    # given: three rejections in one batch; the handler fails for the second
    first, second, third = (CartFactory(processing=True) for _ in range(3))
    fail_for(monkeypatch, second)
    batch = [message(stock_rejected(cart)) for cart in (first, second, third)]
    scheduled = []
    monkeypatch.setattr(handle_event, "apply_async", lambda **options: scheduled.append(options))

    # when
    outcomes = handle_events(batch)

    # then: the others are done; the failed one is recorded and sent back alone as its first retry
    assert outcomes == {"processed": 2, "retry": 1}
    assert state(first) == state(third) == ("stock-unavailable", False)
    assert state(second) == ("processing", True)
    [retry] = scheduled
    assert retry["args"] == batch[1]
    assert (retry["retries"], retry["queue"]) == (1, "cart")
    assert retry["countdown"] > 0
    inbox = dict(ProcessedMessage.objects.using("cart").values_list("message_id", "status"))
    assert inbox == {
        batch[0][2]["event_id"]: "success",
        batch[1][2]["event_id"]: "failed",
        batch[2][2]["event_id"]: "success",
    }


def test_a_batch_delivered_again_has_no_second_effect():
    cart = CartFactory(processing=True)
    CartItemFactory(cart=cart, product_sku="LAP-001")
    batch = [message(stock_rejected(cart))]
    assert handle_events(batch) == {"processed": 1}
    cart_convert(customer_id=cart.customer_id)  # converted again: the old rejection must not unlock it

    assert handle_events(batch) == {"duplicate": 1}

    assert state(cart) == ("processing", True)


def test_a_batch_whose_retry_cannot_be_scheduled_goes_back_to_the_broker_whole(monkeypatch):
    from celery.exceptions import Reject

    from apps.events import tasks as event_tasks

    def broker_down(**options):
        raise ConnectionError("broker restarting")

    done, unlucky = CartFactory(processing=True), CartFactory(processing=True)
    fail_for(monkeypatch, unlucky)
    monkeypatch.setattr(handle_event, "apply_async", broker_down)
    monkeypatch.setattr(event_tasks, "REQUEUE_PAUSE_SECONDS", 0)

    with pytest.raises(Reject) as rejected:
        handle_events([message(stock_rejected(done)), message(stock_rejected(unlucky))])

    assert rejected.value.requeue is True
    assert state(done) == ("stock-unavailable", False)  # committed: its redelivered copy is a duplicate
    assert state(unlucky) == ("processing", True)


def test_a_batch_whose_handling_itself_breaks_goes_back_to_the_broker_not_acked_as_failed(monkeypatch):
    from celery.exceptions import Reject

    from apps.carts.tasks import consumer
    from apps.events import tasks as event_tasks

    def broken(deliveries):
        raise RuntimeError("a bug in the consumer, not in a handler")

    monkeypatch.setattr(consumer, "handle", broken)
    monkeypatch.setattr(event_tasks, "REQUEUE_PAUSE_SECONDS", 0)
    later = CartFactory(processing=True)

    with pytest.raises(Reject) as rejected:
        handle_events([message(stock_rejected(later))])

    assert rejected.value.requeue is True
    assert state(later) == ("processing", True)  # redelivered with the batch, not lost
