"""The outbox is bounded: what Pub/Sub can never take is parked and never holds up the rows behind it."""

import uuid

import pytest
from django.db import transaction
from google.api_core import exceptions
from pydantic import ValidationError

from apps.events.contracts import MAX_LINES, Line, OrderCancelled, OrderCreated, OrderRequested, StockRejected
from apps.events.models import OutboxEvent
from apps.events.outbox import EventTooLarge
from testsupport.events import recorded
from workers.relay import MAX_MESSAGE_BYTES, OutboxRelay, PublishingStalled

pytestmark = pytest.mark.django_db(databases=["cart", "inventory"])


class FakePublish:
    """The Publish RPC: refuses the events named in ``refuse`` (with that error), takes the rest."""

    def __init__(self, refuse: dict | None = None):
        self.refuse = refuse or {}
        self.calls: list[list[str]] = []
        self.sent: list[str] = []

    def publish(self, *, topic, messages, timeout):
        event_ids = [message.attributes["event_id"] for message in messages]
        self.calls.append(event_ids)
        for event_id in event_ids:
            if event_id in self.refuse:
                raise self.refuse[event_id]
        self.sent.extend(event_ids)


def order_requested(**extra) -> OrderRequested:
    return OrderRequested(
        cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=1)], **extra
    )


def record(*events, using: str = "cart") -> list[OutboxEvent]:
    with transaction.atomic(using=using):
        return [recorded(event, using=using) for event in events]


def test_a_row_pub_sub_refuses_fails_alone_and_is_parked_after_n_attempts_with_its_error(settings):
    settings.OUTBOX_MAX_PUBLISH_ATTEMPTS = 3
    bad, good = record(order_requested(), order_requested())
    publish = FakePublish(refuse={str(bad.event_id): exceptions.InvalidArgument("attribute too long")})
    relay = OutboxRelay(["cart"], publisher=publish)

    assert relay.publish_batch("cart") == 2
    # the batch's call failed as a whole; tried row by row, the good one went out
    assert publish.sent == [str(good.event_id)]
    bad.refresh_from_db(using="cart")
    assert (bad.publish_attempts, bad.parked_at) == (1, None)

    with pytest.raises(PublishingStalled):  # the bad row alone: nothing published, the database backs off
        relay.publish_batch("cart")
    assert relay.publish_batch("cart") == 1  # the third attempt: parked, no stall

    bad.refresh_from_db(using="cart")
    assert bad.publish_attempts == 3
    assert bad.parked_at is not None
    assert bad.published_at is None
    assert bad.last_error == "InvalidArgument: 400 attribute too long"
    # parked: the relay takes it no more, and the rows behind it go out
    behind = record(order_requested())[0]
    assert relay.publish_batch("cart") == 1
    assert publish.sent == [str(good.event_id), str(behind.event_id)]


def test_a_row_too_large_for_pub_sub_is_parked_unsent_and_the_rest_of_its_batch_goes_out(settings):
    settings.OUTBOX_MAX_PAYLOAD_BYTES = 2 * MAX_MESSAGE_BYTES  # as if recorded before the source bound
    huge, small = record(order_requested(note="x" * MAX_MESSAGE_BYTES), order_requested())
    publish = FakePublish()

    assert OutboxRelay(["cart"], publisher=publish).publish_batch("cart") == 2

    assert publish.calls == [[str(small.event_id)]]  # never sent: the emulator hangs on such a request
    huge.refresh_from_db(using="cart")
    assert huge.parked_at is not None
    assert huge.publish_attempts == 1
    assert huge.last_error.startswith("MessageTooLarge")


def test_a_batch_is_cut_into_requests_pub_sub_accepts(settings):
    settings.OUTBOX_MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES
    rows = record(*(order_requested(note="x" * 4_000_000) for _ in range(3)))
    publish = FakePublish()

    assert OutboxRelay(["cart"], publisher=publish).publish_batch("cart") == 3

    assert [len(call) for call in publish.calls] == [2, 1]  # 8 MB, then 4 MB: each under 10 MB
    assert sorted(publish.sent) == sorted(str(row.event_id) for row in rows)


def test_an_unreachable_pub_sub_stalls_but_never_parks(settings):
    settings.OUTBOX_MAX_PUBLISH_ATTEMPTS = 2
    [row] = record(order_requested())
    publish = FakePublish(refuse={str(row.event_id): exceptions.ServiceUnavailable("connection refused")})
    relay = OutboxRelay(["cart"], publisher=publish)

    for _ in range(4):
        with pytest.raises(PublishingStalled):
            relay.publish_batch("cart")

    row.refresh_from_db(using="cart")
    assert row.publish_attempts == 4
    assert row.parked_at is None


def test_a_payload_over_the_bound_is_refused_where_it_is_recorded(settings):
    settings.OUTBOX_MAX_PAYLOAD_BYTES = 1_000

    with pytest.raises(EventTooLarge), transaction.atomic(using="cart"):
        recorded(order_requested(note="x" * 1_000), using="cart")

    assert not OutboxEvent.objects.using("cart").exists()


def test_the_contract_payloads_are_bounded_far_below_the_source_bound(settings):
    # the largest stock.rejected the saga can produce: one shortfall per line of the largest request
    details = [{"product_sku": "S" * 64, "requested": 10**12, "available": 10**12} for _ in range(100)]
    event = StockRejected(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), details=details)
    with transaction.atomic(using="inventory"):
        row = recorded(event, using="inventory")
    assert len(str(row.payload)) < settings.OUTBOX_MAX_PAYLOAD_BYTES / 50


@pytest.mark.parametrize("event_class", [StockRejected, OrderCreated, OrderCancelled])
def test_the_lists_events_carry_are_bounded_by_the_lines_one_order_may_hold(event_class):
    line = {"product_sku": "A1", "quantity": 1, "price": "1.00", "requested": 2, "available": 1}
    fields = {"cart_id": uuid.uuid4(), "customer_id": uuid.uuid4(), "order_id": uuid.uuid4(), "total_amount": "1.00"}
    if event_class is OrderCancelled:
        fields["reason"] = "cancelled"
    listed = "details" if event_class is StockRejected else "items"

    event_class(**fields, **{listed: [line] * MAX_LINES})
    with pytest.raises(ValidationError):
        event_class(**fields, **{listed: [line] * (MAX_LINES + 1)})
