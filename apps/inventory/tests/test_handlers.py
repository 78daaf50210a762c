"""The inventory side of the saga: order-requested reserves all items or none, order.cancelled
returns them once. Handlers run inside the inventory transaction, as the inbox runs them."""

import pytest
from django.db import transaction

from apps.events.contracts import OrderCancelled, OrderRequested, StockAvailable, StockRejected
from apps.events.models import OutboxEvent
from apps.inventory import services
from apps.inventory.enums import MovementKind, ReservationStatus
from apps.inventory.handlers import HANDLERS, on_order_cancelled, on_order_failed, on_order_requested
from apps.inventory.models import InventoryItem, Reservation, StockMovement
from apps.inventory.tests.audit import conservation_breaches, stock
from apps.inventory.tests.factories import order_cancelled, order_requested
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["inventory"])


def handle(event, event_id=None):
    with transaction.atomic(using="inventory"):
        HANDLERS[event.event_type()](event, envelope_of(event, event_id))


def outbox() -> list[tuple[str, dict]]:
    return list(OutboxEvent.objects.using("inventory").order_by("id").values_list("event_type", "payload"))


def movements(kind=None) -> list[tuple[str, int, str, str]]:
    rows = StockMovement.objects.order_by("id")
    if kind is not None:
        rows = rows.filter(kind=kind)
    return list(rows.values_list("product_sku", "delta", "kind", "reference"))


def status(event) -> str | None:
    reservation = Reservation.objects.filter(cart_id=event.cart_id).first()
    return reservation.status if reservation else None


@pytest.fixture
def shelves():
    """LAP-001 x5, PHN-001 x3, HPH-001 x0 on hand, each put in through the staff service."""
    services.inventory_create(product_sku="LAP-001", quantity=5)
    services.inventory_create(product_sku="PHN-001", quantity=3)
    services.inventory_create(product_sku="HPH-001", quantity=0)


def test_the_handler_map_names_the_contract_topics():
    assert {
        "order-requested": on_order_requested,
        "order.cancelled": on_order_cancelled,
        "order.failed": on_order_failed,
    } == HANDLERS
    assert OrderRequested.topic == "order-requested"
    assert OrderCancelled.topic == "order.cancelled"


# --- order-requested: enough stock ---------------------------------------------------------------


def test_enough_stock_reserves_every_item_and_publishes_stock_available(shelves):
    # given
    event = order_requested(("LAP-001", 2), ("PHN-001", 3))

    # when
    handle(event)

    # then every item is taken from stock, with its movement (one statement writes them all, in
    # whatever order PostgreSQL's UPDATE ... RETURNING yields the rows)
    assert stock() == {"LAP-001": 3, "PHN-001": 0, "HPH-001": 0}
    assert sorted(movements(MovementKind.RESERVED)) == [
        ("LAP-001", -2, "reserved", f"cart:{event.cart_id}"),
        ("PHN-001", -3, "reserved", f"cart:{event.cart_id}"),
    ]
    reservation = Reservation.objects.get(cart_id=event.cart_id)
    assert reservation.status == ReservationStatus.RESERVED
    assert reservation.customer_id == event.customer_id
    assert reservation.items == [{"product_sku": "LAP-001", "quantity": 2}, {"product_sku": "PHN-001", "quantity": 3}]
    # and exactly one stock-available, with the contract payload
    assert outbox() == [
        (
            "stock-available",
            {
                "cart_id": str(event.cart_id),
                "customer_id": str(event.customer_id),
                "items": [{"product_sku": "LAP-001", "quantity": 2}, {"product_sku": "PHN-001", "quantity": 3}],
            },
        )
    ]
    assert conservation_breaches() == []


def test_stock_available_is_keyed_on_the_cart_for_ordering_and_correlation(shelves):
    event = order_requested(("LAP-001", 1))

    handle(event)

    [recorded] = OutboxEvent.objects.using("inventory").all()
    assert (recorded.topic, recorded.schema_version) == (StockAvailable.topic, StockAvailable.schema_version)
    assert recorded.ordering_key == str(event.cart_id)
    assert recorded.correlation_id == event.cart_id
    assert recorded.published_at is None
    StockAvailable.model_validate(recorded.payload)


def test_other_skus_are_left_alone(shelves):
    handle(order_requested(("PHN-001", 1)))

    assert stock() == {"LAP-001": 5, "PHN-001": 2, "HPH-001": 0}
    assert [sku for sku, *_ in movements(MovementKind.RESERVED)] == ["PHN-001"]


def test_duplicate_skus_in_one_request_are_reserved_as_their_sum(shelves):
    event = order_requested(("LAP-001", 2), ("PHN-001", 1), ("LAP-001", 3))

    handle(event)

    assert stock()["LAP-001"] == 0
    assert stock()["PHN-001"] == 2
    assert sorted((sku, delta) for sku, delta, *_ in movements(MovementKind.RESERVED)) == [
        ("LAP-001", -5),
        ("PHN-001", -1),
    ]
    assert Reservation.objects.get(cart_id=event.cart_id).items == [
        {"product_sku": "LAP-001", "quantity": 5},
        {"product_sku": "PHN-001", "quantity": 1},
    ]
    [(event_type, payload)] = outbox()
    assert event_type == "stock-available"
    published = {}
    for line in payload["items"]:
        published[line["product_sku"]] = published.get(line["product_sku"], 0) + line["quantity"]
    assert published == {"LAP-001": 5, "PHN-001": 1}
    assert conservation_breaches() == []


# --- order-requested: not enough stock -----------------------------------------------------------


def test_one_short_item_reserves_nothing_at_all_and_publishes_stock_rejected(shelves):
    # given LAP-001 would fit, PHN-001 is one short and TAB-001 has no stock level at all
    event = order_requested(("LAP-001", 2), ("PHN-001", 4), ("TAB-001", 1))

    # when
    handle(event)

    # then nothing is taken from any SKU
    assert stock() == {"LAP-001": 5, "PHN-001": 3, "HPH-001": 0}
    assert movements(MovementKind.RESERVED) == []
    assert not InventoryItem.objects.filter(product_sku="TAB-001").exists()
    assert status(event) == ReservationStatus.REJECTED
    # and exactly one stock.rejected names the short items with what was requested and available
    [(event_type, payload)] = outbox()
    assert event_type == "stock.rejected"
    assert payload == {
        "cart_id": str(event.cart_id),
        "customer_id": str(event.customer_id),
        "reason": "insufficient_stock",
        "details": [
            {"product_sku": "PHN-001", "requested": 4, "available": 3},
            {"product_sku": "TAB-001", "requested": 1, "available": 0},
        ],
    }
    StockRejected.model_validate(payload)
    assert conservation_breaches() == []


@pytest.mark.parametrize(
    ("items", "details"),
    [
        ([("LAP-001", 6)], [("LAP-001", 6, 5)]),
        ([("HPH-001", 1)], [("HPH-001", 1, 0)]),
        ([("NOPE-001", 2)], [("NOPE-001", 2, 0)]),
        ([("PHN-001", 3), ("LAP-001", 6)], [("LAP-001", 6, 5)]),
        ([("LAP-001", 9), ("PHN-001", 9)], [("LAP-001", 9, 5), ("PHN-001", 9, 3)]),
    ],
    ids=["over-stock", "zero-stock", "no-stock-level", "last-item-short", "every-item-short"],
)
def test_any_short_item_rejects_the_whole_request(shelves, items, details):
    event = order_requested(*items)

    handle(event)

    assert stock() == {"LAP-001": 5, "PHN-001": 3, "HPH-001": 0}
    assert movements(MovementKind.RESERVED) == []
    assert status(event) == ReservationStatus.REJECTED
    [(event_type, payload)] = outbox()
    assert event_type == "stock.rejected"
    assert payload["reason"] == "insufficient_stock"
    assert [(d["product_sku"], d["requested"], d["available"]) for d in payload["details"]] == details


def test_duplicate_skus_are_summed_before_stock_is_checked(shelves):
    # given each line alone would fit in the 3 on hand, together they do not
    event = order_requested(("PHN-001", 2), ("PHN-001", 2))

    handle(event)

    assert stock()["PHN-001"] == 3
    assert movements(MovementKind.RESERVED) == []
    [(event_type, payload)] = outbox()
    assert event_type == "stock.rejected"
    assert payload["details"] == [{"product_sku": "PHN-001", "requested": 4, "available": 3}]


# --- The same cart asking again ------------------------------------------------------------------


def test_a_rejected_cart_asking_again_is_reserved_once_the_stock_is_there(shelves):
    # given a rejection
    event = order_requested(("LAP-001", 7))
    handle(event)
    services.inventory_set_quantity(product_sku="LAP-001", quantity=10)

    # when the cart is converted again (a new event)
    handle(event)

    # then
    assert stock()["LAP-001"] == 3
    assert movements(MovementKind.RESERVED) == [("LAP-001", -7, "reserved", f"cart:{event.cart_id}")]
    assert status(event) == ReservationStatus.RESERVED
    assert [event_type for event_type, _ in outbox()] == ["stock.rejected", "stock-available"]
    assert conservation_breaches() == []


def test_a_rejected_cart_asking_again_with_other_items_is_judged_on_those(shelves):
    first = order_requested(("LAP-001", 7))
    handle(first)
    edited = order_requested(("LAP-001", 1), ("PHN-001", 1), cart_id=first.cart_id, customer_id=first.customer_id)

    handle(edited)

    assert stock() == {"LAP-001": 4, "PHN-001": 2, "HPH-001": 0}
    reserved = [{"product_sku": "LAP-001", "quantity": 1}, {"product_sku": "PHN-001", "quantity": 1}]
    assert Reservation.objects.get(cart_id=first.cart_id).items == reserved
    assert [event_type for event_type, _ in outbox()] == ["stock.rejected", "stock-available"]
    assert outbox()[-1][1]["items"] == reserved


def test_a_rejected_cart_asking_again_while_still_short_is_rejected_again(shelves):
    event = order_requested(("LAP-001", 7))
    handle(event)

    handle(event)

    assert stock()["LAP-001"] == 5
    assert status(event) == ReservationStatus.REJECTED
    assert [event_type for event_type, _ in outbox()] == ["stock.rejected", "stock.rejected"]


def test_a_reserved_cart_asking_again_changes_nothing(shelves):
    # given
    event = order_requested(("LAP-001", 2))
    handle(event)
    before = (stock(), movements(), outbox())

    # when the same cart asks again, with a new event id, even for other items
    handle(event)
    handle(order_requested(("PHN-001", 1), cart_id=event.cart_id, customer_id=event.customer_id))

    # then no second decrement and no second event
    assert (stock(), movements(), outbox()) == before
    assert Reservation.objects.get(cart_id=event.cart_id).items == [{"product_sku": "LAP-001", "quantity": 2}]


def test_a_cart_whose_order_was_cancelled_asking_again_takes_no_stock(shelves):
    event = order_requested(("LAP-001", 2))
    handle(event)
    handle(order_cancelled(event))
    before = (stock(), movements())

    handle(event)

    assert (stock(), movements()) == before
    assert status(event) == ReservationStatus.RELEASED


# --- order.cancelled -----------------------------------------------------------------------------


def test_cancellation_returns_the_reserved_items_and_releases_the_reservation(shelves):
    # given
    requested = order_requested(("LAP-001", 2), ("PHN-001", 1))
    handle(requested)
    cancelled = order_cancelled(requested)

    # when
    handle(cancelled)

    # then
    assert stock() == {"LAP-001": 5, "PHN-001": 3, "HPH-001": 0}
    assert movements(MovementKind.RETURNED) == [
        ("LAP-001", 2, "returned", f"order:{cancelled.order_id}"),
        ("PHN-001", 1, "returned", f"order:{cancelled.order_id}"),
    ]
    assert status(requested) == ReservationStatus.RELEASED
    assert [event_type for event_type, _ in outbox()] == ["stock-available"]  # nothing published on return
    assert conservation_breaches() == []


def test_a_second_cancellation_returns_nothing_more(shelves):
    # given a cancelled order
    requested = order_requested(("LAP-001", 2))
    handle(requested)
    handle(order_cancelled(requested))
    before = (stock(), movements())

    # when cancelled again: the same event re-published and another cancellation of the cart
    cancelled = order_cancelled(requested)
    handle(cancelled)
    handle(cancelled)

    # then
    assert (stock(), movements()) == before
    assert stock()["LAP-001"] == 5
    assert status(requested) == ReservationStatus.RELEASED


def test_cancellation_returns_what_was_reserved_not_what_the_event_lists(shelves):
    requested = order_requested(("LAP-001", 2))
    handle(requested)

    handle(order_cancelled(requested, items=[("LAP-001", 40), ("PHN-001", 9)]))

    assert stock() == {"LAP-001": 5, "PHN-001": 3, "HPH-001": 0}
    assert [(sku, delta) for sku, delta, *_ in movements(MovementKind.RETURNED)] == [("LAP-001", 2)]
    assert conservation_breaches() == []


def test_cancelling_a_rejected_cart_returns_nothing(shelves):
    requested = order_requested(("LAP-001", 9))
    handle(requested)

    handle(order_cancelled(requested))

    assert stock() == {"LAP-001": 5, "PHN-001": 3, "HPH-001": 0}
    assert movements(MovementKind.RETURNED) == []
    assert status(requested) == ReservationStatus.REJECTED


def test_cancelling_a_cart_inventory_never_saw_returns_nothing(shelves):
    requested = order_requested(("LAP-001", 2))

    handle(order_cancelled(requested))

    assert stock() == {"LAP-001": 5, "PHN-001": 3, "HPH-001": 0}
    assert movements(MovementKind.RETURNED) == []
    assert status(requested) is None


def test_a_stock_level_deleted_meanwhile_is_recreated_with_the_returned_units(shelves):
    # given a reservation, then the SKU's stock level deleted by staff
    requested = order_requested(("LAP-001", 2), ("PHN-001", 1))
    handle(requested)
    services.inventory_delete(product_sku="LAP-001")

    # when the order is cancelled
    handle(order_cancelled(requested))

    # then the returned units are on hand again, under a new stock level
    assert stock() == {"LAP-001": 2, "PHN-001": 3, "HPH-001": 0}
    assert [(sku, delta) for sku, delta, *_ in movements(MovementKind.RETURNED)] == [("LAP-001", 2), ("PHN-001", 1)]
    assert conservation_breaches() == []


def test_returned_units_can_be_reserved_by_another_cart(shelves):
    first = order_requested(("PHN-001", 3))
    handle(first)
    second = order_requested(("PHN-001", 3))
    handle(second)
    assert status(second) == ReservationStatus.REJECTED

    handle(order_cancelled(first))
    handle(second)

    assert status(second) == ReservationStatus.RESERVED
    assert stock()["PHN-001"] == 0
    assert conservation_breaches() == []


def test_a_cancellation_of_another_cart_leaves_this_reservation_alone(shelves):
    mine = order_requested(("LAP-001", 2))
    theirs = order_requested(("LAP-001", 1))
    handle(mine)
    handle(theirs)

    handle(order_cancelled(theirs))

    assert status(mine) == ReservationStatus.RESERVED
    assert status(theirs) == ReservationStatus.RELEASED
    assert stock()["LAP-001"] == 3
