"""Building events as they travel, for tests of any service (never imported by the platform itself)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from apps.events.contracts import Event
from apps.events.models import OutboxEvent
from apps.events.outbox import record_event


def attributes_of(event: Event, event_id=None, **extra: str) -> dict[str, str]:
    """The envelope as message attributes, as the relay publishes it."""
    return {
        "event_id": str(event_id or uuid.uuid4()),
        "event_type": event.event_type(),
        "occurred_at": datetime.now(UTC).isoformat(),
        "schema_version": str(event.schema_version),
        **extra,
    }


def message(event: Event, event_id=None, **extra: str) -> list:
    """[event_type, payload, attributes], as the bridge hands an event to a task."""
    return [event.event_type(), event.model_dump(mode="json"), attributes_of(event, event_id, **extra)]


def recorded(event: Event, *, using: str, **options) -> OutboxEvent:
    """``record_event`` for tests that look at the row afterwards: the outbox row it wrote."""
    return OutboxEvent.objects.using(using).get(event_id=record_event(event, using=using, **options))
