"""The bridge: streaming-pulls a service's subscriptions and hands each message to Celery.

A thin loop. A message is acknowledged to Pub/Sub only once its task is confirmed by the
broker (publisher confirms), so a crash anywhere leaves it to be redelivered; the inbox drops
the copies. A message that cannot be parsed or routed is published to its subscription's
dead-letter topic and acknowledged, so it never wedges the stream.
"""

from __future__ import annotations

import json
import logging
import threading

from django.conf import settings
from google.cloud import pubsub_v1

from apps.events.pubsub import publisher, subscriber, subscription_path, topic_path
from apps.events.tasks import task_name
from shop.celery import app as celery_app
from shop.topology import Subscription, handlers_of

logger = logging.getLogger("workers.bridge")


class Unroutable(Exception):
    """The message is not an event this service can take."""


def route(message, subscription: Subscription, known_types: set[str]) -> tuple[str, dict, dict]:
    """(event_type, payload, attributes) of a message, or Unroutable."""
    attributes = dict(message.attributes)
    event_type = attributes.get("event_type") or subscription.topic
    if event_type not in known_types:
        raise Unroutable(f"no handler for event type {event_type!r}")
    if not attributes.get("event_id"):
        raise Unroutable("no event_id attribute")
    try:
        payload = json.loads(message.data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unroutable(f"data is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise Unroutable("data is not a JSON object")
    return event_type, payload, attributes


class Bridge:
    def __init__(self, subscriptions: list[Subscription], *, max_messages: int | None = None):
        self.subscriptions = subscriptions
        self.max_messages = max_messages or settings.BRIDGE_MAX_MESSAGES
        self.subscriber = subscriber()
        self.publisher = publisher()
        self.stopping = threading.Event()
        self.futures: list = []

    def callback_for(self, subscription: Subscription):
        service = subscription.service
        known_types = set(handlers_of(service))
        name = task_name(service.name)

        def on_message(message) -> None:
            try:
                event_type, payload, attributes = route(message, subscription, known_types)
            except Unroutable as exc:
                self.dead_letter(message, subscription, str(exc))
                return
            try:
                celery_app.send_task(name, args=[event_type, payload, attributes], queue=service.queue)
            except Exception:
                logger.exception("%s: broker refused %s; Pub/Sub will redeliver", subscription.name, event_type)
                message.nack()
                return
            message.ack()

        return on_message

    def dead_letter(self, message, subscription: Subscription, reason: str) -> None:
        logger.error("%s: dead-lettering message %s: %s", subscription.name, message.message_id, reason)
        attributes = {**message.attributes, "bridge_error": reason[:1000], "source_subscription": subscription.name}
        try:
            self.publisher.publish(topic_path(subscription.dead_letter), message.data, **attributes).result(timeout=30)
        except Exception:
            logger.exception(
                "%s: could not dead-letter %s; Pub/Sub will redeliver", subscription.name, message.message_id
            )
            message.nack()
            return
        message.ack()

    def run(self) -> None:
        flow_control = pubsub_v1.types.FlowControl(max_messages=self.max_messages)
        for subscription in self.subscriptions:
            future = self.subscriber.subscribe(
                subscription_path(subscription.name),
                callback=self.callback_for(subscription),
                flow_control=flow_control,
            )
            self.futures.append(future)
            logger.info("bridge pulling %s", subscription.name)
        try:
            while not self.stopping.wait(1.0):
                for future in self.futures:
                    if future.done():
                        future.result()  # re-raise: a dead stream must stop the process, not hide
        finally:
            for future in self.futures:
                future.cancel()
            self.subscriber.close()

    def stop(self) -> None:
        self.stopping.set()
