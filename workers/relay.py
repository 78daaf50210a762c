"""The outbox relay: publishes every service's committed events to Pub/Sub, promptly and once.

A thin loop. It LISTENs for the NOTIFY each outbox insert sends at commit (with a short fallback
poll), takes a batch of pending rows with FOR UPDATE SKIP LOCKED (so several relays share the
work), publishes them with their ordering keys (one Publish call per topic), and marks them
published in the same transaction. Killed between publish and mark, it publishes the batch
again on restart: the events keep their event_id, so consumers drop the copies. Every
REDRIVE_INTERVAL_SECONDS it also re-drives what a subscribed service never received
(workers/redrive.py).
"""

from __future__ import annotations

import json
import logging
import select
import threading
import time

import psycopg
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from google.api_core.exceptions import GoogleAPIError
from google.pubsub_v1 import PubsubMessage

from apps.events.models import OutboxEvent
from apps.events.pubsub import batch_publisher, topic_path
from apps.events.signing import SIGNATURE_ATTRIBUTE, envelope_signature
from shop.services import get_service
from workers.redrive import Redriver

logger = logging.getLogger("workers.relay")

CHANNEL = "outbox"
PUBLISH_TIMEOUT_SECONDS = 30


def pubsub_message(row: OutboxEvent, producer: str) -> PubsubMessage:
    data = json.dumps(row.payload, separators=(",", ":")).encode()
    attributes = message_attributes(row, producer)
    if settings.PUBSUB_SIGNING_KEY:  # the bridge then believes only what a relay signed
        attributes[SIGNATURE_ATTRIBUTE] = envelope_signature(settings.PUBSUB_SIGNING_KEY, attributes, data)
    return PubsubMessage(data=data, attributes=attributes, ordering_key=row.ordering_key or "")


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
    def __init__(self, databases: list[str], *, batch_size: int | None = None, poll_seconds: float | None = None):
        self.databases = databases
        self.batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.OUTBOX_POLL_SECONDS
        self.publisher = batch_publisher()
        self.redrive_seconds = settings.REDRIVE_INTERVAL_SECONDS
        self.redriver = Redriver(databases)
        self.stopping = threading.Event()

    def publish_batch(self, database: str) -> int:
        """Publish up to one batch of pending events of one database; the number of rows taken.

        One Publish call per topic carries all of the batch's rows for it, in outbox order, and
        succeeds or fails as a whole, so a failed topic's rows stay pending together and keep their
        order for the next attempt.
        """
        producer = get_service(database).service_name
        with transaction.atomic(using=database):
            rows = list(
                OutboxEvent.objects.using(database)
                .select_for_update(skip_locked=True)
                .filter(published_at__isnull=True)
                .order_by("id")[: self.batch_size]
            )
            if not rows:
                return 0
            by_topic: dict[str, list[OutboxEvent]] = {}
            for row in rows:
                by_topic.setdefault(row.topic, []).append(row)
            published, failed = [], []
            for topic, topic_rows in by_topic.items():
                try:
                    self.publisher.publish(
                        topic=topic_path(topic),
                        messages=[pubsub_message(row, producer) for row in topic_rows],
                        timeout=PUBLISH_TIMEOUT_SECONDS,
                    )
                    published.extend(row.pk for row in topic_rows)
                    if logger.isEnabledFor(logging.DEBUG):
                        event_ids = [str(row.event_id) for row in topic_rows]
                        logger.debug("%s: published to %s %s", database, topic, event_ids)
                except GoogleAPIError as exc:
                    failed.extend((row, exc) for row in topic_rows)
            now = timezone.now()
            OutboxEvent.objects.using(database).filter(pk__in=published).update(published_at=now)
            for row, exc in failed:
                logger.warning("%s: publishing %s %s failed: %s", database, row.event_type, row.event_id, exc)
                OutboxEvent.objects.using(database).filter(pk=row.pk).update(
                    publish_attempts=row.publish_attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:5000]
                )
        if failed and not published:
            raise PublishingStalled(f"{len(failed)} events of {database} could not be published")
        return len(rows)

    def drain(self, database: str) -> int:
        total = 0
        while not self.stopping.is_set():
            taken = self.publish_batch(database)
            total += taken
            if taken < self.batch_size:
                return total
        return total

    def run(self) -> None:
        listeners = {database: self._listen(database) for database in self.databases}
        by_fileno = {conn.fileno(): database for database, conn in listeners.items()}
        due = set(self.databases)  # start by publishing whatever was left behind
        backoff = 0.0
        next_redrive = time.monotonic() + self.redrive_seconds
        logger.info("relay publishing the outboxes of %s", ", ".join(self.databases))
        try:
            while not self.stopping.is_set():
                if self.redrive_seconds and time.monotonic() >= next_redrive:
                    next_redrive = time.monotonic() + self.redrive_seconds
                    try:
                        if self.redriver.sweep():
                            due = set(self.databases)
                    except Exception:
                        logger.exception("re-drive check failed; trying again in %ss", self.redrive_seconds)
                for database in sorted(due):
                    try:
                        self.drain(database)
                        backoff = 0.0
                    except PublishingStalled as exc:
                        backoff = min(max(backoff * 2, 0.5), 10.0)
                        logger.error("%s; retrying in %.1fs", exc, backoff)
                due.clear()
                if backoff:
                    self.stopping.wait(backoff)
                    due = set(self.databases)
                    continue
                ready, _, _ = select.select(list(by_fileno), [], [], self.poll_seconds)
                if not ready:
                    due = set(self.databases)  # fallback poll: a NOTIFY may have been missed
                for fileno in ready:
                    database = by_fileno[fileno]
                    for _notify in listeners[database].notifies(timeout=0):
                        pass
                    due.add(database)
        finally:
            for conn in listeners.values():
                conn.close()

    def stop(self) -> None:
        self.stopping.set()

    @staticmethod
    def _listen(database: str) -> psycopg.Connection:
        params = connections[database].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        conn = psycopg.connect(**params, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn


class PublishingStalled(Exception):
    """Nothing of a batch could be published (Pub/Sub unreachable, a topic missing)."""
