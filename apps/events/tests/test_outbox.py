from decimal import Decimal
from uuid import uuid4

import pytest
from django.db import transaction
from pydantic import ValidationError

from apps.events.contracts import EVENTS, Line, OrderCreated, OrderRequested, PricedLine, StockRejected, event_class
from apps.events.models import OutboxEvent
from apps.events.outbox import OutboxOutsideTransaction, next_state_version, record_event

pytestmark = pytest.mark.django_db(databases=["cart"])


def order_requested() -> OrderRequested:
    return OrderRequested(cart_id=uuid4(), customer_id=uuid4(), items=[Line(product_sku="LAP-001", quantity=2)])


def test_an_event_is_recorded_with_its_envelope_inside_the_transaction():
    event = order_requested()

    with transaction.atomic(using="cart"):
        event_id = record_event(event, using="cart", ordering_key=str(event.cart_id), correlation_id=event.cart_id)

    stored = OutboxEvent.objects.using("cart").get(event_id=event_id)
    assert stored.topic == "order-requested"
    assert stored.event_type == "order-requested"
    assert stored.schema_version == 1
    assert stored.ordering_key == str(event.cart_id)
    assert stored.correlation_id == event.cart_id
    assert stored.payload == {
        "cart_id": str(event.cart_id),
        "customer_id": str(event.customer_id),
        "items": [{"product_sku": "LAP-001", "quantity": 2}],
    }
    assert stored.published_at is None


@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_recording_outside_a_transaction_is_refused():
    with pytest.raises(OutboxOutsideTransaction):
        record_event(order_requested(), using="cart")

    assert not OutboxEvent.objects.using("cart").exists()


@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_a_rolled_back_change_leaves_no_event():
    def change_that_fails():
        with transaction.atomic(using="cart"):
            record_event(order_requested(), using="cart")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert not OutboxEvent.objects.using("cart").exists()


def test_money_is_serialized_as_a_two_place_string():
    event = OrderCreated(
        order_id=uuid4(),
        cart_id=uuid4(),
        customer_id=uuid4(),
        total_amount=Decimal("1999.9"),
        items=[PricedLine(product_sku="LAP-001", quantity=2, price=Decimal("999.95"))],
    )

    payload = event.model_dump(mode="json")

    assert payload["total_amount"] == "1999.90"
    assert payload["items"][0]["price"] == "999.95"
    assert payload["status"] == "confirmed"


@pytest.mark.parametrize(
    "payload",
    [
        {"cart_id": "not-a-uuid", "customer_id": str(uuid4()), "items": [{"product_sku": "A", "quantity": 1}]},
        {"cart_id": str(uuid4()), "customer_id": str(uuid4()), "items": []},
        {"cart_id": str(uuid4()), "customer_id": str(uuid4()), "items": [{"product_sku": "A", "quantity": 0}]},
        {"cart_id": str(uuid4()), "items": [{"product_sku": "A", "quantity": 1}]},
    ],
)
def test_payloads_that_break_the_contract_are_rejected(payload):
    with pytest.raises(ValidationError):
        OrderRequested.model_validate(payload)


def test_stock_rejected_carries_the_contract_reason():
    event = StockRejected(cart_id=uuid4(), customer_id=uuid4(), details=[])

    assert event.model_dump(mode="json")["reason"] == "insufficient_stock"


def test_the_five_saga_topics_have_the_contract_names():
    assert {"order-requested", "stock-available", "stock.rejected", "order.created", "order.cancelled"} <= set(EVENTS)
    assert event_class("order.created") is OrderCreated
    with pytest.raises(LookupError):
        event_class("order.exploded")


def test_state_versions_always_grow():
    far_future = next_state_version() + 10_000_000_000

    assert next_state_version(far_future) == far_future + 1
    assert next_state_version(0) > 0
