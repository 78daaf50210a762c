"""Reserving and returning stock, and invariant 2 (stock conservation) across long sequences.

Invariant 2 is checked on inventory's own records: a reservation that stands is an order that
is confirmed and not cancelled, so for every SKU
    on hand + units in reservations still reserved == stock ever put in (ADJUSTED movements).
"""

import random
import uuid

import pytest
from django.db import transaction

from apps.inventory import services
from apps.inventory.enums import ReservationStatus
from apps.inventory.handlers import HANDLERS
from apps.inventory.models import Reservation
from apps.inventory.reservations import stock_reserve, stock_return
from apps.inventory.tests.audit import conservation_breaches, reserved_units, stock
from apps.inventory.tests.factories import lines, order_cancelled, order_requested
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["inventory"])

SKUS = ("HPH-001", "LAP-001", "PHN-001")


def reserve(cart_id, *pairs):
    with transaction.atomic(using="inventory"):
        return stock_reserve(cart_id=cart_id, customer_id=uuid.UUID(int=1), items=lines(*pairs))


def give_back(cart_id):
    with transaction.atomic(using="inventory"):
        return stock_return(cart_id=cart_id, reference="test")


def handle(event):
    with transaction.atomic(using="inventory"):
        HANDLERS[event.event_type()](event, envelope_of(event))


def test_stock_reserve_answers_whether_the_cart_holds_its_stock():
    services.inventory_create(product_sku="LAP-001", quantity=3)
    short, fits = uuid.uuid4(), uuid.uuid4()

    assert reserve(short, ("LAP-001", 4)) is False
    assert reserve(fits, ("LAP-001", 3)) is True
    assert reserve(fits, ("LAP-001", 3)) is True  # decided already: still reserved, nothing taken
    assert reserve(short, ("LAP-001", 1)) is False  # asked again, and still short

    assert stock() == {"LAP-001": 0}
    assert conservation_breaches() == []


def test_stock_return_answers_whether_stock_came_back():
    services.inventory_create(product_sku="LAP-001", quantity=3)
    reserved, rejected = uuid.uuid4(), uuid.uuid4()
    reserve(reserved, ("LAP-001", 2))
    reserve(rejected, ("LAP-001", 9))

    assert give_back(reserved) is True
    assert give_back(reserved) is False
    assert give_back(rejected) is False
    assert give_back(uuid.uuid4()) is False

    assert stock() == {"LAP-001": 3}
    assert conservation_breaches() == []


def test_stock_is_conserved_through_a_mixed_sequence_of_reservations_rejections_and_cancellations():
    # given stock put in by staff
    services.inventory_create(product_sku="LAP-001", quantity=10)
    services.inventory_create(product_sku="PHN-001", quantity=4)

    # when carts reserve, are rejected, ask again and have their orders cancelled
    a = order_requested(("LAP-001", 3), ("PHN-001", 2))
    b = order_requested(("PHN-001", 3))  # short: 2 left
    c = order_requested(("LAP-001", 4), ("LAP-001", 3))  # 7 of 7 left
    d = order_requested(("LAP-001", 1), ("TAB-001", 1))  # no TAB-001 at all
    for event in (a, b, c, d):
        handle(event)
    assert conservation_breaches() == []
    handle(order_cancelled(a))  # LAP-001 +3, PHN-001 +2
    handle(b)  # now fits: PHN-001 4 on hand
    handle(order_cancelled(a))  # a second cancellation returns nothing
    handle(order_cancelled(d))  # rejected: returns nothing
    services.inventory_set_quantity(product_sku="PHN-001", quantity=5)  # a delivery
    services.inventory_delete(product_sku="LAP-001")  # discontinued, 3 on hand written off
    handle(order_cancelled(c))  # LAP-001's level is recreated with 7
    handle(d)  # still no TAB-001

    # then
    assert {str(r.cart_id): r.status for r in Reservation.objects.all()} == {
        str(a.cart_id): ReservationStatus.RELEASED,
        str(b.cart_id): ReservationStatus.RESERVED,
        str(c.cart_id): ReservationStatus.RELEASED,
        str(d.cart_id): ReservationStatus.REJECTED,
    }
    assert stock() == {"LAP-001": 7, "PHN-001": 5}
    assert reserved_units() == {"PHN-001": 3}
    assert conservation_breaches() == []


@pytest.mark.parametrize("seed", range(6))
def test_stock_is_conserved_after_any_sequence_of_saga_events_and_staff_changes(seed):
    rng = random.Random(seed)
    for sku in SKUS:
        services.inventory_create(product_sku=sku, quantity=rng.randint(0, 8))
    carts: list = []

    for _ in range(80):
        step = rng.choices(["request", "again", "cancel", "restock", "delete"], weights=[6, 2, 3, 1, 1])[0]
        if step == "request" or (step in ("again", "cancel") and not carts):
            pairs = [(rng.choice((*SKUS, "TAB-001")), rng.randint(1, 4)) for _ in range(rng.randint(1, 3))]
            carts.append(order_requested(*pairs))
            handle(carts[-1])
        elif step == "again":
            handle(rng.choice(carts))
        elif step == "cancel":
            handle(order_cancelled(rng.choice(carts)))
        elif step == "restock":
            sku = rng.choice(SKUS)
            if sku in stock():
                services.inventory_set_quantity(product_sku=sku, quantity=rng.randint(0, 10))
            else:
                services.inventory_create(product_sku=sku, quantity=rng.randint(0, 10))
        elif step == "delete" and (on_hand := sorted(stock())):
            services.inventory_delete(product_sku=rng.choice(on_hand))

        assert conservation_breaches() == [], f"after {step}"

    # the run went through every outcome
    assert set(Reservation.objects.values_list("status", flat=True)) == set(ReservationStatus.values)
