"""An event is believed only from its own topic and from a service that may publish it."""

import json
import uuid
from types import SimpleNamespace

import pytest
from django.utils import timezone

from apps.events.contracts import EVENTS, OrderRequested
from apps.events.models import OutboxEvent
from apps.events.signing import envelope_signature
from shop.registry import SERVICES
from shop.topology import Subscription, handlers_of
from testsupport.events import attributes_of
from workers.bridge import Unroutable, route
from workers.relay import pubsub_message

# The contract's table: topic -> published by (and POST /orders, which asks inventory from the order
# service exactly as a converted cart does).
CONTRACT_PUBLISHERS = {
    "order-requested": {"cart-service", "order-service"},
    "stock-available": {"inventory-service"},
    "stock.rejected": {"inventory-service"},
    "order.created": {"order-service"},
    "order.cancelled": {"order-service"},
    "order.failed": {"order-service"},  # the order step given up on (README, "When a step is given up on")
    "product.changed": {"product-service"},
    "customer.changed": {"customer-service"},
    "email.requested": {"notification-service"},
    "push.requested": {"notification-service"},
    "notification.delivered": {"email-service", "push-service"},
}

INVENTORY = Subscription(SERVICES["inventory"], "order-requested")


def message(*, data=None, **attributes) -> SimpleNamespace:
    payload = {"cart_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "items": []}
    envelope = attributes_of(OrderRequested, **{"producer": "cart-service", **attributes})
    return SimpleNamespace(data=data or json.dumps(payload).encode(), attributes=envelope)


def routed(msg):
    return route(msg, INVENTORY, set(handlers_of(INVENTORY.service)))


def test_every_event_names_its_publishers_as_the_contract_does():
    assert {topic: set(cls.producers) for topic, cls in EVENTS.items()} == CONTRACT_PUBLISHERS
    service_names = {service.service_name for service in SERVICES.values()}
    assert set().union(*CONTRACT_PUBLISHERS.values()) <= service_names


def test_an_event_from_its_publisher_on_its_own_topic_is_routed():
    msg = message()

    event_type, payload, attributes = routed(msg)

    assert event_type == "order-requested"
    assert payload == json.loads(msg.data)
    assert attributes["producer"] == "cart-service"


def test_an_event_type_that_disagrees_with_the_topic_is_unroutable():
    # a stock-available published on order-requested would otherwise reach inventory's handler map
    # (it has none for it) or, worse, one that takes it
    with pytest.raises(Unroutable, match="on topic 'order-requested'"):
        routed(message(event_type="order.cancelled"))


@pytest.mark.parametrize("producer", ["inventory-service", "push-service", "", "cart-service\x00"])
def test_a_producer_that_may_not_publish_the_topic_is_unroutable(producer):
    with pytest.raises(Unroutable, match="may not publish 'order-requested'"):
        routed(message(producer=producer))


def test_a_message_without_a_producer_is_unroutable():
    msg = message()
    del msg.attributes["producer"]

    with pytest.raises(Unroutable, match="producer ''"):
        routed(msg)


# --- signed envelopes (PUBSUB_SIGNING_KEY) --------------------------------------------------------


def signed(msg, key="k" * 32):
    msg.attributes["signature"] = envelope_signature(key, msg.attributes, msg.data)
    return msg


def test_with_a_signing_key_only_a_validly_signed_message_is_routed(settings):
    settings.PUBSUB_SIGNING_KEY = "k" * 32

    assert routed(signed(message()))[0] == "order-requested"
    with pytest.raises(Unroutable, match="no valid signature"):
        routed(message())  # unsigned
    with pytest.raises(Unroutable, match="no valid signature"):
        routed(signed(message(), key="another key"))
    tampered = signed(message())
    tampered.data = tampered.data.replace(b"items", b"itemz")
    with pytest.raises(Unroutable, match="no valid signature"):
        routed(tampered)
    relabelled = signed(message())
    relabelled.attributes["event_id"] = str(uuid.uuid4())
    with pytest.raises(Unroutable, match="no valid signature"):
        routed(relabelled)


def test_the_relay_signs_what_the_bridge_checks(settings):
    settings.PUBSUB_SIGNING_KEY = "k" * 32
    row = OutboxEvent(
        topic="order-requested",
        event_type="order-requested",
        schema_version=1,
        payload=json.loads(message().data),
        occurred_at=timezone.now(),
    )

    published = pubsub_message(row, "cart-service")

    assert "signature" in published.attributes
    assert routed(SimpleNamespace(data=published.data, attributes=dict(published.attributes)))[0] == "order-requested"


def test_without_a_signing_key_the_relay_signs_nothing(settings):
    settings.PUBSUB_SIGNING_KEY = ""
    row = OutboxEvent(topic="order-requested", event_type="order-requested", schema_version=1, payload={})

    assert "signature" not in pubsub_message(row, "cart-service").attributes
