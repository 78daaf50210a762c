"""Recording events in a service's outbox, inside the transaction of the change that caused them."""

from __future__ import annotations

import json
import time
from uuid import UUID

from django.conf import settings
from django.db import connections

from apps.events.contracts import Event
from apps.events.models import OutboxEvent


class OutboxOutsideTransaction(RuntimeError):
    """An event was recorded outside a transaction: it could commit without its cause."""


class EventTooLarge(ValueError):
    """An event's payload is over OUTBOX_MAX_PAYLOAD_BYTES: refused here, before it can commit unpublishable."""


def record_event(
    event: Event,
    *,
    using: str,
    ordering_key: str = "",
    correlation_id: UUID | None = None,
) -> OutboxEvent:
    """Add ``event`` to the outbox of the database ``using``; the caller's transaction commits it."""
    if not connections[using].in_atomic_block:
        raise OutboxOutsideTransaction(
            f"{event.event_type()} must be recorded inside transaction.atomic(using={using!r})"
        )
    # Validate again: an event built with model_construct or mutated would otherwise slip through.
    payload = type(event).model_validate(event.model_dump()).model_dump(mode="json")
    size = len(json.dumps(payload, separators=(",", ":")).encode())
    if size > settings.OUTBOX_MAX_PAYLOAD_BYTES:
        raise EventTooLarge(
            f"{event.event_type()} payload is {size} bytes, more than OUTBOX_MAX_PAYLOAD_BYTES"
            f" ({settings.OUTBOX_MAX_PAYLOAD_BYTES})"
        )
    return OutboxEvent.objects.using(using).create(
        topic=event.topic,
        event_type=event.event_type(),
        schema_version=event.schema_version,
        ordering_key=ordering_key,
        correlation_id=correlation_id,
        payload=payload,
    )


def next_state_version(previous: int = 0) -> int:
    """A version for event-carried state: microseconds since the epoch, always past ``previous``.

    Services that keep a copy of another's records apply a change only if its version is newer,
    so a late or re-delivered event never overwrites fresher state.
    """
    return max(previous + 1, time.time_ns() // 1000)
