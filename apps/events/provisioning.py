"""Creating Pub/Sub topics and subscriptions when missing: `provision_pubsub`, the relay and the bridge.

Idempotent (an existing one counts as done) and cheap, so the relay and the bridge call it again when
Pub/Sub answers NotFound: an emulator restarted with nothing in it is re-provisioned by the processes
that use it, not turned into a crash loop.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from google.api_core import exceptions
from google.protobuf import duration_pb2

from apps.events.pubsub import publisher, subscriber, subscription_path, topic_path

logger = logging.getLogger("apps.events.provisioning")


class SubscriptionLike(Protocol):
    name: str
    topic: str
    dead_letter: str


class Provisioner:
    """Ensures topics and subscriptions; remembers what it created and what was already there."""

    def __init__(self, *, publisher_client=None, subscriber_client=None):
        self.publisher = publisher_client or publisher()
        self.subscriber = subscriber_client or subscriber()
        self.created: list[tuple[str, str]] = []  # (kind, name)
        self.existing = 0

    def topic(self, name: str) -> None:
        self._ensure("topic", name, lambda: self.publisher.create_topic(request={"name": topic_path(name)}))

    def subscription(self, subscription: SubscriptionLike) -> None:
        """The subscription, its topic, its dead-letter topic and the subscription that keeps dead letters."""
        dead_letter = subscription.dead_letter
        self.topic(subscription.topic)
        self.topic(dead_letter)
        self._ensure(
            "subscription",
            dead_letter,
            lambda: self.subscriber.create_subscription(
                request={
                    "name": subscription_path(dead_letter),
                    "topic": topic_path(dead_letter),
                    "ack_deadline_seconds": 60,
                }
            ),
        )
        self._ensure(
            "subscription",
            subscription.name,
            lambda: self.subscriber.create_subscription(request=subscription_request(subscription)),
        )

    def _ensure(self, kind: str, name: str, create) -> None:
        try:
            create()
        except exceptions.AlreadyExists:
            self.existing += 1
            return
        self.created.append((kind, name))
        logger.info("created %s %s", kind, name)


def subscription_request(subscription: SubscriptionLike) -> dict:
    return {
        "name": subscription_path(subscription.name),
        "topic": topic_path(subscription.topic),
        "ack_deadline_seconds": settings.PUBSUB_ACK_DEADLINE_SECONDS,
        "enable_message_ordering": settings.PUBSUB_ENABLE_MESSAGE_ORDERING,
        "dead_letter_policy": {
            "dead_letter_topic": topic_path(subscription.dead_letter),
            "max_delivery_attempts": settings.PUBSUB_MAX_DELIVERY_ATTEMPTS,
        },
        "retry_policy": {
            "minimum_backoff": duration_pb2.Duration(seconds=settings.PUBSUB_MIN_BACKOFF_SECONDS),
            "maximum_backoff": duration_pb2.Duration(seconds=settings.PUBSUB_MAX_BACKOFF_SECONDS),
        },
    }
