"""Simultaneous deliveries, on real connections in real threads, through the task and the inbox.

To make the deliveries overlap for certain rather than by luck, the test's own connection holds
the lock they need, waits until PostgreSQL reports each of them waiting, and only then lets go.
"""

import threading
import uuid

import pytest
from django.db import transaction

from apps.events.models import OutboxEvent, ProcessedMessage
from apps.inventory import services
from apps.inventory.enums import MovementKind, ReservationStatus
from apps.inventory.models import InventoryItem, Reservation, StockMovement
from apps.inventory.tasks import handle_event
from apps.inventory.tests.audit import conservation_breaches, stock
from apps.inventory.tests.factories import order_cancelled, order_requested
from testsupport.concurrency import WAIT_SECONDS, ConcurrentCalls
from testsupport.events import message

pytestmark = pytest.mark.django_db(databases=["inventory"], transaction=True)


class Deliveries(ConcurrentCalls):
    database = "inventory"


def delivery(event, event_id=None):
    args = message(event, event_id)
    return lambda: handle_event(*args)


def outcomes(results) -> list[str]:
    for result in results:
        assert not isinstance(result, Exception), repr(result)
    return sorted(results)


def statuses(events) -> list[str]:
    return sorted(Reservation.objects.get(cart_id=event.cart_id).status for event in events)


def published() -> list[str]:
    return sorted(OutboxEvent.objects.using("inventory").values_list("event_type", flat=True))


def hold_stock_levels(*skus):
    """Lock the stock levels as a concurrent reservation would (the caller's transaction holds them)."""
    return list(InventoryItem.objects.select_for_update().filter(product_sku__in=skus).order_by("product_sku"))


def test_eight_carts_racing_for_three_units_reserve_exactly_three():
    # given 3 units, and 8 carts that each want 1, all waiting on the stock level at once
    services.inventory_create(product_sku="LAP-001", quantity=3)
    carts = [order_requested(("LAP-001", 1)) for _ in range(8)]
    deliveries = Deliveries(*[delivery(cart) for cart in carts])
    with transaction.atomic(using="inventory"):
        hold_stock_levels("LAP-001")
        deliveries.start()
        deliveries.wait_until_all_blocked()

    # when they proceed together
    results = deliveries.join()

    # then exactly 3 are reserved and 5 rejected; the stock is used up, never below zero
    assert outcomes(results) == ["processed"] * 8
    assert statuses(carts) == [ReservationStatus.REJECTED] * 5 + [ReservationStatus.RESERVED] * 3
    assert stock() == {"LAP-001": 0}
    assert StockMovement.objects.filter(kind=MovementKind.RESERVED).count() == 3
    assert published() == ["stock-available"] * 3 + ["stock.rejected"] * 5
    for rejection in OutboxEvent.objects.using("inventory").filter(event_type="stock.rejected"):
        assert rejection.payload["details"] == [{"product_sku": "LAP-001", "requested": 1, "available": 0}]
    assert ProcessedMessage.objects.using("inventory").filter(status="success").count() == 8
    assert conservation_breaches() == []


def test_eight_carts_racing_without_help_never_oversell():
    services.inventory_create(product_sku="LAP-001", quantity=3)
    carts = [order_requested(("LAP-001", 1)) for _ in range(8)]
    barrier = threading.Barrier(8)

    def racing(cart):
        deliver = delivery(cart)

        def run():
            barrier.wait(WAIT_SECONDS)
            return deliver()

        return run

    results = Deliveries(*[racing(cart) for cart in carts]).start().join()

    assert outcomes(results) == ["processed"] * 8
    assert statuses(carts) == [ReservationStatus.REJECTED] * 5 + [ReservationStatus.RESERVED] * 3
    assert stock() == {"LAP-001": 0}
    assert conservation_breaches() == []


def test_carts_asking_for_two_skus_in_opposite_orders_do_not_deadlock():
    # given carts that list the same two SKUs in opposite orders, all waiting at once
    services.inventory_create(product_sku="LAP-001", quantity=10)
    services.inventory_create(product_sku="PHN-001", quantity=10)
    carts = [order_requested(("LAP-001", 1), ("PHN-001", 1)) for _ in range(3)]
    carts += [order_requested(("PHN-001", 1), ("LAP-001", 1)) for _ in range(3)]
    deliveries = Deliveries(*[delivery(cart) for cart in carts])
    with transaction.atomic(using="inventory"):
        hold_stock_levels("LAP-001", "PHN-001")
        deliveries.start()
        deliveries.wait_until_all_blocked()

    # when they proceed together
    results = deliveries.join()

    # then every one is reserved: none was chosen as a deadlock victim
    assert outcomes(results) == ["processed"] * 6
    assert statuses(carts) == [ReservationStatus.RESERVED] * 6
    assert stock() == {"LAP-001": 4, "PHN-001": 4}
    assert not ProcessedMessage.objects.using("inventory").exclude(status="success").exists()
    assert conservation_breaches() == []


def test_the_same_order_requested_delivered_twice_at_once_reserves_once():
    # given one message delivered to two workers at once (one waits on the stock, one on the inbox row)
    services.inventory_create(product_sku="LAP-001", quantity=5)
    cart = order_requested(("LAP-001", 2))
    event_id = uuid.uuid4()
    deliveries = Deliveries(delivery(cart, event_id), delivery(cart, event_id))
    with transaction.atomic(using="inventory"):
        hold_stock_levels("LAP-001")
        deliveries.start()
        deliveries.wait_until_all_blocked()

    # when
    results = deliveries.join()

    # then
    assert outcomes(results) == ["duplicate", "processed"]
    assert stock() == {"LAP-001": 3}
    assert published() == ["stock-available"]
    assert list(ProcessedMessage.objects.using("inventory").values_list("message_id", "status")) == [
        (str(event_id), "success")
    ]


def test_two_cancellations_at_once_return_the_stock_once():
    # given a reserved cart, and two cancellations of its order waiting on its reservation
    services.inventory_create(product_sku="LAP-001", quantity=5)
    cart = order_requested(("LAP-001", 2))
    assert delivery(cart)() == "processed"
    deliveries = Deliveries(delivery(order_cancelled(cart)), delivery(order_cancelled(cart)))
    with transaction.atomic(using="inventory"):
        Reservation.objects.select_for_update().get(cart_id=cart.cart_id)
        deliveries.start()
        deliveries.wait_until_all_blocked()

    # when
    results = deliveries.join()

    # then
    assert outcomes(results) == ["processed", "processed"]
    assert stock() == {"LAP-001": 5}
    assert StockMovement.objects.filter(kind=MovementKind.RETURNED).count() == 1
    assert statuses([cart]) == [ReservationStatus.RELEASED]
    assert conservation_breaches() == []


@pytest.mark.parametrize("second_fits", [True, False], ids=["both-fit", "second-short"])
def test_two_requests_for_one_new_cart_at_once_take_its_stock_once(second_fits):
    # given one cart asking twice under two event ids (a producer re-publishing with a new id),
    # before inventory has decided anything for it
    services.inventory_create(product_sku="LAP-001", quantity=5)
    first = order_requested(("LAP-001", 3))
    second = order_requested(("LAP-001", 2 if second_fits else 3), cart_id=first.cart_id, customer_id=first.customer_id)
    deliveries = Deliveries(delivery(first), delivery(second))
    with transaction.atomic(using="inventory"):
        hold_stock_levels("LAP-001")
        deliveries.start()
        deliveries.wait_until_all_blocked()

    # when
    results = deliveries.join()

    # then the cart has one outcome: its stock is taken once and one stock-available is published
    assert outcomes(results) == ["processed", "processed"]
    assert published() == ["stock-available"]
    assert StockMovement.objects.filter(kind=MovementKind.RESERVED).count() == 1
    assert statuses([first]) == [ReservationStatus.RESERVED]
    assert conservation_breaches() == []
