"""What the relay and the bridge count, running against the real Pub/Sub emulator and RabbitMQ."""

import json
import threading
import time
import uuid

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from apps.events.contracts import Line, OrderRequested
from apps.events.provisioning import Provisioner
from apps.events.pubsub import publisher, topic_path
from shop import registry
from shop.observability.liveness import HEARTBEATS
from shop.topology import Subscription
from testsupport.events import recorded
from workers.bridge import Bridge
from workers.relay import OutboxRelay, PublishingStalled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["cart"])]


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def record_order_requests(count: int) -> None:
    with transaction.atomic(using="cart"):
        for _ in range(count):
            event = OrderRequested(
                cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=1)]
            )
            recorded(event, using="cart")


def test_the_relay_counts_what_it_publishes_by_topic_with_its_lag_and_each_publish_call(provisioned):
    published = sample("shop_events_published_total", service="cart", topic="order-requested")
    lag = sample("shop_relay_publish_lag_seconds_count", service="cart")
    calls = sample("shop_pubsub_publish_request_seconds_count", topic="order-requested")
    record_order_requests(3)

    assert OutboxRelay(["cart"]).publish_batch("cart") == 3

    assert sample("shop_events_published_total", service="cart", topic="order-requested") == published + 3
    assert sample("shop_relay_publish_lag_seconds_count", service="cart") == lag + 3
    assert sample("shop_pubsub_publish_request_seconds_count", topic="order-requested") == calls + 1


class NotAllowed:
    """Pub/Sub admin calls as a relay without the role to create topics sees them."""

    def create_topic(self, **kwargs):
        from google.api_core.exceptions import PermissionDenied

        raise PermissionDenied("pubsub.topics.create denied")

    create_subscription = create_topic


def test_the_relay_counts_each_failed_publication_by_error(project):
    # given: no topic, and a relay that may not create one
    record_order_requests(2)
    relay = OutboxRelay(
        ["cart"], provisioner=Provisioner(publisher_client=NotAllowed(), subscriber_client=NotAllowed())
    )
    failures = sample("shop_publish_failures_total", service="cart", topic="order-requested", error="NotFound")

    with pytest.raises(PublishingStalled):
        relay.publish_batch("cart")

    assert sample("shop_publish_failures_total", service="cart", topic="order-requested", error="NotFound") == (
        failures + 2
    )


def publish_stock_rejected(count: int) -> None:
    client = publisher()
    for _ in range(count):
        payload = {"cart_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "details": []}
        client.publish(
            topic_path("stock.rejected"),
            json.dumps(payload).encode(),
            event_id=str(uuid.uuid4()),
            event_type="stock.rejected",
            producer="inventory-service",
        ).result(timeout=30)
    client.publish(  # and one it cannot route
        topic_path("stock.rejected"), b"{not json", event_id=str(uuid.uuid4()), event_type="stock.rejected"
    ).result(timeout=30)


@pytest.mark.parametrize("mode", ["streaming", "unary"])
def test_the_bridge_counts_what_it_hands_over_with_pull_and_hand_over_latency(
    provisioned, queue_prefix, settings, mode
):
    settings.BRIDGE_PULL = mode
    labels = {"service": "cart", "topic": "stock.rejected"}
    handed, dead = (
        sample("shop_bridge_handed_over_total", **labels),
        sample("shop_bridge_dead_lettered_total", **labels),
    )
    pulled = sample("shop_bridge_pull_latency_seconds_count", service="cart")
    tasks = sample("shop_bridge_handover_seconds_count", service="cart")
    subscription = Subscription(registry.SERVICES["cart"], "stock.rejected")
    bridge = Bridge([subscription])
    running = threading.Thread(target=bridge.run, daemon=True)
    running.start()
    try:
        # when: two events and a message it cannot route are published
        publish_stock_rejected(2)

        # then: it counts both handed over, the third dead-lettered, and the latencies of all
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            sample("shop_bridge_handed_over_total", **labels) < handed + 2
            or sample("shop_bridge_dead_lettered_total", **labels) < dead + 1
        ):
            time.sleep(0.1)
        loops = HEARTBEATS.loops()  # its loops beat while they run
    finally:
        bridge.stop()
        running.join(timeout=20)
    assert sample("shop_bridge_handed_over_total", **labels) == handed + 2
    assert sample("shop_bridge_dead_lettered_total", **labels) == dead + 1
    assert sample("shop_bridge_pull_latency_seconds_count", service="cart") == pulled + 3
    assert sample("shop_bridge_handover_seconds_count", service="cart") > tasks
    assert ("bridge" if mode == "streaming" else subscription.name) in loops
