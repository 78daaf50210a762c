"""Steps inventory takes part in, given up on: each still ends the cart's saga, once.

- order-requested given up on: rejected (reason reservation_failed), nothing taken; replayed, nothing.
- order.failed (the order service gave up): the stock comes back and the cart is rejected
  (reason order_failed); again, or late for an earlier attempt, nothing.
- order.cancelled given up on: the stock comes back all the same.
"""

import uuid

import pytest
from django.db import transaction

from apps.events.contracts import Line, OrderFailed, OrderRequested
from apps.events.models import OutboxEvent
from apps.inventory import services
from apps.inventory.enums import MovementKind, ReservationStatus
from apps.inventory.handlers import GIVE_UP_HOOKS, HANDLERS
from apps.inventory.models import Reservation, StockMovement
from apps.inventory.tests.audit import conservation_breaches, stock
from apps.inventory.tests.factories import lines, order_cancelled
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["inventory"])


def handle(event, envelope=None):
    with transaction.atomic(using="inventory"):
        HANDLERS[event.event_type()](event, envelope or envelope_of(event))


def give_up(event, envelope=None):
    """As the task does after the last retry: the hook in the dead letter's transaction."""
    with transaction.atomic(using="inventory"):
        GIVE_UP_HOOKS[event.event_type()](event, envelope or envelope_of(event), "RuntimeError: a bug")


def published(event_type: str) -> list[dict]:
    return list(
        OutboxEvent.objects.using("inventory")
        .filter(event_type=event_type)
        .order_by("id")
        .values_list("payload", flat=True)
    )


def requested(*pairs, cart_id=None, attempt=1) -> OrderRequested:
    return OrderRequested(
        cart_id=cart_id or uuid.uuid4(), customer_id=uuid.uuid4(), items=lines(*pairs), attempt=attempt
    )


def failed(request: OrderRequested, attempt=None) -> OrderFailed:
    return OrderFailed(
        cart_id=request.cart_id,
        customer_id=request.customer_id,
        reason="the order could not be made",
        items=request.items,
        attempt=attempt or request.attempt,
    )


@pytest.fixture
def shelves():
    services.inventory_create(product_sku="LAP-001", quantity=5)


def test_a_request_given_up_on_is_rejected_without_taking_stock(shelves):
    # given
    request = requested(("LAP-001", 2))

    # when
    give_up(request)

    # then
    assert stock() == {"LAP-001": 5}
    reservation = Reservation.objects.get(cart_id=request.cart_id)
    assert (reservation.status, reservation.attempt) == (ReservationStatus.REJECTED, 1)
    [rejected] = published("stock.rejected")
    assert rejected == {
        "attempt": 1,
        "cart_id": str(request.cart_id),
        "customer_id": str(request.customer_id),
        "reason": "reservation_failed",
        "details": [],
    }


def test_a_request_given_up_on_and_replayed_later_has_no_effect(shelves):
    # given
    request = requested(("LAP-001", 2))
    envelope = envelope_of(request)
    give_up(request, envelope)

    # when: the dead letter is replayed, its cause fixed
    handle(request, envelope)

    # then
    assert stock() == {"LAP-001": 5}
    assert published("stock-available") == []
    assert len(published("stock.rejected")) == 1


def test_the_cart_asks_again_after_a_request_given_up_on(shelves):
    first = requested(("LAP-001", 2))
    give_up(first)

    handle(requested(("LAP-001", 2), cart_id=first.cart_id, attempt=2))

    assert stock() == {"LAP-001": 3}
    assert Reservation.objects.get(cart_id=first.cart_id).status == ReservationStatus.RESERVED


def test_a_request_decided_before_its_give_up_stays_decided(shelves):
    # given: another delivery of the request reserved the stock
    request = requested(("LAP-001", 2))
    handle(request)

    # when
    give_up(request)

    # then
    assert stock() == {"LAP-001": 3}
    assert published("stock.rejected") == []


def test_an_order_that_could_not_be_made_returns_its_stock_and_rejects_the_cart_once(shelves):
    # given
    request = requested(("LAP-001", 2))
    handle(request)

    # when: the order service gave up, and its event comes twice (a re-publish with a new id)
    handle(failed(request))
    handle(failed(request))

    # then
    assert stock() == {"LAP-001": 5}
    assert conservation_breaches() == []
    reservation = Reservation.objects.get(cart_id=request.cart_id)
    assert reservation.status == ReservationStatus.REJECTED
    [rejected] = published("stock.rejected")
    assert (rejected["reason"], rejected["attempt"], rejected["details"]) == ("order_failed", 1, [])
    assert rejected["customer_id"] == str(request.customer_id)
    assert list(StockMovement.objects.filter(kind=MovementKind.RELEASED).values_list("delta", "reference")) == [
        (2, f"cart:{request.cart_id}")
    ]


def test_a_late_failure_of_an_earlier_attempt_leaves_the_new_reservation_alone(shelves):
    # given: attempt 1 failed and was released; the cart asked again and has its stock
    first = requested(("LAP-001", 2))
    handle(first)
    handle(failed(first))
    second = requested(("LAP-001", 1), cart_id=first.cart_id, attempt=2)
    handle(second)

    # when: attempt 1's failure again (its dead letter replayed after its hook released the stock)
    give_up(failed(first))

    # then
    assert stock() == {"LAP-001": 4}
    assert Reservation.objects.get(cart_id=first.cart_id).status == ReservationStatus.RESERVED
    assert len(published("stock.rejected")) == 1


def test_a_cancellation_given_up_on_still_returns_the_stock(shelves):
    request = requested(("LAP-001", 2))
    handle(request)

    give_up(order_cancelled(request))
    give_up(order_cancelled(request))

    assert stock() == {"LAP-001": 5}
    assert Reservation.objects.get(cart_id=request.cart_id).status == ReservationStatus.RELEASED


def test_every_step_inventory_consumes_has_a_give_up():
    assert set(GIVE_UP_HOOKS) == set(HANDLERS)


def test_an_unnumbered_request_is_decided_as_before(shelves):
    """Published before attempts were numbered: a rejected cart may ask again with any request."""
    cart_id = uuid.uuid4()
    handle(OrderRequested(cart_id=cart_id, customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=9)]))
    handle(OrderRequested(cart_id=cart_id, customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=1)]))

    assert stock() == {"LAP-001": 4}
