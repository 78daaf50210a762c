"""Re-drive: events a subscribed service never received are published again, and only those."""

import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone

from apps.events.contracts import Line, OrderRequested
from apps.events.models import OutboxEvent, ProcessedMessage
from shop import registry
from shop.celery import app as celery_app
from testsupport.events import recorded
from workers.redrive import Redriver, broker_backlog, redrive
from workers.relay import OutboxRelay

pytestmark = pytest.mark.django_db(databases=["cart", "inventory"])


def published(seconds_ago: float) -> OutboxEvent:
    """An order-requested in the cart's outbox, published ``seconds_ago`` (inventory consumes it)."""
    items = [Line(product_sku="LAP-001", quantity=1)]
    event = OrderRequested(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=items)
    with transaction.atomic(using="cart"):
        row = recorded(event, using="cart", ordering_key=str(event.cart_id))
    at = timezone.now() - timedelta(seconds=seconds_ago)
    OutboxEvent.objects.using("cart").filter(pk=row.pk).update(published_at=at, first_published_at=at)
    return row


def nothing_queued(consumers) -> dict:
    """The broker's answer for consumers that keep up: no task of theirs is waiting."""
    return {service.name: 0 for service in consumers}


def received_by_inventory(row: OutboxEvent, status: str = "success") -> None:
    ProcessedMessage.objects.using("inventory").create(
        message_id=str(row.event_id), event_type=row.event_type, service_name="inventory-service", status=status
    )


def pending_ids() -> set:
    return set(OutboxEvent.objects.using("cart").filter(published_at__isnull=True).values_list("pk", flat=True))


def test_what_the_consumer_never_received_is_published_again_and_nothing_else(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    lost = published(seconds_ago=120)
    done, failing = published(seconds_ago=120), published(seconds_ago=120)
    received_by_inventory(done)
    received_by_inventory(failing, status="failed")  # received: its retries are Celery's business
    in_flight, too_old = published(seconds_ago=10), published(seconds_ago=3600)

    assert redrive(["cart"], backlog=nothing_queued) == 1

    assert pending_ids() == {lost.pk}
    lost.refresh_from_db(using="cart")
    assert lost.last_error.startswith("re-driven")
    for row in (done, failing, in_flight, too_old):
        row.refresh_from_db(using="cart")
        assert row.published_at is not None


def test_a_row_the_relay_is_publishing_again_already_is_left_alone(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    row = published(seconds_ago=120)
    OutboxEvent.objects.using("cart").filter(pk=row.pk).update(published_at=None)

    assert redrive(["cart"], backlog=nothing_queued) == 0
    assert pending_ids() == {row.pk}


def test_a_sweep_looks_again_only_past_what_it_saw_received(settings, django_assert_num_queries):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    redriver = Redriver(["cart"], backlog=nothing_queued)
    first, second = published(seconds_ago=200), published(seconds_ago=150)
    received_by_inventory(first)
    received_by_inventory(second)

    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == second.pk

    # Nothing new: the next sweep reads the outbox past the watermark and finds nothing to check.
    with django_assert_num_queries(0, using="inventory"):
        assert redriver.sweep() == 0


def test_the_watermark_waits_for_a_row_still_in_its_grace(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    redriver = Redriver(["cart"], backlog=nothing_queued)
    young = published(seconds_ago=10)
    older = published(seconds_ago=120)  # published first, but recorded after ``young``
    received_by_inventory(older)

    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == young.pk - 1

    # ``young`` ages past its grace and was never received: the next sweep still sees it.
    OutboxEvent.objects.using("cart").filter(pk=young.pk).update(published_at=timezone.now() - timedelta(seconds=90))
    assert redriver.sweep() == 1
    assert pending_ids() == {young.pk}


def test_a_re_driven_row_is_checked_again_after_its_new_publication(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    redriver = Redriver(["cart"], backlog=nothing_queued)
    lost, after = published(seconds_ago=120), published(seconds_ago=120)
    received_by_inventory(after)

    assert redriver.sweep() == 1
    assert redriver.received_through["cart"] == lost.pk - 1

    # The relay publishes it again, and that copy is lost too: once past the grace, it is re-driven again.
    OutboxEvent.objects.using("cart").filter(pk=lost.pk).update(published_at=timezone.now() - timedelta(seconds=61))
    assert redriver.sweep() == 1
    # Once received, the watermark moves past it and past what followed.
    OutboxEvent.objects.using("cart").filter(pk=lost.pk).update(published_at=timezone.now() - timedelta(seconds=61))
    received_by_inventory(lost)
    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == after.pk


# --- Bounds: a frozen clock, a relay publishing through a fake, a consumer that never receives ------


class FrozenClock:
    """``now()`` stands still until the test moves it."""

    def __init__(self):
        self.at = timezone.now()

    def __call__(self):
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Accepting:
    """A Publish RPC that takes everything (what Pub/Sub did with it is the test's business)."""

    def __init__(self):
        self.sent: list[str] = []

    def publish(self, *, topic, messages, timeout):
        self.sent.extend(message.attributes["event_id"] for message in messages)


def lost_event(clock: FrozenClock) -> tuple[OutboxEvent, OutboxRelay]:
    """An order-requested the relay publishes at ``clock``'s time, and that inventory never receives."""
    items = [Line(product_sku="LAP-001", quantity=1)]
    event = OrderRequested(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=items)
    with transaction.atomic(using="cart"):
        row = recorded(event, using="cart", ordering_key=str(event.cart_id))
    relay = OutboxRelay(["cart"], publisher=Accepting(), clock=clock)
    assert relay.publish_batch("cart") == 1
    return row, relay


def test_the_window_counts_from_the_first_publication_however_often_it_is_re_driven(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS, settings.REDRIVE_MAX_PER_EVENT = 60, 600, 1000
    clock = FrozenClock()
    row, relay = lost_event(clock)
    redriver = Redriver(["cart"], clock=clock, backlog=nothing_queued)

    redriven = 0
    for _ in range(20):  # 20 minutes, a sweep and a re-publication every minute
        clock.advance(61)
        redriven += redriver.sweep()
        relay.publish_batch("cart")

    row.refresh_from_db(using="cart")
    assert redriven == 9  # 61 s .. 549 s after the first publication; from 610 s on it is out of the window
    assert row.redrive_count == 9
    assert row.first_published_at < row.published_at
    assert relay.publisher.sent == [str(row.event_id)] * 10


def test_an_event_never_received_is_re_published_a_bounded_number_of_times_then_given_up_on(settings, caplog):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS, settings.REDRIVE_MAX_PER_EVENT = 60, 600, 3
    clock = FrozenClock()
    row, relay = lost_event(clock)
    redriver = Redriver(["cart"], clock=clock, backlog=nothing_queued)

    for _ in range(3):
        clock.advance(61)
        assert redriver.sweep() == 1
        relay.publish_batch("cart")
    clock.advance(61)
    with caplog.at_level("ERROR", logger="workers.redrive"):
        assert redriver.sweep() == 0

    row.refresh_from_db(using="cart")
    assert row.redrive_count == 3
    assert row.redrive_given_up_at == clock()
    assert row.last_error.startswith("re-drive gave up after 3 re-publications: inventory-service")
    assert redriver.given_up == 1
    assert str(row.event_id) in caplog.text
    # Given up: it holds the watermark no more, and is never re-published nor given up on again.
    later = published(seconds_ago=0)
    received_by_inventory(later)
    OutboxEvent.objects.using("cart").filter(pk=later.pk).update(published_at=clock(), first_published_at=clock())
    clock.advance(61)
    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == later.pk
    assert Redriver(["cart"], clock=clock, backlog=nothing_queued).sweep() == 0  # nor by a restarted relay
    assert redriver.given_up == 1
    assert len(relay.publisher.sent) == 4


def test_what_a_lagging_consumer_still_has_queued_is_not_re_driven(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    clock = FrozenClock()
    row, _relay = lost_event(clock)
    queued = {"inventory": 1}
    redriver = Redriver(
        ["cart"], clock=clock, backlog=lambda consumers: {s.name: queued.get(s.name, 0) for s in consumers}
    )

    clock.advance(300)  # long past the grace, but inventory has tasks waiting at the broker
    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == row.pk - 1

    queued["inventory"] = None  # the broker cannot say: still nobody is judged lost
    assert redriver.sweep() == 0

    queued["inventory"] = 0  # its queue drained and the event is still not in its inbox: lost
    assert redriver.sweep() == 1


def test_a_consumer_database_that_is_unreachable_holds_back_only_its_own_judgement(settings, monkeypatch):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    clock = FrozenClock()
    row, _relay = lost_event(clock)
    clock.advance(120)
    calls = []

    class Unreachable:
        """A consumer's inbox whose database refuses connections."""

        def using(self, database):
            calls.append(database)
            raise OperationalError("connection refused")

    monkeypatch.setattr("workers.redrive.ProcessedMessage.objects", Unreachable())
    redriver = Redriver(["cart"], clock=clock, backlog=nothing_queued)

    assert redriver.sweep() == 0  # not judged lost: it may well be in that inbox
    assert calls == ["inventory"]
    assert redriver.received_through["cart"] == row.pk - 1


@pytest.mark.integration
def test_the_broker_says_which_consumer_is_lagging(settings, queue_prefix):
    # given: an event inventory has not processed yet, and a task still waiting in its RabbitMQ queue
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    published(seconds_ago=120)
    inventory = registry.SERVICES["inventory"]
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        channel.queue_declare(queue=inventory.queue, durable=True, auto_delete=False)
        channel.basic_publish(channel.prepare_message(b"{}"), exchange="", routing_key=inventory.queue)
    assert broker_backlog([inventory, registry.SERVICES["cart"]]) == {"inventory": 1, "cart": 0}

    # then: lagging, not losing: nothing is re-driven
    assert redrive(["cart"]) == 0

    # when: the queue drains and the event is still not in inventory's inbox, it was lost
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(inventory.queue)
    assert redrive(["cart"]) == 1
