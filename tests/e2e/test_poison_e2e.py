"""Poison and impostors on real processes: bounded, dead-lettered, and no one else waits for them."""

import json
import time
import uuid

import pytest
from kombu import Connection

from apps.events.contracts import event_class
from runner.processes import worker_of
from shop.registry import SERVICES
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, convert, new_customer, new_product, outcome, stock
from testsupport.events import attributes_of

pytestmark = pytest.mark.e2e

NUL = "\x00"


def poisons() -> list[tuple[str, str, str, dict]]:
    """(topic, producer, consuming service, payload): valid JSON that pydantic takes, with U+0000 inside."""
    cart_id, customer_id = str(uuid.uuid4()), str(uuid.uuid4())
    lines = [{"product_sku": f"LAP{NUL}001", "quantity": 1}]
    return [
        (
            "order-requested",
            "cart-service",
            "inventory",
            {"cart_id": cart_id, "customer_id": customer_id, "items": lines},
        ),
        (
            "stock-available",
            "inventory-service",
            "order",
            {"cart_id": cart_id, "customer_id": customer_id, "items": lines},
        ),
        (
            "stock.rejected",
            "inventory-service",
            "cart",
            {
                "cart_id": cart_id,
                "customer_id": customer_id,
                "details": [{"product_sku": NUL, "requested": 2, "available": 0}],
            },
        ),
        (
            "email.requested",
            "notification-service",
            "email",
            {"notification_id": str(uuid.uuid4()), "customer_id": customer_id, "subject": f"hi{NUL}", "body": NUL},
        ),
    ]


def publish_event(platform, topic: str, producer: str, payload: dict, **attributes) -> str:
    envelope = attributes_of(event_class(topic), producer=producer, **attributes)
    platform.publish(topic, json.dumps(payload).encode(), **envelope)
    return envelope["event_id"]


def queue_depths(platform) -> dict[str, int]:
    """Ready messages in each of the platform's task queues and their parking queues."""
    depths = {}
    with Connection(platform.env.get("CELERY_BROKER_URL", "amqp://")) as broker:
        channel = broker.channel()
        for service in SERVICES.values():
            for name in (service.queue, f"{service.queue}.dead-letter"):
                name = f"{platform.queue_prefix}{name}"
                try:
                    _, depths[name], _ = channel.queue_declare(name, passive=True)
                except Exception:  # not declared (a service with no worker): nothing waits there
                    channel = broker.channel()
    return depths


def inbox(platform, service: str, event_id: str) -> list[tuple]:
    return platform.rows(service, "SELECT status, attempts FROM processed_messages WHERE message_id = %s", (event_id,))


def test_nul_poisons_on_several_topics_are_dead_lettered_once_and_orders_confirm_around_them(platform):
    # given: poisons on four topics, each arriving at a different service
    sent = [
        (service, publish_event(platform, topic, producer, payload)) for topic, producer, service, payload in poisons()
    ]

    # when: customers order at the same time
    customers = [new_customer(platform) for _ in range(3)]
    sku = new_product(platform, stock=10)
    for customer in customers:
        add(platform, customer, sku, 1)
    carts = [convert(platform, customer) for customer in customers]

    # then: every order confirms
    assert [outcome(platform, cart_id) for cart_id in carts] == ["ordered"] * 3
    assert stock(platform, sku) == 7

    # and each poison is in its service's dead letters, raw bytes kept, after one delivery
    for service, event_id in sent:
        wait_until(lambda s=service, e=event_id: inbox(platform, s, e), message=f"{service} to see the poison")
        [(status, attempts)] = inbox(platform, service, event_id)
        assert (status, attempts) == ("dead_lettered", 1)
        [(raw, payload)] = platform.rows(
            service, "SELECT raw_message, payload FROM dead_letters WHERE event_id = %s", (event_id,)
        )
        assert payload is None  # jsonb could not take it
        assert "\\u0000" in bytes(raw).decode()

    # and the machine goes quiet: nothing is handed back for ever
    wait_until(lambda: not any(queue_depths(platform).values()), timeout=30, message="empty task queues")
    before = {(service, event_id): inbox(platform, service, event_id) for service, event_id in sent}
    logs = {worker_of(s): platform.log(worker_of(s)).count("dead-lettering") for s, _ in sent}
    time.sleep(5)
    assert {(s, e): inbox(platform, s, e) for s, e in before} == before
    assert {name: platform.log(name).count("dead-lettering") for name in logs} == logs
    assert not any(queue_depths(platform).values())


def test_a_mislabelled_event_and_one_from_a_service_that_may_not_publish_it_have_no_effect(platform):
    # given: a cart that could be served
    customer = new_customer(platform)
    sku = new_product(platform, stock=5)
    payload = {"cart_id": str(uuid.uuid4()), "customer_id": customer, "items": [{"product_sku": sku, "quantity": 2}]}

    # when: an order-requested arrives from the push service, and one labelled as a cancellation
    impostor = publish_event(platform, "order-requested", "push-service", payload)
    mislabelled = publish_event(platform, "order-requested", "cart-service", payload, event_type="order.cancelled")

    # then: both are dead-lettered with the reason, and inventory never acts on them
    dead = platform.pull_dead_letters("inventory-service-order-requested")
    wait = time.monotonic() + 20
    while len(dead) < 2 and time.monotonic() < wait:
        dead += platform.pull_dead_letters("inventory-service-order-requested", timeout=5)
    reasons = {m.attributes["event_id"]: m.attributes["bridge_error"] for m in dead}
    assert reasons[impostor] == "producer 'push-service' may not publish 'order-requested'"
    assert reasons[mislabelled] == "event type 'order.cancelled' on topic 'order-requested'"
    time.sleep(2)
    assert stock(platform, sku) == 5
    assert inbox(platform, "inventory", impostor) == inbox(platform, "inventory", mislabelled) == []

    # and the genuine event still works
    add(platform, customer, sku, 2)
    assert outcome(platform, convert(platform, customer)) == "ordered"
    assert stock(platform, sku) == 3


def test_a_failed_event_is_retried_later_through_the_broker_and_then_succeeds(platform):
    """Retries wait on the broker (Celery's native delayed delivery, which quorum queues need)."""
    # given: an email for a customer whose address the email service does not know yet
    customer_id, notification_id = str(uuid.uuid4()), str(uuid.uuid4())
    request = {"notification_id": notification_id, "customer_id": customer_id, "subject": "Hello", "body": "Hi."}
    publish_event(platform, "email.requested", "notification-service", request)
    wait_until(lambda: "will retry" in platform.log(worker_of("email")), message="a first failed attempt")

    # when: the address arrives
    contact = {"customer_id": customer_id, "name": "Late", "email": "late@example.com", "version": 1}
    publish_event(platform, "customer.changed", "customer-service", contact)

    # then: a later retry sends the email (the row exists as "sending" from the hand-over on)
    def email():
        return platform.rows(
            "email", "SELECT status, handovers FROM email_emailmessage WHERE notification_id = %s", (notification_id,)
        )

    wait_until(lambda: email() and email()[0][0] == "sent", timeout=60, message="the retried email sent")
    assert email() == [("sent", 1)]
