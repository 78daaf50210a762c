"""Building events as they travel, for tests of any service (never imported by the platform itself).

``event`` may be an event or its class: only its type and schema version go into an envelope.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from apps.events.contracts import Envelope, Event
from apps.events.models import OutboxEvent
from apps.events.outbox import record_event


def envelope_of(event: Event | type[Event], event_id=None, **fields) -> Envelope:
    """The envelope as the consumer hands it to a handler, beside the event."""
    return Envelope(
        event_id=event_id or uuid.uuid4(),
        event_type=event.event_type(),
        occurred_at=datetime.now(UTC).isoformat(),
        schema_version=event.schema_version,
        **fields,
    )


def attributes_of(event: Event | type[Event], event_id=None, **extra: str) -> dict[str, str]:
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


def relayed(row: OutboxEvent) -> list:
    """[event_type, payload, attributes] of a recorded outbox row: its envelope, as a subscriber reads it."""
    attributes = {
        "event_id": str(row.event_id),
        "event_type": row.event_type,
        "occurred_at": row.occurred_at.isoformat(),
        "schema_version": str(row.schema_version),
        "correlation_id": str(row.correlation_id or ""),
    }
    return [row.event_type, row.payload, attributes]


def recorded(event: Event, *, using: str, **options) -> OutboxEvent:
    """``record_event`` for tests that look at the row afterwards: the outbox row it wrote."""
    return OutboxEvent.objects.using(using).get(event_id=record_event(event, using=using, **options))
