"""Recording events in a service's outbox, inside the transaction of the change that caused them."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Iterable
from uuid import UUID

import orjson
from django.conf import settings
from django.db import connections

from apps.events.contracts import Event
from shop.observability import metrics, tracing
from shop.observability.logging import bind_correlation_id, event_fields

logger = logging.getLogger(__name__)


class OutboxOutsideTransaction(RuntimeError):
    """An event was recorded outside a transaction: it could commit without its cause."""


class EventTooLarge(ValueError):
    """An event's payload is over OUTBOX_MAX_PAYLOAD_BYTES: refused here, before it can commit unpublishable."""


# One constant statement (nothing for the ORM to build per event); the table's NOTIFY trigger wakes
# the relay at commit.
_INSERT = """
INSERT INTO outbox
    (event_id, topic, event_type, schema_version, ordering_key, correlation_id, payload, occurred_at,
     publish_attempts, last_error, redrive_count, traceparent, tracestate)
VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, clock_timestamp(), 0, '', 0, %s, %s)
"""


def record_event(
    event: Event,
    *,
    using: str,
    ordering_key: str = "",
    correlation_id: UUID | None = None,
) -> UUID:
    """Add ``event`` to the outbox of the database ``using``; the caller's transaction commits it.

    Returns the event's id.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise OutboxOutsideTransaction(
            f"{event.event_type()} must be recorded inside transaction.atomic(using={using!r})"
        )
    payload = event.model_dump(mode="json")
    # Validate again: an event built with model_construct would otherwise slip through.
    type(event).model_validate(payload)
    data = orjson.dumps(payload)
    if len(data) > settings.OUTBOX_MAX_PAYLOAD_BYTES:
        raise EventTooLarge(
            f"{event.event_type()} payload is {len(data)} bytes, more than OUTBOX_MAX_PAYLOAD_BYTES"
            f" ({settings.OUTBOX_MAX_PAYLOAD_BYTES})"
        )
    event_id = uuid.uuid4()
    # The trace this change belongs to, for the relay to carry on (empty with tracing off).
    traceparent, tracestate = tracing.outbox_context()
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                event_id,
                event.topic,
                event.event_type(),
                event.schema_version,
                ordering_key,
                correlation_id,
                data.decode(),
                traceparent,
                tracestate,
            ],
        )
    # Counted once the change commits (a rolled-back one never happened): no statement, a counter.
    connection.on_commit(functools.partial(metrics.count_recorded, using, event.topic))
    bind_correlation_id(correlation_id)  # the request's later lines name the saga it started
    if logger.isEnabledFor(logging.DEBUG):  # where an event is born: its request or handled event
        fields = event_fields(
            event_id=event_id, event_type=event.event_type(), topic=event.topic, correlation_id=correlation_id
        )
        logger.debug("recorded %s %s", event.event_type(), event_id, extra=fields)
    return event_id


def shared_correlation_id(correlation_ids: Iterable[UUID | None]) -> UUID | None:
    """The correlation id an event about a batch carries: the one all of the batch shares (one cart's),
    else None, since a report about several carts belongs to no one cart's saga."""
    distinct = set(correlation_ids)
    return distinct.pop() if len(distinct) == 1 else None


def next_state_version(previous: int = 0) -> int:
    """A version for event-carried state: microseconds since the epoch, always past ``previous``.

    Services that keep a copy of another's records apply a change only if its version is newer,
    so a late or re-delivered event never overwrites fresher state.
    """
    return max(previous + 1, time.time_ns() // 1000)
