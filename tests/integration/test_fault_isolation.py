"""One fault, one service: a database down stops only its own service's publishing; an emulator
restarted empty is provisioned again by the relay and the bridge themselves."""

import contextlib
import io
import json
import socket
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from google.api_core.exceptions import DeadlineExceeded, NotFound, ServiceUnavailable

from apps.events.contracts import Line, NotificationDelivered, OrderRequested
from apps.events.pubsub import batch_publisher, publisher
from runner import emulator
from shop import registry
from shop.celery import app as celery_app
from shop.topology import Subscription
from testsupport.events import recorded
from workers.bridge import Bridge
from workers.relay import OutboxRelay


class Accepting:
    """A Publish RPC that takes everything."""

    def __init__(self):
        self.sent: list[str] = []

    def publish(self, *, topic, messages, timeout):
        self.sent.extend(message.attributes["event_id"] for message in messages)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def running(relay: OutboxRelay) -> threading.Thread:
    def run():
        try:
            relay.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(databases=["cart", "push"], transaction=True)
def test_a_service_database_down_stops_only_that_services_publishing_and_it_resumes_by_itself():
    # given: the push database unreachable (its URL points at a closed port) when the relay starts
    push = connections["push"].settings_dict  # the settings every thread's connection is made from
    port = push["PORT"]
    push["PORT"] = closed_port()
    connections["push"].close()
    publish = Accepting()
    relay = OutboxRelay(["push", "cart"], publisher=publish, poll_seconds=0.2)
    relay.redrive_seconds = 0
    thread = running(relay)
    try:
        # when: the cart service commits an event
        event = OrderRequested(
            cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="A1", quantity=1)]
        )
        with transaction.atomic(using="cart"):
            cart_row = recorded(event, using="cart")

        # then: it is published, and the relay is still up, backing off push alone
        assert wait_until(lambda: str(cart_row.event_id) in publish.sent)
        assert thread.is_alive()
        assert set(relay.retry_at) == {"push"}

        # when: the push database is back
        push["PORT"] = port
        connections["push"].close()
        with transaction.atomic(using="push"):
            push_row = recorded(NotificationDelivered(notification_id=uuid.uuid4(), channel="push"), using="push")

        # then: the relay publishes push's outbox again by itself
        assert wait_until(lambda: str(push_row.event_id) in publish.sent)
        assert wait_until(lambda: not relay.retry_at)

        # when: the push database goes away under the running relay (its connections cut)
        push["PORT"] = closed_port()
        with connections["cart"].cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [push["NAME"]])
        assert wait_until(lambda: "push" in relay.retry_at)
        event = OrderRequested(
            cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="A1", quantity=1)]
        )
        with transaction.atomic(using="cart"):
            later = recorded(event, using="cart")

        # then: cart's events still go out
        assert wait_until(lambda: str(later.event_id) in publish.sent)
        assert thread.is_alive()
    finally:
        push["PORT"] = port
        connections["push"].close()  # cut above: the test's teardown opens a fresh one
        relay.stop()
        thread.join(timeout=10)


# --- The emulator restarted with nothing in it, under a running relay and bridge ------------------


@pytest.fixture
def own_emulator(tmp_path, monkeypatch, settings):
    """An emulator of the test's own, on a port of its own, so restarting it disturbs nobody; restart()."""
    host = f"127.0.0.1:{closed_port()}"
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    settings.GOOGLE_CLOUD_PROJECT = f"test-{uuid.uuid4().hex[:12]}"
    for client in (publisher, batch_publisher):
        client.cache_clear()  # made for the shared emulator's address
    log = tmp_path / "pubsub.log"
    process = [emulator.start(host, settings.GOOGLE_CLOUD_PROJECT, log)]

    def restart() -> None:
        emulator.stop(process[0])
        process[0] = emulator.start(host, settings.GOOGLE_CLOUD_PROJECT, log)

    yield restart
    emulator.stop(process[0])
    for client in (publisher, batch_publisher):
        client.cache_clear()


def queued_event_ids(queue: str, seen: set) -> set:
    """Adds to ``seen`` the event ids of the batch tasks waiting in ``queue`` (taking them off it)."""
    with celery_app.connection_for_read() as connection, contextlib.suppress(connection.channel_errors):
        channel = connection.default_channel  # (the queue appears with the bridge's first task)
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            events = json.loads(message.body)[0][0]  # protocol 2: [args, kwargs, embed]; args = [events]
            seen.update(attributes["event_id"] for _, _, attributes in events)
    return seen


def order_requested_in_cart():
    event = OrderRequested(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="A1", quantity=1)])
    with transaction.atomic(using="cart"):
        return recorded(event, using="cart")


@pytest.mark.integration
@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_an_emulator_restarted_empty_is_provisioned_again_by_the_relay_and_the_bridge(own_emulator, queue_prefix):
    # given: a provisioned emulator, a relay and a bridge (for inventory's order-requested) running
    call_command("provision_pubsub", stdout=io.StringIO())
    relay = OutboxRelay(["cart"], poll_seconds=0.2)
    relay.redrive_seconds = 0
    bridge = Bridge([Subscription(registry.SERVICES["inventory"], "order-requested")])
    relay_thread = running(relay)
    bridge_thread = threading.Thread(target=bridge.run, daemon=True)
    bridge_thread.start()
    seen: set = set()
    try:
        before = order_requested_in_cart()
        assert wait_until(lambda: str(before.event_id) in queued_event_ids(f"{queue_prefix}inventory", seen), 30)

        # when: the emulator restarts with no topic and no subscription
        own_emulator()
        after = order_requested_in_cart()

        # then: relay and bridge re-create what they need, and the event reaches inventory's queue
        assert wait_until(lambda: str(after.event_id) in queued_event_ids(f"{queue_prefix}inventory", seen), 60)
        assert relay_thread.is_alive()
        assert bridge_thread.is_alive()
    finally:
        bridge.stop()
        relay.stop()
        bridge_thread.join(timeout=15)
        relay_thread.join(timeout=15)


class FlakySubscriber:
    """Pull answers: the emulator down, then restarted empty (NotFound until re-created), then empty polls."""

    def __init__(self, bridge):
        self.bridge, self.created, self.pulls = bridge, [], 0

    def pull(self, request, timeout):
        self.pulls += 1
        if self.pulls <= 2:
            raise ServiceUnavailable("connection refused")
        if not self.created:
            raise NotFound("subscription does not exist")
        self.bridge.stop()
        raise DeadlineExceeded("no messages")

    def create_subscription(self, request):
        self.created.append(request["name"].rsplit("/", 1)[1])

    def create_topic(self, request):
        pass


def test_a_pull_loop_outlives_an_unreachable_pub_sub_and_re_creates_its_missing_subscription():
    subscription = Subscription(registry.SERVICES["inventory"], "order-requested")
    bridge = Bridge([subscription])
    bridge.subscriber = bridge.publisher = FlakySubscriber(bridge)

    bridge.pull_loop(subscription)  # returns only once stopped: no error ended it

    assert bridge.subscriber.pulls == 4
    assert bridge.subscriber.created == [subscription.dead_letter, subscription.name]
