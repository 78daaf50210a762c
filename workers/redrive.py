"""Re-drive: publish again what a consuming service never received.

Pub/Sub promises at-least-once delivery, but the emulator breaks that promise now and then: a
message handed to a Pull whose subscriber is SIGKILLed at that moment may never be delivered again
(seen in `make chaos`: the relay had published it, no bridge ever received it, minutes later).
A platform that must lose nothing cannot leave that to the transport, so the relay checks, every
REDRIVE_INTERVAL_SECONDS, each subscription's recent traffic: events its topic carried that were
published between REDRIVE_WINDOW_SECONDS and REDRIVE_GRACE_SECONDS ago and that the consuming
service has no inbox row for. Those outbox rows are marked unpublished again, so the relay
publishes them once more with their original envelope (same event_id): the consumer that missed
one processes it, every other consumer drops the copy in its inbox.

Like the relay and the invariant audit, this is platform plumbing: it reads each service's outbox
and inbox through that service's own connection and changes nothing but the relay's own column.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.events.models import OutboxEvent, ProcessedMessage
from shop.topology import subscriptions

logger = logging.getLogger("workers.redrive")


class Redriver:
    """The relay's re-drive, remembering per producer how far every event is known to be received.

    A sweep looks only at outbox rows past that watermark, so each event is checked about once
    after its grace, not on every sweep for the whole window. The watermark never passes a row
    it could not judge yet (unpublished, or published within the grace) nor one found missing:
    those are looked at again on the next sweep. A restarted relay starts from the whole window.
    """

    def __init__(self, producers: list[str]):
        self.producers = producers
        self.received_through: dict[str, int] = {}  # producer database -> outbox row id

    def sweep(self) -> int:
        """Mark what was never received as unpublished again; the number of outbox rows re-driven."""
        missing = self.unconsumed(
            grace_seconds=settings.REDRIVE_GRACE_SECONDS, window_seconds=settings.REDRIVE_WINDOW_SECONDS
        )
        total = 0
        for producer, ids in missing.items():
            # Only rows still marked published: one the relay is publishing right now is left alone.
            marked = (
                OutboxEvent.objects.using(producer)
                .filter(pk__in=ids, published_at__isnull=False)
                .update(published_at=None, last_error="re-driven: a subscribed service never received it")
            )
            if marked:
                logger.warning("%s: re-driving %d events a subscribed service never received", producer, marked)
            total += marked
        return total

    def unconsumed(self, *, grace_seconds: float, window_seconds: float) -> dict[str, list[int]]:
        """Producer database -> ids of its outbox rows that some subscribed service has not received."""
        now = timezone.now()
        judged_before, window_start = now - timedelta(seconds=grace_seconds), now - timedelta(seconds=window_seconds)
        consumers_of: dict[str, list] = defaultdict(list)
        for subscription in subscriptions():
            consumers_of[subscription.topic].append(subscription.service)
        missing: dict[str, list[int]] = {}
        for producer in self.producers:
            through = self.received_through.get(producer, 0)
            rows = list(
                OutboxEvent.objects.using(producer)
                .filter(Q(published_at__isnull=True) | Q(published_at__gte=window_start))
                .filter(id__gt=through, topic__in=list(consumers_of))
                .order_by("id")
                .values_list("id", "event_id", "topic", "published_at")
            )
            by_topic: dict[str, dict[str, int]] = defaultdict(dict)  # topic -> event id -> outbox row id
            unjudged = []
            for pk, event_id, topic, published_at in rows:
                if published_at is None or published_at > judged_before:
                    unjudged.append(pk)
                else:
                    by_topic[topic][str(event_id)] = pk
            lost = set()
            for topic, ids in by_topic.items():
                for consumer in consumers_of[topic]:
                    received = set(
                        ProcessedMessage.objects.using(consumer.database)
                        .filter(service_name=consumer.service_name, message_id__in=list(ids))
                        .values_list("message_id", flat=True)
                    )
                    lost.update(pk for event_id, pk in ids.items() if event_id not in received)
            if lost:
                missing[producer] = sorted(lost)
            if rows:
                stops = [*unjudged, *lost]
                self.received_through[producer] = min(stops) - 1 if stops else rows[-1][0]
        return missing


def redrive(producers: list[str]) -> int:
    """One sweep over the whole window, remembering nothing (the relay keeps a ``Redriver``)."""
    return Redriver(producers).sweep()
