"""The outbox relay: publishes every service's committed events to Pub/Sub, promptly and once.

A thin loop. It LISTENs for the NOTIFY each outbox insert sends at commit (with a short fallback
poll), takes a batch of pending rows with FOR UPDATE SKIP LOCKED (so several relays share the
work), publishes them with their ordering keys (one Publish call per topic), and marks them
published in the same transaction. Killed between publish and mark, it publishes the batch
again on restart: the events keep their event_id, so consumers drop the copies. Every
REDRIVE_INTERVAL_SECONDS it also re-drives what a subscribed service never received
(workers/redrive.py).

Failure is bounded and stays where it happened. A row Pub/Sub can never take (too large, invalid,
a topic that cannot be re-created) is parked after OUTBOX_MAX_PUBLISH_ATTEMPTS and the rows behind
it go on; a missing topic (an emulator restarted empty) is provisioned again, with its
subscriptions; one service's database down backs off that service only, the others keep publishing.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, InterfaceError, connections, transaction
from django.utils import timezone
from google.api_core import exceptions
from google.api_core.exceptions import GoogleAPIError
from google.pubsub_v1 import PubsubMessage

from apps.events.models import OutboxEvent
from apps.events.provisioning import Provisioner
from apps.events.pubsub import batch_publisher, topic_path
from apps.events.signing import SIGNATURE_ATTRIBUTE, envelope_signature
from shop.observability import liveness, metrics, tracing
from shop.observability.logging import event_fields
from shop.registry import get_service
from shop.topology import subscriptions
from workers.redrive import Redriver

logger = logging.getLogger("workers.relay")

CHANNEL = "outbox"
PUBLISH_TIMEOUT_SECONDS = 30
# Pub/Sub takes at most 10 MB per message and per Publish request. (The emulator does not answer a
# request over 11,000,000 bytes at all: its gRPC layer fails and the call hangs. So the relay never
# sends one: a row over the limit is parked unsent, and batches are cut well below it.)
MAX_MESSAGE_BYTES = 10_000_000
MAX_REQUEST_BYTES = 9_000_000
MAX_REQUEST_MESSAGES = 1_000
# Errors that say "not now" rather than "never": they stall a database's publishing, never park a row.
TRANSIENT = (
    exceptions.ServiceUnavailable,
    exceptions.DeadlineExceeded,
    exceptions.RetryError,
    exceptions.InternalServerError,
    exceptions.Aborted,
    exceptions.ResourceExhausted,
    exceptions.Unknown,
    exceptions.Cancelled,
)
MAX_BACKOFF_SECONDS = 10.0


class PendingRow(NamedTuple):
    """An outbox row as the relay reads it: a plain tuple, no model instance to build per row."""

    pk: int
    event_id: UUID
    topic: str
    event_type: str
    schema_version: int
    ordering_key: str
    correlation_id: UUID | None
    occurred_at: datetime
    payload: str | dict  # the jsonb column's text, as read here (a dict from a model instance)
    publish_attempts: int
    traceparent: str
    tracestate: str


_PENDING = """
SELECT id, event_id, topic, event_type, schema_version, ordering_key, correlation_id, occurred_at, payload,
       publish_attempts, traceparent, tracestate
FROM outbox WHERE published_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
"""
_MARK_PUBLISHED = """
UPDATE outbox SET published_at = %s, first_published_at = COALESCE(first_published_at, %s) WHERE id = ANY(%s)
"""


def compact_json(payload: str | dict) -> bytes:
    """The payload as the message's data: compact JSON, whether read as jsonb text or as a dict."""
    return orjson.dumps(orjson.loads(payload) if isinstance(payload, str) else payload)


def pubsub_message(row: PendingRow | OutboxEvent, producer: str, trace: dict[str, str] | None = None) -> PubsubMessage:
    """The row as a message; ``trace`` (traceparent, tracestate) travels beside the envelope, signed with it."""
    data = compact_json(row.payload)
    attributes = message_attributes(row, producer)
    if trace:
        attributes.update(trace)
    if settings.PUBSUB_SIGNING_KEY:  # the bridge then believes only what a relay signed
        attributes[SIGNATURE_ATTRIBUTE] = envelope_signature(settings.PUBSUB_SIGNING_KEY, attributes, data)
    return PubsubMessage(data=data, attributes=attributes, ordering_key=row.ordering_key or "")


def row_fields(row: PendingRow | OutboxEvent) -> dict[str, str]:
    """An outbox row's event fields, for its log lines."""
    return event_fields(
        event_id=row.event_id, event_type=row.event_type, topic=row.topic, correlation_id=row.correlation_id
    )


def message_attributes(row: OutboxEvent, producer: str) -> dict[str, str]:
    """The envelope, as Pub/Sub attributes (strings only)."""
    return {
        "event_id": str(row.event_id),
        "event_type": row.event_type,
        "occurred_at": row.occurred_at.isoformat(),
        "schema_version": str(row.schema_version),
        "correlation_id": str(row.correlation_id or ""),
        "producer": producer,
    }


class OutboxRelay:
    def __init__(
        self,
        databases: list[str],
        *,
        batch_size: int | None = None,
        poll_seconds: float | None = None,
        publisher=None,
        provisioner: Provisioner | None = None,
        clock: Callable[[], datetime] = timezone.now,
    ):
        self.databases = databases
        self.batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.OUTBOX_POLL_SECONDS
        self.linger = settings.OUTBOX_LINGER_SECONDS
        self.max_attempts = settings.OUTBOX_MAX_PUBLISH_ATTEMPTS
        self.publisher = publisher or batch_publisher()
        self.provisioner = provisioner
        self.clock = clock
        self.redrive_seconds = settings.REDRIVE_INTERVAL_SECONDS
        self.redriver = Redriver(databases, clock=clock)
        self.stopping = threading.Event()
        self.listeners: dict[str, psycopg.Connection] = {}
        self.retry_at: dict[str, float] = {}  # database -> monotonic time it is tried again
        self.backoff: dict[str, float] = {}
        self.publish_spans: dict[int, object] = {}  # outbox row -> its "publish <topic>" span (tracing on)

    def publish_batch(self, database: str) -> int:
        """Publish up to one batch of pending events of one database; the number of rows taken."""
        return self._publish_batch(database)[0]

    def _publish_batch(self, database: str) -> tuple[int, int]:
        """(rows taken, rows published) of one batch.

        One Publish call per topic (cut below Pub/Sub's request limit) carries the batch's rows for
        it, in outbox order. A call that fails for a reason retrying cannot cure is tried again row
        by row, so one bad row fails alone; a row that keeps failing so is parked. A topic found
        missing is provisioned again (with its subscriptions) and the call tried once more.
        """
        producer = get_service(database).service_name
        with transaction.atomic(using=database):
            with connections[database].cursor() as cursor:
                cursor.execute(_PENDING, [self.batch_size])
                rows = [PendingRow(*values) for values in cursor.fetchall()]
            if not rows:
                return 0, 0
            by_topic: dict[str, list[PendingRow]] = {}
            for row in rows:
                by_topic.setdefault(row.topic, []).append(row)
            published: list[int] = []
            failed: list[tuple[OutboxEvent, Exception]] = []
            for topic, topic_rows in by_topic.items():
                for request in self._requests(topic_rows, producer, failed):
                    self._publish(database, topic, request, published, failed)
            now = self.clock()
            if published:
                with connections[database].cursor() as cursor:
                    cursor.execute(_MARK_PUBLISHED, [now, now, published])
                metrics.count_published(database, rows, published, now)
            stuck = [row for row, exc in failed if not self._record_failure(database, row, exc, now)]
        if stuck and not published:
            raise PublishingStalled(f"{len(stuck)} events of {database} could not be published")
        return len(rows), len(published)

    def _requests(self, rows: list[PendingRow], producer: str, failed: list) -> list[list]:
        """The rows' messages cut into Publish requests; a message over the limit fails unsent."""
        requests: list[list] = []
        size = 0
        for row in rows:
            span, trace = tracing.start_publish(row.topic, row.event_id, row.traceparent, row.tracestate)
            if span is not None:
                self.publish_spans[row.pk] = span
            message = pubsub_message(row, producer, trace)
            message_size = PubsubMessage.pb(message).ByteSize()
            if message_size > MAX_MESSAGE_BYTES:
                failed.append((row, MessageTooLarge(f"{message_size} bytes, Pub/Sub takes {MAX_MESSAGE_BYTES}")))
                self._end_spans([row], failed)
                continue
            if not requests or size + message_size > MAX_REQUEST_BYTES or len(requests[-1]) >= MAX_REQUEST_MESSAGES:
                requests.append([])
                size = 0
            requests[-1].append((row, message))
            size += message_size
        return requests

    def _publish(self, database: str, topic: str, request: list, published: list, failed: list) -> None:
        try:
            self._publish_request(database, topic, request, published, failed)
        finally:
            if self.publish_spans:
                self._end_spans([row for row, _ in request], failed)

    def _end_spans(self, rows: list[PendingRow], failed: list) -> None:
        errors = {row.pk: exc for row, exc in failed}
        for row in rows:
            span = self.publish_spans.pop(row.pk, None)
            if span is not None:
                tracing.end_publish(span, errors.get(row.pk))

    def _publish_request(self, database: str, topic: str, request: list, published: list, failed: list) -> None:
        try:
            self._send(topic, request)
        except exceptions.NotFound as exc:
            if not self._provision(database, topic):
                failed.extend((row, exc) for row, _ in request)
                return
            try:
                self._send(topic, request)
            except GoogleAPIError as again:
                self._failed(database, topic, request, again, published, failed)
                return
        except GoogleAPIError as exc:
            self._failed(database, topic, request, exc, published, failed)
            return
        published.extend(row.pk for row, _ in request)
        if logger.isEnabledFor(logging.DEBUG):
            for row, _ in request:  # a line per event, to find one by its event or correlation id
                logger.debug("%s: published %s to %s", database, row.event_id, topic, extra=row_fields(row))

    def _failed(self, database: str, topic: str, request: list, exc: Exception, published: list, failed: list) -> None:
        """A request failed: if retrying cannot cure it and it carried several rows, find the bad ones."""
        if isinstance(exc, (*TRANSIENT, exceptions.NotFound)) or len(request) == 1:  # not about one row
            failed.extend((row, exc) for row, _ in request)
            return
        for one in request:
            try:
                self._send(topic, [one])
            except GoogleAPIError as alone:
                failed.append((one[0], alone))
            else:
                published.append(one[0].pk)

    def _send(self, topic: str, request: list) -> None:
        with metrics.PUBLISH_REQUEST.labels(topic).time():
            self.publisher.publish(
                topic=topic_path(topic), messages=[message for _, message in request], timeout=PUBLISH_TIMEOUT_SECONDS
            )
        liveness.beat("relay")  # a Publish call ended: the loop moves, however slowly Pub/Sub answers

    def _provision(self, database: str, topic: str) -> bool:
        """Create a missing topic and every subscription on it (before publishing, or the messages go nowhere)."""
        logger.warning("%s: topic %s is missing; provisioning it and its subscriptions", database, topic)
        try:
            provisioner = self.provisioner or Provisioner()
            provisioner.topic(topic)
            for subscription in subscriptions():
                if subscription.topic == topic:
                    provisioner.subscription(subscription)
        except GoogleAPIError as exc:
            logger.error("%s: could not provision topic %s: %s", database, topic, exc)
            return False
        return True

    def _record_failure(self, database: str, row: PendingRow, exc: Exception, now: datetime) -> bool:
        """Count a failed attempt; whether the row is now parked."""
        attempts = row.publish_attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:5000]
        park = isinstance(exc, MessageTooLarge) or (attempts >= self.max_attempts and not isinstance(exc, TRANSIENT))
        metrics.PUBLISH_FAILURES.labels(database, row.topic, type(exc).__name__).inc()
        OutboxEvent.objects.using(database).filter(pk=row.pk).update(
            publish_attempts=attempts, last_error=error, parked_at=now if park else None
        )
        if park:
            logger.error(
                "%s: parked %s %s after %d attempts (OUTBOX_MAX_PUBLISH_ATTEMPTS): %s",
                database,
                row.event_type,
                row.event_id,
                attempts,
                error,
                extra=row_fields(row),
            )
        else:
            logger.warning(
                "%s: publishing %s %s failed: %s", database, row.event_type, row.event_id, error, extra=row_fields(row)
            )
        return park

    def drain(self, database: str) -> int:
        total = 0
        while not self.stopping.is_set():
            taken, published = self._publish_batch(database)
            total += taken
            if taken < self.batch_size or not published:
                return total
        return total

    def serve(self, database: str) -> int:
        """Publish what is pending in one database (the rows taken); its failures back off that database only."""
        if self.retry_at.get(database, 0.0) > time.monotonic():
            return 0
        taken = 0
        try:
            if database not in self.listeners:
                self.listeners[database] = self._listen(database)
            taken = self.drain(database)
        except PublishingStalled as exc:
            self._back_off(database, f"{exc}")
        except (DatabaseError, InterfaceError, psycopg.Error) as exc:
            self._forget_connections(database)
            self._back_off(database, f"{database}: database unreachable ({type(exc).__name__}: {exc})".strip())
        else:
            self.retry_at.pop(database, None)
            self.backoff.pop(database, None)
        return taken

    def _back_off(self, database: str, reason: str) -> None:
        pause = min(max(self.backoff.get(database, 0.0) * 2, 0.5), MAX_BACKOFF_SECONDS)
        self.backoff[database] = pause
        self.retry_at[database] = time.monotonic() + pause
        logger.error("%s; retrying %s in %.1fs", reason, database, pause)

    def _forget_connections(self, database: str) -> None:
        listener = self.listeners.pop(database, None)
        closers = [listener.close] if listener else []
        for close in [*closers, connections[database].close]:
            with contextlib.suppress(Exception):  # a broken connection may fail to close; it is gone anyway
                close()

    def run(self) -> None:
        due = set(self.databases)  # start by publishing whatever was left behind
        next_redrive = time.monotonic() + self.redrive_seconds
        logger.info("relay publishing the outboxes of %s", ", ".join(self.databases))
        try:
            while not self.stopping.is_set():
                liveness.beat("relay")
                if self.redrive_seconds and time.monotonic() >= next_redrive:
                    next_redrive = time.monotonic() + self.redrive_seconds
                    try:
                        if self.redriver.sweep():
                            due = set(self.databases)
                    except Exception:
                        logger.exception("re-drive check failed; trying again in %ss", self.redrive_seconds)
                moved = 0
                for database in sorted(due):
                    if self.stopping.is_set():
                        break
                    moved += self.serve(database)
                due.clear()
                if moved and self.linger:
                    self.stopping.wait(self.linger)  # let the next batch gather; NOTIFYs meanwhile wait below
                now = time.monotonic()
                timeout = min([self.poll_seconds, *(max(at - now, 0.0) for at in self.retry_at.values())])
                by_fileno = {conn.fileno(): database for database, conn in self.listeners.items()}
                ready, _, _ = select.select(list(by_fileno), [], [], timeout)
                if not ready:
                    due = set(self.databases)  # fallback poll: a NOTIFY may have been missed
                for fileno in ready:
                    database = by_fileno[fileno]
                    try:
                        for _notify in self.listeners[database].notifies(timeout=0):
                            pass
                    except psycopg.Error:
                        self._forget_connections(database)  # its database went away; serve() reconnects
                    due.add(database)
                now = time.monotonic()
                due |= {database for database, at in self.retry_at.items() if at <= now}
        finally:
            for conn in self.listeners.values():
                conn.close()

    def stop(self) -> None:
        self.stopping.set()

    @staticmethod
    def _listen(database: str) -> psycopg.Connection:
        params = connections[database].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.setdefault("connect_timeout", 5)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn


class PublishingStalled(Exception):
    """Nothing of a batch could be published (Pub/Sub unreachable, a topic missing)."""


class MessageTooLarge(Exception):
    """A row's message is over Pub/Sub's limit: it can never be published."""
