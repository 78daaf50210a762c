"""The relay's and the bridge's lines for one event name it and its saga (real emulator and broker)."""

import json
import logging
import time
import uuid

import pytest
from django.db import transaction

from apps.events.contracts import Line, OrderRequested
from apps.events.pubsub import publisher, subscriber, subscription_path, topic_path
from shop import registry
from shop.topology import Subscription
from testsupport.events import recorded
from testsupport.logs import json_lines
from workers.bridge import Bridge, PulledMessage
from workers.relay import OutboxRelay

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["cart"])]


def pull(subscription: str, count: int, timeout: float = 20.0) -> list:
    client, path = subscriber(), subscription_path(subscription)
    received, deadline = [], time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        received.extend(client.pull(request={"subscription": path, "max_messages": 100}, timeout=5).received_messages)
    return received


def test_one_line_per_event_from_the_relay_and_the_bridge_names_its_event_topic_and_correlation_id(
    provisioned, queue_prefix
):
    # given: two converted carts' order requests in the cart service's outbox
    with transaction.atomic(using="cart"):
        rows = [
            recorded(
                OrderRequested(cart_id=cart_id, customer_id=uuid.uuid4(), items=[Line(product_sku="L-1", quantity=1)]),
                using="cart",
                correlation_id=cart_id,
            )
            for cart_id in (uuid.uuid4(), uuid.uuid4())
        ]
    expected = sorted((str(row.event_id), "order-requested", str(row.correlation_id)) for row in rows)
    subscription = Subscription(registry.SERVICES["inventory"], "order-requested")

    # when: the relay publishes them and the bridge hands them over, at DEBUG
    with json_lines("workers", level=logging.DEBUG) as lines:
        assert OutboxRelay(["cart"]).publish_batch("cart") == 2
        acks, nacks = [], []
        received = pull(subscription.name, 2)
        Bridge([subscription]).hand_over(subscription, [PulledMessage(m, acks, nacks) for m in received])

    # then: each has a line of its own in each, with the same fields
    relayed = [line for line in lines if line["logger"] == "workers.relay"]
    handed = [line for line in lines if line["logger"] == "workers.bridge"]
    assert sorted((line["event_id"], line["topic"], line["correlation_id"]) for line in relayed) == expected
    assert sorted((line["event_id"], line["topic"], line["correlation_id"]) for line in handed) == expected
    assert all(line["task_id"] for line in handed)
    assert len(acks) == 2


def test_the_bridges_dead_letter_line_names_the_event_it_could_not_route(provisioned, queue_prefix):
    subscription = Subscription(registry.SERVICES["inventory"], "order-requested")
    event_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    publisher().publish(
        topic_path("order-requested"),
        json.dumps({"cart_id": "c"}).encode(),
        event_id=event_id,
        event_type="order-requested",
        correlation_id=correlation_id,
        producer="email-service",  # may not publish it
    ).result(timeout=30)

    with json_lines("workers.bridge", level=logging.INFO) as lines:
        acks, nacks = [], []
        Bridge([subscription]).hand_over(
            subscription, [PulledMessage(m, acks, nacks) for m in pull(subscription.name, 1)]
        )

    [line] = lines
    assert "dead-lettering" in line["message"]
    assert (line["event_id"], line["topic"], line["correlation_id"]) == (event_id, "order-requested", correlation_id)
