"""Names and clients for Google Cloud Pub/Sub (the emulator when PUBSUB_EMULATOR_HOST is set)."""

from __future__ import annotations

import functools

from django.conf import settings
from google import pubsub_v1 as gapic
from google.cloud import pubsub_v1


def subscription_name(service_name: str, topic: str) -> str:
    """`inventory-service-order-requested`: the contract's naming, dots written as dashes."""
    return f"{service_name}-{topic.replace('.', '-')}"


def dead_letter_name(subscription: str) -> str:
    """The dead-letter topic of a subscription, and the subscription that keeps what lands there."""
    return f"{subscription}-dead-letter"


def topic_path(topic: str) -> str:
    return pubsub_v1.PublisherClient.topic_path(settings.GOOGLE_CLOUD_PROJECT, topic)


def subscription_path(subscription: str) -> str:
    return pubsub_v1.SubscriberClient.subscription_path(settings.GOOGLE_CLOUD_PROJECT, subscription)


@functools.cache
def publisher() -> pubsub_v1.PublisherClient:
    """One publisher per process: batches for a few milliseconds, keeps order per ordering key."""
    return pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=500, max_latency=0.002),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
    )


@functools.cache
def batch_publisher() -> gapic.PublisherClient:
    """The plain Publish RPC: one call carries a whole batch of one topic, no per-message futures.

    For the relay, which already holds its batch; honours PUBSUB_EMULATOR_HOST like the other clients.
    """
    return gapic.PublisherClient()


def subscriber() -> pubsub_v1.SubscriberClient:
    return pubsub_v1.SubscriberClient()
