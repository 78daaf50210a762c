"""The bridge: pulls a service's subscriptions and hands each message to Celery.

Streaming pull on Google Cloud, long-polling unary Pull with the emulator (BRIDGE_PULL).

A thin loop. A message is acknowledged to Pub/Sub only once its task is confirmed by the
broker (publisher confirms), so a crash anywhere leaves it to be redelivered; the inbox drops
the copies. What one Pull returns travels as one task per BRIDGE_TASK_BATCH messages: under load
one broker round trip and one worker dispatch carry many events, when idle a batch is one event.
A message that cannot be parsed or routed (or that claims another topic's event type, or comes from
a service that may not publish on its topic) is published to its subscription's dead-letter topic
and acknowledged, so it never wedges the stream and has no effect. A subscription found missing (an
emulator restarted with nothing in it) is provisioned again by the bridge itself; Pub/Sub errors
back off the subscription they hit, never the process.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from django.conf import settings
from google.api_core import exceptions
from google.cloud import pubsub_v1

from apps.events.contracts import event_class
from apps.events.provisioning import Provisioner
from apps.events.pubsub import publisher, subscriber, subscription_path, topic_path
from apps.events.signing import signature_valid
from apps.events.tasks import batch_task_name, task_name
from shop.celery import app as celery_app
from shop.observability import liveness, metrics, tracing
from shop.observability.logging import event_fields
from shop.topology import Subscription, handlers_of

logger = logging.getLogger("workers.bridge")

MAX_PAUSE_SECONDS = 10.0


class Unroutable(Exception):
    """The message is not an event this service can take."""


def route(message, subscription: Subscription, known_types: set[str]) -> tuple[str, dict, dict]:
    """(event_type, payload, attributes) of a message, or Unroutable.

    An event is believed only from its own topic: the subscription's topic decides what it is, an
    ``event_type`` attribute that says otherwise, or a ``producer`` that may not publish it (the
    contract's "published by", ``Event.producers``), makes it unroutable, never handled.
    """
    attributes = dict(message.attributes)
    event_type = attributes.get("event_type") or subscription.topic
    if event_type != subscription.topic:
        raise Unroutable(f"event type {event_type!r} on topic {subscription.topic!r}")
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
    producer = attributes.get("producer", "")
    if producer not in event_class(event_type).producers:
        raise Unroutable(f"producer {producer!r} may not publish {event_type!r}")
    if settings.PUBSUB_SIGNING_KEY and not signature_valid(settings.PUBSUB_SIGNING_KEY, attributes, message.data):
        raise Unroutable("no valid signature (PUBSUB_SIGNING_KEY)")
    return event_type, payload, attributes


def message_fields(message, subscription: Subscription) -> dict[str, str]:
    """A message's event fields, as its envelope says (an unroutable one's may be missing), for its log lines."""
    attributes = message.attributes
    return event_fields(
        event_id=attributes.get("event_id"),
        event_type=attributes.get("event_type"),
        topic=subscription.topic,
        correlation_id=attributes.get("correlation_id"),
    )


class PulledMessage:
    """A message from a unary Pull, with the streaming message's ack()/nack() (collected for a batch)."""

    def __init__(self, received, acks: list, nacks: list):
        self.data = received.message.data
        self.attributes = received.message.attributes
        self.message_id = received.message.message_id
        self.ack_id, self._acks, self._nacks = received.ack_id, acks, nacks
        self.received_at = time.monotonic()

    def ack(self) -> None:
        self._acks.append(self.ack_id)

    def nack(self) -> None:
        self._nacks.append(self.ack_id)


class Bridge:
    def __init__(
        self, subscriptions: list[Subscription], *, max_messages: int | None = None, task_batch: int | None = None
    ):
        self.subscriptions = subscriptions
        self.max_messages = max_messages or settings.BRIDGE_MAX_MESSAGES
        self.task_batch = task_batch or settings.BRIDGE_TASK_BATCH
        self.hold_seconds = settings.BRIDGE_HOLD_SECONDS
        self.linger = settings.BRIDGE_LINGER_SECONDS
        self.subscriber = subscriber()
        self.publisher = publisher()
        self.stopping = threading.Event()
        self.futures: list = []
        if tracing.ENABLED:
            # Celery's instrumentation times the publish of a task it knows only (an unknown one's span
            # ends before the broker is asked): register the tasks the bridge sends by name.
            celery_app.loader.import_default_modules()

    def callback_for(self, subscription: Subscription):
        """The streaming pull's callback: each message its own task."""
        service = subscription.service
        known_types = set(handlers_of(service))
        name = task_name(service.name)

        def on_message(message) -> None:
            received = time.monotonic()
            metrics.observe_pulled(service.name, [message.publish_time.timestamp()])
            try:
                event = route(message, subscription, known_types)
            except Unroutable as exc:
                self.dead_letter(message, subscription, str(exc))
                return
            try:
                with tracing.handing_over(subscription.name, [event]):
                    celery_app.send_task(name, args=list(event), queue=service.queue)
            except Exception:
                logger.exception(
                    "%s: broker refused %s; Pub/Sub will redeliver",
                    subscription.name,
                    event[0],
                    extra=message_fields(message, subscription),
                )
                metrics.HANDOVER_FAILURES.labels(service.name, subscription.topic).inc()
                message.nack()
                return
            metrics.observe_handed_over(service.name, subscription.topic, 1, received)
            message.ack()

        return on_message

    def hand_over(self, subscription: Subscription, messages: list[PulledMessage]) -> None:
        """A pulled batch: one task per ``task_batch`` routable messages, acked once the broker has it."""
        service = subscription.service
        known_types = set(handlers_of(service))
        routable = []
        for message in messages:
            try:
                routable.append((route(message, subscription, known_types), message))
            except Unroutable as exc:
                self.dead_letter(message, subscription, str(exc))
        for start in range(0, len(routable), self.task_batch):
            chunk = routable[start : start + self.task_batch]
            if self.send_holding(subscription, chunk):
                metrics.observe_handed_over(service.name, subscription.topic, len(chunk), chunk[0][1].received_at)
                for _, message in chunk:
                    message.ack()
            else:
                metrics.HANDOVER_FAILURES.labels(service.name, subscription.topic).inc(len(chunk))
                for _, message in chunk:
                    message.nack()

    def send_holding(self, subscription: Subscription, chunk: list) -> bool:
        """Send one batch task; while the broker refuses (a restart), keep the messages leased and retry.

        Only after BRIDGE_HOLD_SECONDS does the batch go back to Pub/Sub (nack): a short broker
        outage costs no redelivery at all.
        """
        service = subscription.service
        events = [list(event) for event, _ in chunk]
        give_up_at, pause = time.monotonic() + self.hold_seconds, 0.5
        while True:
            try:
                with tracing.handing_over(subscription.name, events):
                    task = celery_app.send_task(batch_task_name(service.name), args=[events], queue=service.queue)
            except Exception:
                if self.stopping.is_set() or time.monotonic() + pause > give_up_at:
                    logger.exception("%s: broker refused %d events; back to Pub/Sub", subscription.name, len(chunk))
                    return False
                logger.warning("%s: broker refused %d events; retrying in %.1fs", subscription.name, len(chunk), pause)
                self.extend_leases(subscription, [message for _, message in chunk])
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            if logger.isEnabledFor(logging.DEBUG):
                for _, message in chunk:  # a line per event, to find one by its event or correlation id
                    fields = message_fields(message, subscription)
                    logger.debug(
                        "%s: task %s carries %s",
                        subscription.name,
                        task.id,
                        fields.get("event_id"),
                        extra={**fields, "task_id": task.id},
                    )
            return True

    def extend_leases(self, subscription: Subscription, messages: list[PulledMessage]) -> None:
        self.subscriber.modify_ack_deadline(
            request={
                "subscription": subscription_path(subscription.name),
                "ack_ids": [message.ack_id for message in messages],
                "ack_deadline_seconds": settings.PUBSUB_ACK_DEADLINE_SECONDS,
            }
        )

    def dead_letter(self, message, subscription: Subscription, reason: str) -> None:
        logger.error(
            "%s: dead-lettering message %s: %s",
            subscription.name,
            message.message_id,
            reason,
            extra=message_fields(message, subscription),
        )
        attributes = {**message.attributes, "bridge_error": reason[:1000], "source_subscription": subscription.name}
        try:
            self.publisher.publish(topic_path(subscription.dead_letter), message.data, **attributes).result(timeout=30)
        except Exception:
            logger.exception(
                "%s: could not dead-letter %s; Pub/Sub will redeliver",
                subscription.name,
                message.message_id,
                extra=message_fields(message, subscription),
            )
            message.nack()
            return
        metrics.BRIDGE_DEAD_LETTERED.labels(subscription.service.name, subscription.topic).inc()
        message.ack()

    def run(self) -> None:
        if settings.BRIDGE_PULL == "unary":
            self.run_unary()
        else:
            self.run_streaming()

    def run_streaming(self) -> None:
        """Streaming pull with flow control: the client library leases and dispatches."""
        flow_control = pubsub_v1.types.FlowControl(max_messages=self.max_messages)

        def subscribe(subscription: Subscription):
            logger.info("bridge streaming-pulling %s", subscription.name)
            return self.subscriber.subscribe(
                subscription_path(subscription.name),
                callback=self.callback_for(subscription),
                flow_control=flow_control,
            )

        self.futures = [subscribe(subscription) for subscription in self.subscriptions]
        liveness.beat("bridge")
        try:
            while not self.stopping.wait(1.0):
                liveness.beat("bridge")  # the client library's threads pull; this loop watches them
                for index, future in enumerate(self.futures):
                    if not future.done():
                        continue
                    if isinstance(future.exception(), exceptions.NotFound) and self.reprovision(
                        self.subscriptions[index]
                    ):
                        self.futures[index] = subscribe(self.subscriptions[index])
                        continue
                    future.result()  # re-raise: a dead stream must stop the process, not hide
        finally:
            for future in self.futures:
                future.cancel()
            self.subscriber.close()

    def run_unary(self) -> None:
        """Long-polling Pull, one thread per subscription, at most max_messages in flight each.

        A killed bridge leaves only the batch it held, back after the ack deadline. (The emulator
        keeps dispatching to the streams of a SIGKILLed streaming subscriber for a long time.)
        """
        threads = [
            threading.Thread(target=self.pull_loop, args=(s,), name=s.name, daemon=True) for s in self.subscriptions
        ]
        for thread in threads:
            thread.start()
            logger.info("bridge pulling %s", thread.name)
        try:
            while not self.stopping.wait(1.0):
                if not all(thread.is_alive() for thread in threads):
                    raise RuntimeError("a pull loop died")  # let the supervisor restart the process
        finally:
            self.stopping.set()
            self.subscriber.close()

    def pull_loop(self, subscription: Subscription) -> None:
        """Pull and hand over until stopped. Pub/Sub errors pause this subscription, never end the loop."""
        path = subscription_path(subscription.name)
        pause = 0.0
        while not self.stopping.is_set():
            liveness.beat(subscription.name)
            if pause:
                self.stopping.wait(pause)
            try:
                response = self.subscriber.pull(
                    request={"subscription": path, "max_messages": self.max_messages}, timeout=10
                )
            except exceptions.DeadlineExceeded:
                pause = 0.0  # an empty long poll
                continue
            except exceptions.NotFound:  # pull again at once once re-created; if still missing, back off
                floor = 0.1 if self.reprovision(subscription) else 0.5
                pause = min(max(pause * 2, floor), MAX_PAUSE_SECONDS)
                continue
            except exceptions.GoogleAPIError as exc:  # Pub/Sub unreachable or restarting
                if self.stopping.is_set():
                    break  # the client was closed under the pull
                pause = min(max(pause * 2, 0.5), MAX_PAUSE_SECONDS)
                logger.warning(
                    "%s: pull failed (%s: %s); again in %.1fs", subscription.name, type(exc).__name__, exc, pause
                )
                continue
            pause = 0.0
            metrics.observe_pulled(
                subscription.service.name,
                [m.message.publish_time.ToNanoseconds() / 1e9 for m in type(response).pb(response).received_messages],
            )
            acks, nacks = [], []
            self.hand_over(subscription, [PulledMessage(m, acks, nacks) for m in response.received_messages])
            try:
                if acks:
                    self.subscriber.acknowledge(request={"subscription": path, "ack_ids": acks})
                    logger.debug("%s: acknowledged %d", subscription.name, len(acks))
                if nacks:
                    self.subscriber.modify_ack_deadline(
                        request={"subscription": path, "ack_ids": nacks, "ack_deadline_seconds": 0}
                    )
            except exceptions.GoogleAPIError as exc:  # the tasks are queued: a redelivered copy is dropped
                logger.warning("%s: could not settle %d messages: %s", subscription.name, len(acks) + len(nacks), exc)
            if self.linger and len(response.received_messages) < self.max_messages:
                self.stopping.wait(self.linger)  # let the next batch gather (a full one: pull again at once)

    def reprovision(self, subscription: Subscription) -> bool:
        """Create a missing subscription (with its topic and dead letters) again; whether it now exists."""
        logger.warning("%s: subscription is missing; provisioning it again", subscription.name)
        try:
            Provisioner(publisher_client=self.publisher, subscriber_client=self.subscriber).subscription(subscription)
        except exceptions.GoogleAPIError as exc:
            logger.error("%s: could not provision the subscription: %s", subscription.name, exc)
            return False
        return True

    def stop(self) -> None:
        self.stopping.set()
