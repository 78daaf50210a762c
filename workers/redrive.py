"""Re-drive: publish again what a consuming service never received, a bounded number of times.

Pub/Sub promises at-least-once delivery, but the emulator breaks that promise now and then: a
message handed to a Pull whose subscriber is SIGKILLed at that moment may never be delivered again
(seen in `make chaos`: the relay had published it, no bridge ever received it, minutes later).
A platform that must lose nothing cannot leave that to the transport, so the relay checks, every
REDRIVE_INTERVAL_SECONDS, each subscription's recent traffic: events its topic carried that were
first published less than REDRIVE_WINDOW_SECONDS ago, last published more than
REDRIVE_GRACE_SECONDS ago, and that the consuming service has no inbox row for. Those outbox rows
are marked unpublished again, so the relay publishes them once more with their original envelope
(same event_id): the consumer that missed one processes it, every other consumer drops the copy.

Bounded three ways. The window is counted from the first publication, which a re-drive does not
move. A consumer with tasks still waiting in its broker queue is lagging, not losing: nothing is
judged lost for it until its queue is seen empty. And an event re-published REDRIVE_MAX_PER_EVENT
times and still not received is given up on: logged, counted, marked in the outbox (the admin shows
it), and never looked at again.

Like the relay and the invariant audit, this is platform plumbing: it reads each service's outbox
and inbox through that service's own connection and changes nothing but the relay's own columns.
A database it cannot reach holds back only what depends on it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connections
from django.db.models import F, Q
from django.utils import timezone

from apps.events.models import OutboxEvent, ProcessedMessage
from shop.celery import app as celery_app
from shop.observability import metrics
from shop.registry import Service
from shop.topology import subscriptions

logger = logging.getLogger("workers.redrive")


def broker_backlog(consumers: list[Service]) -> dict[str, int | None]:
    """Service name -> tasks waiting in its queue at the broker (None: the broker could not say)."""
    backlog: dict[str, int | None] = {service.name: None for service in consumers}
    try:
        with celery_app.connection_for_read() as connection:
            for service in consumers:
                channel = connection.channel()
                try:
                    backlog[service.name] = channel.queue_declare(queue=service.queue, passive=True).message_count
                except connection.channel_errors:
                    backlog[service.name] = 0  # no queue yet: nothing waits in it
                finally:
                    channel.close()
    except Exception as exc:  # an unreachable broker makes every consumer "unknown"
        logger.warning("re-drive: the broker could not say what is queued (%s); judging nobody lost", exc)
    return backlog


class Redriver:
    """The relay's re-drive, remembering per producer how far every event is known to be received.

    A sweep looks only at outbox rows past that watermark, so each event is checked about once
    after its grace, not on every sweep for the whole window. The watermark never passes a row
    it could not judge yet (unpublished, published within the grace, its consumer lagging or
    unreachable) nor one found missing: those are looked at again on the next sweep. A row given up
    on, or older than the window, no longer holds it. A restarted relay starts from the whole window.
    """

    def __init__(
        self,
        producers: list[str],
        *,
        clock: Callable[[], datetime] = timezone.now,
        backlog: Callable[[list[Service]], dict[str, int | None]] = broker_backlog,
    ):
        self.producers = producers
        self.clock = clock
        self.backlog = backlog
        self.received_through: dict[str, int] = {}  # producer database -> outbox row id
        self.re_driven = 0  # counters over the relay's life, logged with every change
        self.given_up = 0

    def sweep(self) -> int:
        """Mark what was never received as unpublished again; the number of outbox rows re-driven."""
        missing = self.unconsumed(
            grace_seconds=settings.REDRIVE_GRACE_SECONDS, window_seconds=settings.REDRIVE_WINDOW_SECONDS
        )
        limit, total = settings.REDRIVE_MAX_PER_EVENT, 0
        for producer, lost in missing.items():
            try:
                total += self._redrive(producer, [pk for pk, count, _ in lost if count < limit])
                self._give_up(producer, [(pk, count, who) for pk, count, who in lost if count >= limit])
            except (DatabaseError, InterfaceError) as exc:
                self._unreachable(producer, exc)
        return total

    def _redrive(self, producer: str, ids: list[int]) -> int:
        # Only rows still marked published: one the relay is publishing right now is left alone.
        marked = (
            OutboxEvent.objects.using(producer)
            .filter(pk__in=ids, published_at__isnull=False, redrive_count__lt=settings.REDRIVE_MAX_PER_EVENT)
            .update(
                published_at=None,
                redrive_count=F("redrive_count") + 1,
                last_error="re-driven: a subscribed service never received it",
            )
        )
        if marked:
            self.re_driven += marked
            metrics.REDRIVEN.labels(producer).inc(marked)
            logger.warning(
                "%s: re-driving %d events a subscribed service never received (%d re-driven since start)",
                producer,
                marked,
                self.re_driven,
            )
        return marked

    def _give_up(self, producer: str, lost: list[tuple[int, int, list[str]]]) -> None:
        now = self.clock()
        for pk, count, consumers in lost:
            reason = f"re-drive gave up after {count} re-publications: {', '.join(consumers)} never received it"
            given_up = (
                OutboxEvent.objects.using(producer)
                .filter(pk=pk, redrive_given_up_at__isnull=True)
                .update(redrive_given_up_at=now, last_error=reason)
            )
            if given_up:
                self.given_up += 1
                metrics.REDRIVE_GIVEN_UP.labels(producer).inc()
                event_id = OutboxEvent.objects.using(producer).values_list("event_id", flat=True).get(pk=pk)
                logger.error(
                    "%s: outbox row %d (event %s): %s (%d given up since start)",
                    producer,
                    pk,
                    event_id,
                    reason,
                    self.given_up,
                )

    def unconsumed(self, *, grace_seconds: float, window_seconds: float) -> dict[str, list[tuple[int, int, list[str]]]]:
        """Producer database -> (outbox row id, re-drives so far, consumers without it) of what was lost."""
        now = self.clock()
        judged_before, window_start = now - timedelta(seconds=grace_seconds), now - timedelta(seconds=window_seconds)
        consumers_of: dict[str, list[Service]] = defaultdict(list)
        for subscription in subscriptions():
            consumers_of[subscription.topic].append(subscription.service)
        backlog: dict[str, int | None] | None = None  # asked of the broker once a sweep, if needed
        missing: dict[str, list[tuple[int, int, list[str]]]] = {}
        for producer in self.producers:
            through = self.received_through.get(producer, 0)
            try:
                rows = list(
                    OutboxEvent.objects.using(producer)
                    .filter(parked_at__isnull=True, redrive_given_up_at__isnull=True)
                    # never published (the pending index finds those), or first published in the window
                    .filter(
                        Q(published_at__isnull=True, first_published_at__isnull=True)
                        | Q(first_published_at__gte=window_start)
                    )
                    .filter(id__gt=through, topic__in=list(consumers_of))
                    .order_by("id")
                    .values_list("id", "event_id", "topic", "published_at", "redrive_count")
                )
            except (DatabaseError, InterfaceError) as exc:
                self._unreachable(producer, exc)
                continue
            by_topic: dict[str, dict[str, int]] = defaultdict(dict)  # topic -> event id -> outbox row id
            redrives, unjudged = {}, set()
            for pk, event_id, topic, published_at, redrive_count in rows:
                if published_at is None or published_at > judged_before:
                    unjudged.add(pk)
                else:
                    by_topic[topic][str(event_id)] = pk
                    redrives[pk] = redrive_count
            if by_topic and backlog is None:
                backlog = self.backlog(list({s.name: s for ss in consumers_of.values() for s in ss}.values()))
            lost: dict[int, list[str]] = defaultdict(list)
            for topic, ids in by_topic.items():
                for consumer in consumers_of[topic]:
                    if (backlog or {}).get(consumer.name) != 0:
                        unjudged.update(ids.values())  # lagging, or the broker cannot say: not judged yet
                        continue
                    try:
                        received = set(
                            ProcessedMessage.objects.using(consumer.database)
                            .filter(service_name=consumer.service_name, message_id__in=list(ids))
                            .values_list("message_id", flat=True)
                        )
                    except (DatabaseError, InterfaceError) as exc:
                        self._unreachable(consumer.database, exc)
                        unjudged.update(ids.values())
                        continue
                    for event_id, pk in ids.items():
                        if event_id not in received:
                            lost[pk].append(consumer.service_name)
            if lost:
                missing[producer] = [(pk, redrives[pk], lost[pk]) for pk in sorted(lost)]
            if rows:
                stops = [*unjudged, *lost]
                self.received_through[producer] = min(stops) - 1 if stops else rows[-1][0]
        return missing

    @staticmethod
    def _unreachable(database: str, exc: Exception) -> None:
        logger.error("re-drive: %s unreachable, left for the next sweep: %s: %s", database, type(exc).__name__, exc)
        with contextlib.suppress(Exception):  # a broken connection may fail to close; it is gone anyway
            connections[database].close()


def redrive(producers: list[str], **kwargs) -> int:
    """One sweep over the whole window, remembering nothing (the relay keeps a ``Redriver``)."""
    return Redriver(producers, **kwargs).sweep()
