"""Inventory's handlers as the bridge runs them: through its Celery task and the inbox."""

import uuid

import pytest

from apps.events.contracts import OrderRequested
from apps.events.inbox import consume, record_failure
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage
from apps.inventory import reservations, services
from apps.inventory.enums import ReservationStatus
from apps.inventory.handlers import on_order_requested
from apps.inventory.models import Reservation, StockMovement
from apps.inventory.tasks import handle_event
from apps.inventory.tests.audit import conservation_breaches, stock
from apps.inventory.tests.factories import order_cancelled, order_requested
from testsupport.events import attributes_of, envelope_of, message

pytestmark = pytest.mark.django_db(databases=["inventory"])


class Boom(Exception):
    pass


def fail(**kwargs):
    raise Boom("the outbox is unavailable")


def deliver(event, event_id=None):
    """Hand the task a message as the bridge would: JSON payload, envelope in the attributes."""
    return handle_event(*message(event, event_id))


def inbox() -> list[tuple[str, str, str, str]]:
    rows = ProcessedMessage.objects.using("inventory").order_by("id")
    return list(rows.values_list("message_id", "event_type", "service_name", "status"))


def effects():
    """Everything a handler may change, to compare before and after."""
    return (
        stock(),
        list(StockMovement.objects.order_by("id").values_list("product_sku", "delta", "kind")),
        list(Reservation.objects.order_by("cart_id").values_list("cart_id", "status")),
        list(OutboxEvent.objects.using("inventory").order_by("id").values_list("event_type", "payload")),
    )


@pytest.fixture
def shelves():
    services.inventory_create(product_sku="LAP-001", quantity=5)


def test_order_requested_delivered_twice_reserves_once_and_is_recorded_once(shelves):
    # given
    event = order_requested(("LAP-001", 2))
    event_id = uuid.uuid4()

    # when the same message arrives twice
    first = deliver(event, event_id)
    second = deliver(event, event_id)

    # then
    assert (first, second) == ("processed", "duplicate")
    assert stock() == {"LAP-001": 3}
    assert OutboxEvent.objects.using("inventory").filter(event_type="stock-available").count() == 1
    assert inbox() == [(str(event_id), "order-requested", "inventory-service", "success")]


def test_a_rejection_delivered_twice_publishes_one_stock_rejected(shelves):
    event = order_requested(("LAP-001", 9))
    event_id = uuid.uuid4()

    deliver(event, event_id)
    deliver(event, event_id)

    assert list(OutboxEvent.objects.using("inventory").values_list("event_type", flat=True)) == ["stock.rejected"]
    assert inbox() == [(str(event_id), "order-requested", "inventory-service", "success")]


def test_order_cancelled_delivered_twice_returns_the_stock_once(shelves):
    requested = order_requested(("LAP-001", 2))
    deliver(requested)
    cancelled = order_cancelled(requested)
    event_id = uuid.uuid4()

    assert deliver(cancelled, event_id) == "processed"
    assert deliver(cancelled, event_id) == "duplicate"

    assert stock() == {"LAP-001": 5}
    assert StockMovement.objects.filter(kind="returned").count() == 1
    assert ProcessedMessage.objects.using("inventory").filter(message_id=str(event_id), status="success").count() == 1
    assert conservation_breaches() == []


def test_a_cart_asking_again_after_a_rejection_is_a_new_event_with_its_own_effect(shelves):
    event = order_requested(("LAP-001", 9))
    deliver(event)
    services.inventory_set_quantity(product_sku="LAP-001", quantity=9)

    assert deliver(event) == "processed"

    assert stock() == {"LAP-001": 0}
    assert Reservation.objects.get(cart_id=event.cart_id).status == ReservationStatus.RESERVED
    assert [row[3] for row in inbox()] == ["success", "success"]


def test_consume_runs_the_handler_once_per_event_id(shelves):
    event = order_requested(("LAP-001", 1))
    envelope = envelope_of(event)

    def run(envelope):
        return consume(
            database="inventory",
            service_name="inventory-service",
            handler=on_order_requested,
            event=event,
            envelope=envelope,
        )

    assert run(envelope) is True
    assert run(envelope) is False
    assert stock() == {"LAP-001": 4}
    assert OutboxEvent.objects.using("inventory").count() == 1
    assert inbox() == [(str(envelope.event_id), "order-requested", "inventory-service", "success")]


def test_a_failing_handler_leaves_no_effect_and_no_success(shelves, monkeypatch):
    # given recording the outcome fails after stock was taken and the reservation written
    monkeypatch.setattr(reservations, "record_stock_available", fail)
    event = order_requested(("LAP-001", 2))
    event_id = uuid.uuid4()
    before = effects()

    # when
    with pytest.raises(Boom):
        deliver(event, event_id)

    # then nothing of the attempt stays, and the inbox shows the failure, not a success
    assert effects() == before
    [row] = ProcessedMessage.objects.using("inventory").all()
    assert (row.message_id, row.event_type, row.service_name, row.status) == (
        str(event_id),
        "order-requested",
        "inventory-service",
        "failed",
    )
    assert "Boom" in row.error_message
    assert "the outbox is unavailable" in row.error_message


def test_a_failed_event_is_processed_when_delivered_again(shelves, monkeypatch):
    # given a failed attempt
    monkeypatch.setattr(reservations, "record_stock_available", fail)
    event = order_requested(("LAP-001", 2))
    event_id = uuid.uuid4()
    with pytest.raises(Boom):
        deliver(event, event_id)
    monkeypatch.undo()

    # when the message comes back
    assert deliver(event, event_id) == "processed"

    # then it has its effect once, and its one inbox row says success
    assert stock() == {"LAP-001": 3}
    [row] = ProcessedMessage.objects.using("inventory").all()
    assert (row.status, row.attempts, row.error_message) == ("success", 2, None)
    assert deliver(event, event_id) == "duplicate"
    assert stock() == {"LAP-001": 3}


def test_record_failure_writes_a_failed_row_with_the_error():
    event_id = str(uuid.uuid4())

    record_failure(
        database="inventory",
        service_name="inventory-service",
        event_id=event_id,
        event_type="order-requested",
        error="OperationalError: could not serialize access",
    )

    [row] = ProcessedMessage.objects.using("inventory").all()
    assert (row.message_id, row.event_type, row.service_name, row.status) == (
        event_id,
        "order-requested",
        "inventory-service",
        "failed",
    )
    assert row.error_message == "OperationalError: could not serialize access"


def test_record_failure_never_undoes_a_success(shelves):
    event = order_requested(("LAP-001", 1))
    event_id = uuid.uuid4()
    deliver(event, event_id)

    record_failure(
        database="inventory",
        service_name="inventory-service",
        event_id=str(event_id),
        event_type="order-requested",
        error="late failure report",
    )

    assert inbox() == [(str(event_id), "order-requested", "inventory-service", "success")]
    assert deliver(event, event_id) == "duplicate"


@pytest.mark.parametrize(
    "payload",
    [
        {"customer_id": str(uuid.uuid4()), "items": [{"product_sku": "LAP-001", "quantity": 1}]},
        {"cart_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "items": []},
        {
            "cart_id": str(uuid.uuid4()),
            "customer_id": str(uuid.uuid4()),
            "items": [{"product_sku": "LAP-001", "quantity": 0}],
        },
    ],
    ids=["no-cart-id", "no-items", "zero-quantity"],
)
def test_a_malformed_order_requested_is_dead_lettered_without_effect(shelves, payload):
    event_id = str(uuid.uuid4())
    attributes = attributes_of(OrderRequested, event_id)
    before = effects()

    outcome = handle_event(OrderRequested.topic, payload, attributes)

    assert outcome == "dead_lettered"
    assert effects() == before
    assert inbox() == [(event_id, "order-requested", "inventory-service", "dead_lettered")]
    assert DeadLetter.objects.using("inventory").get(event_id=event_id).payload == payload
