"""The task queues on the real RabbitMQ: a delivery limit as the backstop, and the way from classic queues."""

import io
import json
import time
import uuid

import pytest
from amqp import Message
from django.core.management import call_command

from apps.events.queues import QueueNotMigrated, ensure_task_queue, parking_queue
from shop import registry
from shop.celery import app as celery_app
from shop.settings import celery as celery_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def cart_queue(monkeypatch):
    """The cart's task queue under a name of the test's own, declared as the settings declare it
    (with a delivery limit of 3), deleted afterwards."""
    monkeypatch.setattr(registry, "QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:12]}-")
    monkeypatch.setattr(celery_settings, "CELERY_DELIVERY_LIMIT", 3)
    queue = celery_settings.task_queue_declaration(registry.SERVICES["cart"].queue)
    configured = celery_app.conf.task_queues
    celery_app.conf.task_queues = [queue]
    yield queue
    celery_app.conf.task_queues = configured
    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        for name in (queue.name, parking_queue(queue.name)):
            channel.queue_delete(name)
        channel.exchange_delete(queue.exchange.name)


def publish(channel, queue, body: bytes = b"[[], {}, {}]") -> None:
    channel.basic_publish(
        Message(body, application_headers={"task": "cart.handle_events", "id": str(uuid.uuid4())}),
        exchange=queue.exchange.name,
        routing_key=queue.routing_key,
    )


def get(channel, name: str, *, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while (message := channel.basic_get(name)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return message


def test_a_message_handed_back_past_the_delivery_limit_is_parked_not_redelivered(cart_queue):
    assert ensure_task_queue(registry.SERVICES["cart"]) == "declared"
    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        publish(channel, cart_queue)

        # a worker that requeues it every time (or dies on it): the limit, then no more
        deliveries = 0
        while (message := get(channel, cart_queue.name, timeout=1)) is not None:
            deliveries += 1
            channel.basic_reject(message.delivery_tag, requeue=True)
            assert deliveries <= 10, "redelivered without bound"

        assert deliveries == 4  # the first delivery and three returns
        parked = get(channel, parking_queue(cart_queue.name))
        assert parked is not None
        assert parked.headers["task"] == "cart.handle_events"
        channel.basic_ack(parked.delivery_tag)


def test_a_message_rejected_without_requeue_is_parked(cart_queue):
    ensure_task_queue(registry.SERVICES["cart"])
    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        publish(channel, cart_queue, b"poison")
        channel.basic_reject(get(channel, cart_queue.name).delivery_tag, requeue=False)

        assert get(channel, parking_queue(cart_queue.name)).body == b"poison"


def test_replay_parked_moves_them_back_to_the_queue(cart_queue):
    ensure_task_queue(registry.SERVICES["cart"])
    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        publish(channel, cart_queue, b'["moved"]')
        channel.basic_reject(get(channel, cart_queue.name).delivery_tag, requeue=False)
        get(channel, parking_queue(cart_queue.name), timeout=5)  # parked (and left unacked: back on close)
    out = io.StringIO()
    wait = time.monotonic() + 5
    while "1 parked" not in out.getvalue() and time.monotonic() < wait:
        out = io.StringIO()
        call_command("replay_parked", "--service", "cart", "--dry-run", stdout=out)

    call_command("replay_parked", "--service", "cart", stdout=io.StringIO())

    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        moved = get(channel, cart_queue.name)
        assert json.loads(moved.body) == ["moved"]
        assert "x-death" not in moved.headers
        channel.basic_ack(moved.delivery_tag)


def test_an_empty_classic_queue_of_an_earlier_version_is_replaced(cart_queue):
    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        channel.exchange_declare(cart_queue.name, "direct", durable=True)
        channel.queue_declare(cart_queue.name, durable=True, auto_delete=False)  # classic, as before

    assert ensure_task_queue(registry.SERVICES["cart"]) == "migrated"

    assert ensure_task_queue(registry.SERVICES["cart"]) == "declared"  # now what the settings declare
    test_a_message_rejected_without_requeue_is_parked(cart_queue)


def test_an_earlier_versions_exchange_without_its_queue_is_replaced(cart_queue):
    # given: what a queue deleted by hand (or by an old test teardown) leaves behind
    with celery_app.connection_for_write() as connection:
        connection.channel().exchange_declare(cart_queue.name, "direct", durable=True)

    assert ensure_task_queue(registry.SERVICES["cart"]) == "migrated"

    assert ensure_task_queue(registry.SERVICES["cart"]) == "declared"
    test_a_message_rejected_without_requeue_is_parked(cart_queue)


def test_a_classic_queue_that_still_holds_tasks_is_left_alone(cart_queue):
    with celery_app.connection_for_write() as connection:
        channel = connection.channel()
        channel.exchange_declare(cart_queue.name, "direct", durable=True)
        channel.queue_declare(cart_queue.name, durable=True, auto_delete=False)
        channel.basic_publish(Message(b"an old task"), exchange="", routing_key=cart_queue.name)

    with pytest.raises(QueueNotMigrated, match="holds 1 task"):
        ensure_task_queue(registry.SERVICES["cart"])

    with celery_app.connection_for_write() as connection:
        assert get(connection.channel(), cart_queue.name).body == b"an old task"


def test_the_settings_declare_every_service_queue_as_a_quorum_queue_parking_in_its_parking_queue(settings):
    assert settings.CELERY_QUEUE_TYPE == "quorum"
    for queue in settings.CELERY_TASK_QUEUES:
        assert queue.exchange.type == "topic"  # Celery's native delayed delivery needs it for countdowns
        assert queue.queue_arguments == {
            "x-queue-type": "quorum",
            "x-delivery-limit": settings.CELERY_DELIVERY_LIMIT,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": parking_queue(queue.name),
        }
