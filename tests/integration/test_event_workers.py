"""The relay and the bridge, one step at a time, against the real Pub/Sub emulator and RabbitMQ."""

import io
import json
import threading
import time
import uuid

import pytest
from amqp.exceptions import NotFound
from django.core.management import call_command
from django.db import transaction
from google.api_core.exceptions import PermissionDenied

from apps.events.contracts import Line, OrderRequested
from apps.events.models import OutboxEvent
from apps.events.provisioning import Provisioner
from apps.events.pubsub import publisher, subscriber, subscription_path, topic_path
from shop import registry
from shop.celery import app as celery_app
from shop.topology import Subscription
from testsupport.events import recorded
from workers.bridge import Bridge, PulledMessage
from workers.relay import OutboxRelay, PublishingStalled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["cart"])]


def pull(subscription: str, count: int, *, ack: bool = True, timeout: float = 20.0) -> list:
    """Pull until ``count`` messages have arrived (acknowledging them unless told not to)."""
    client, path = subscriber(), subscription_path(subscription)
    received, deadline = [], time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        response = client.pull(request={"subscription": path, "max_messages": 100}, timeout=5)
        batch = list(response.received_messages)
        if batch and ack:
            client.acknowledge(request={"subscription": path, "ack_ids": [m.ack_id for m in batch]})
        received.extend(batch)
    return received


def broker_messages(queue: str) -> list:
    """Everything waiting in a task queue of the real broker, taken off it."""
    taken = []
    with celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            taken.append(message)
    return taken


def order_requests(count: int) -> list[OrderRequested]:
    return [
        OrderRequested(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=1)])
        for _ in range(count)
    ]


def record(events) -> list[OutboxEvent]:
    with transaction.atomic(using="cart"):
        return [recorded(e, using="cart", ordering_key=str(e.cart_id), correlation_id=e.cart_id) for e in events]


def test_the_relay_publishes_pending_rows_with_their_envelope_and_marks_them_published(provisioned):
    rows = record(order_requests(3))

    taken = OutboxRelay(["cart"]).publish_batch("cart")

    assert taken == 3
    received = [m.message for m in pull("inventory-service-order-requested", 3)]
    by_event = {m.attributes["event_id"]: m for m in received}
    assert set(by_event) == {str(row.event_id) for row in rows}
    for row in rows:
        message = by_event[str(row.event_id)]
        assert json.loads(message.data) == row.payload
        assert dict(message.attributes) == {
            "event_id": str(row.event_id),
            "event_type": "order-requested",
            "occurred_at": row.occurred_at.isoformat(),
            "schema_version": "1",
            "correlation_id": str(row.correlation_id),
            "producer": "cart-service",
        }
        assert message.ordering_key == row.ordering_key
    assert not OutboxEvent.objects.using("cart").filter(published_at__isnull=True).exists()
    assert OutboxRelay(["cart"]).publish_batch("cart") == 0  # nothing is published twice


class NotAllowed:
    """Pub/Sub admin calls as a relay without the role to create topics on Google Cloud sees them."""

    def create_topic(self, **kwargs):
        raise PermissionDenied("pubsub.topics.create denied")

    create_subscription = create_topic


def test_a_missing_topic_is_provisioned_again_with_its_subscriptions_and_published_to(project):
    # given: an emulator with nothing in it (restarted, say)
    rows = record(order_requests(2))

    assert OutboxRelay(["cart"]).publish_batch("cart") == 2

    # the topic came back with the subscription on it, so nothing published was dropped
    assert len(pull("inventory-service-order-requested", 2)) == 2
    assert not OutboxEvent.objects.using("cart").filter(published_at__isnull=True).exists()
    assert all(
        row.publish_attempts == 0 for row in OutboxEvent.objects.using("cart").filter(pk__in=[r.pk for r in rows])
    )


def test_rows_the_relay_cannot_publish_stay_pending_with_the_error_until_it_can(project):
    # given: the topics do not exist yet, and the relay may not create them
    rows = record(order_requests(2))
    relay = OutboxRelay(
        ["cart"], provisioner=Provisioner(publisher_client=NotAllowed(), subscriber_client=NotAllowed())
    )

    with pytest.raises(PublishingStalled):
        relay.publish_batch("cart")

    pending = OutboxEvent.objects.using("cart").filter(published_at__isnull=True).order_by("id")
    assert [row.pk for row in pending] == [row.pk for row in rows]
    assert all(row.publish_attempts == 1 and "NotFound" in row.last_error for row in pending)

    # when: the topics appear
    call_command("provision_pubsub", stdout=io.StringIO())

    # then: the next batch publishes them
    assert relay.publish_batch("cart") == 2
    assert len(pull("inventory-service-order-requested", 2)) == 2
    assert not OutboxEvent.objects.using("cart").filter(published_at__isnull=True).exists()


def publish_stock_rejected(count: int) -> list[str]:
    """``count`` stock.rejected events published by inventory, as the relay would; their event ids."""
    event_ids = [str(uuid.uuid4()) for _ in range(count)]
    client = publisher()
    for event_id in event_ids:
        payload = {"cart_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "details": []}
        client.publish(
            topic_path("stock.rejected"),
            json.dumps(payload).encode(),
            event_id=event_id,
            event_type="stock.rejected",
            producer="inventory-service",
        ).result(timeout=30)
    return event_ids


def test_the_bridge_hands_a_pulled_batch_to_celery_in_batched_tasks_and_dead_letters_what_it_cannot_route(
    provisioned, queue_prefix
):
    # given: three events and one message that is not JSON on the cart's stock.rejected subscription
    subscription = Subscription(registry.SERVICES["cart"], "stock.rejected")
    event_ids = publish_stock_rejected(3)
    publisher().publish(
        topic_path("stock.rejected"), b"{not json", event_id=str(uuid.uuid4()), event_type="stock.rejected"
    ).result(timeout=30)
    received = pull(subscription.name, 4, ack=False)
    assert len(received) == 4

    # when: the bridge hands them over, at most two events per task
    acks, nacks = [], []
    Bridge([subscription], task_batch=2).hand_over(subscription, [PulledMessage(m, acks, nacks) for m in received])

    # then: every message is acknowledged only now that the broker holds its task
    assert sorted(acks) == sorted(m.ack_id for m in received)
    assert nacks == []
    tasks = broker_messages(f"{queue_prefix}cart")
    assert [task.headers["task"] for task in tasks] == ["cart.handle_events", "cart.handle_events"]
    batches = [json.loads(task.body)[0][0] for task in tasks]  # protocol 2: [args, kwargs, embed]
    assert sorted(len(batch) for batch in batches) == [1, 2]
    assert sorted(attributes["event_id"] for batch in batches for _, _, attributes in batch) == sorted(event_ids)
    assert {event_type for batch in batches for event_type, _, _ in batch} == {"stock.rejected"}
    [dead] = [m.message for m in pull(subscription.dead_letter, 1)]
    assert dead.data == b"{not json"
    assert "not JSON" in dead.attributes["bridge_error"]
    assert dead.attributes["source_subscription"] == "cart-service-stock-rejected"


def stock_rejected_messages(count: int) -> tuple[Subscription, list]:
    """``count`` events published and pulled (not yet acknowledged) from the cart's stock.rejected."""
    subscription = Subscription(registry.SERVICES["cart"], "stock.rejected")
    publish_stock_rejected(count)
    received = pull(subscription.name, count, ack=False)
    assert len(received) == count
    return subscription, received


def refused(times: int):
    """send_task as during a broker restart: refused ``times`` times, then the real broker."""
    calls = []
    send = celery_app.send_task

    def send_task(*args, **kwargs):
        calls.append(args)
        if len(calls) <= times:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return send(*args, **kwargs)

    return send_task, calls


def test_a_batch_the_broker_refuses_for_a_moment_is_held_and_sent_not_handed_back(
    provisioned, queue_prefix, monkeypatch
):
    subscription, received = stock_rejected_messages(2)
    send_task, calls = refused(times=2)
    monkeypatch.setattr(celery_app, "send_task", send_task)
    bridge = Bridge([subscription])
    bridge.hold_seconds = 30

    acks, nacks = [], []
    bridge.hand_over(subscription, [PulledMessage(m, acks, nacks) for m in received])

    assert len(calls) == 3
    assert sorted(acks) == sorted(m.ack_id for m in received)
    assert nacks == []
    [task] = broker_messages(f"{queue_prefix}cart")
    assert len(json.loads(task.body)[0][0]) == 2


def test_a_batch_the_broker_keeps_refusing_goes_back_to_pub_sub(provisioned, queue_prefix, monkeypatch):
    subscription, received = stock_rejected_messages(1)
    send_task, calls = refused(times=1000)
    monkeypatch.setattr(celery_app, "send_task", send_task)
    bridge = Bridge([subscription])
    bridge.hold_seconds = 1

    acks, nacks = [], []
    bridge.hand_over(subscription, [PulledMessage(m, acks, nacks) for m in received])

    assert len(calls) > 1  # it tried again while holding the message
    assert acks == []
    assert nacks == [received[0].ack_id]


def test_the_bridge_dead_letters_a_mislabelled_event_and_one_from_a_service_that_may_not_publish_it(
    provisioned, queue_prefix
):
    # given: on the cart's stock.rejected, an order.cancelled by its label, a stock.rejected from the
    # order service, and one genuine event from inventory
    subscription = Subscription(registry.SERVICES["cart"], "stock.rejected")
    payload = json.dumps({"cart_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "details": []}).encode()
    client, topic = publisher(), topic_path("stock.rejected")
    genuine = str(uuid.uuid4())
    for event_id, event_type, producer in (
        (str(uuid.uuid4()), "order.cancelled", "order-service"),
        (str(uuid.uuid4()), "stock.rejected", "order-service"),
        (genuine, "stock.rejected", "inventory-service"),
    ):
        client.publish(topic, payload, event_id=event_id, event_type=event_type, producer=producer).result(timeout=30)
    received = pull(subscription.name, 3, ack=False)
    assert len(received) == 3

    # when
    acks, nacks = [], []
    Bridge([subscription]).hand_over(subscription, [PulledMessage(m, acks, nacks) for m in received])

    # then: only the genuine one reaches the worker; the others are dead-lettered with the reason
    assert sorted(acks) == sorted(m.ack_id for m in received)
    [task] = broker_messages(registry.SERVICES["cart"].queue)
    assert [attributes["event_id"] for _, _, attributes in json.loads(task.body)[0][0]] == [genuine]
    dead = sorted(m.message.attributes["bridge_error"] for m in pull(subscription.dead_letter, 2))
    assert dead == [
        "event type 'order.cancelled' on topic 'stock.rejected'",
        "producer 'order-service' may not publish 'stock.rejected'",
    ]


@pytest.mark.parametrize(("mode", "task_name"), [("streaming", "cart.handle_event"), ("unary", "cart.handle_events")])
def test_the_bridge_running_hands_what_it_receives_to_the_broker_and_acknowledges_it(
    provisioned, queue_prefix, settings, mode, task_name
):
    """Both pull paths, as the process runs them: streaming pull (Google Cloud) and long-polling Pull."""
    # given: a bridge running on the cart's stock.rejected subscription
    settings.BRIDGE_PULL = mode
    subscription = Subscription(registry.SERVICES["cart"], "stock.rejected")
    bridge = Bridge([subscription])
    running = threading.Thread(target=bridge.run, daemon=True)
    running.start()
    try:
        # when: two events are published
        event_ids = publish_stock_rejected(2)

        # then: the broker holds a task for each, of the path's kind
        tasks, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline and sum(len(events) for _, events in tasks) < 2:
            try:
                taken = broker_messages(f"{queue_prefix}cart")
            except NotFound:  # the queue is declared with the first task sent
                taken = []
            for task in taken:
                args = json.loads(task.body)[0]  # protocol 2: [args, kwargs, embed]
                tasks.append((task.headers["task"], [args] if mode == "streaming" else args[0]))
            time.sleep(0.2)
    finally:
        bridge.stop()
        running.join(timeout=20)
    assert {name for name, _ in tasks} == {task_name}
    assert sorted(attributes["event_id"] for _, events in tasks for _, _, attributes in events) == sorted(event_ids)
    # and Pub/Sub has them acknowledged: nothing comes back
    assert pull(subscription.name, 1, timeout=3) == []
