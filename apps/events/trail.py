"""What one service knows about one correlation id (one cart's saga), from its own database only.

Every service contributes the same kinds of entry: the events it published (its outbox), the events
it consumed (its inbox, ``processed_messages``, with failures and retries), the events it gave up on
(its dead letters), and its own state changes (each domain app's ``trail.py``). The timeline
(``shop/observability/timeline.py``) merges every service's entries in time order; the entries
keep one shape (``Entry``) so that they travel as JSON between services and print as one table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from uuid import UUID

from apps.events.enums import ProcessingStatus
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage

# One cart's saga is a handful of events per service; this bounds a lookup all the same.
MAX_ROWS = 500
SLOW_CLAIM = timedelta(milliseconds=100)  # an inbox claim this long after its batch started is worth a note


class Kind:
    """What an entry is. Ties in time sort in this order: what came in, then what it changed, then what went out."""

    CONSUMED = "consumed"
    DEAD_LETTERED = "dead-lettered"
    STATE = "state"
    PUBLISHED = "published"


_RANK = {Kind.CONSUMED: 0, Kind.DEAD_LETTERED: 1, Kind.STATE: 2, Kind.PUBLISHED: 3}


@dataclass(frozen=True)
class Entry:
    """One thing a service did or knows about, at one time."""

    at: datetime
    service: str  # the service's registry name: "cart", "inventory", ...
    kind: str  # a Kind
    what: str  # the event type, or the state change ("order confirmed")
    outcome: str = ""  # "published", "success", "failed", "sent", ...
    details: str = ""
    event_id: str = ""

    def sort_key(self) -> tuple:
        return (self.at, _RANK.get(self.kind, 9), self.service, self.what)

    def as_dict(self) -> dict:
        return {**asdict(self), "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict) -> Entry:
        return cls(
            at=datetime.fromisoformat(data["at"]),
            service=str(data["service"]),
            kind=str(data["kind"]),
            what=str(data["what"]),
            outcome=str(data.get("outcome", "")),
            details=str(data.get("details", "")),
            event_id=str(data.get("event_id", "")),
        )


def in_time_order(entries) -> list[Entry]:
    return sorted(entries, key=Entry.sort_key)


def events_trail(*, database: str, service: str, correlation_id: UUID) -> list[Entry]:
    """The outbox, inbox and dead letters of one service database for one correlation id (three queries)."""
    return [
        *_published(database, service, correlation_id),
        *_consumed(database, service, correlation_id),
        *_dead_lettered(database, service, correlation_id),
    ]


def _published(database: str, service: str, correlation_id: UUID) -> list[Entry]:
    rows = OutboxEvent.objects.using(database).filter(correlation_id=correlation_id).order_by("id")[:MAX_ROWS]
    entries = []
    for row in rows:
        if row.parked_at is not None:
            outcome = "parked"
        elif row.published_at is not None:
            outcome = "published"
        else:
            outcome = "waiting for the relay"
        details = [f"topic {row.topic}"]
        if row.first_published_at is not None:
            details.append(f"published {_ms(row.first_published_at - row.occurred_at)} later")
        if row.publish_attempts > 1:
            details.append(f"{row.publish_attempts} publish attempts")
        if row.redrive_count:
            details.append(f"re-driven {row.redrive_count}x, last at {row.published_at.isoformat()}")
        if row.redrive_given_up_at is not None:
            details.append(f"re-drive given up at {row.redrive_given_up_at.isoformat()}")
        if row.parked_at is not None:
            details.append(f"parked at {row.parked_at.isoformat()}")
        if row.last_error:
            details.append(f"last error: {row.last_error[:300]}")
        entries.append(
            Entry(
                row.occurred_at, service, Kind.PUBLISHED, row.event_type, outcome, "; ".join(details), str(row.event_id)
            )
        )
    return entries


def _consumed(database: str, service: str, correlation_id: UUID) -> list[Entry]:
    rows = ProcessedMessage.objects.using(database).filter(correlation_id=correlation_id).order_by("id")[:MAX_ROWS]
    entries = []
    for row in rows:
        details = []
        if row.attempts > 1:
            details.append(f"{row.attempts} attempts")
        if row.started_at is not None and row.processed_at - row.started_at >= SLOW_CLAIM:
            # the claim waited: on a lock (a concurrent duplicate), or behind the rest of its batch
            details.append(f"claimed {_ms(row.processed_at - row.started_at)} after its batch started")
        if row.error_message:
            details.append(f"error: {row.error_message[:300]}")
        outcome = {
            ProcessingStatus.SUCCESS: "done",
            ProcessingStatus.FAILED: "failed, to be retried",
            ProcessingStatus.DEAD_LETTERED: "dead-lettered",
        }.get(row.status, row.status)
        entries.append(
            Entry(row.processed_at, service, Kind.CONSUMED, row.event_type, outcome, "; ".join(details), row.message_id)
        )
    return entries


def _dead_lettered(database: str, service: str, correlation_id: UUID) -> list[Entry]:
    # Dead letters are few; their attributes hold the envelope (jsonb containment, no index needed).
    rows = (
        DeadLetter.objects.using(database)
        .filter(attributes__contains={"correlation_id": str(correlation_id)})
        .order_by("dead_lettered_at")[:MAX_ROWS]
    )
    entries = []
    for row in rows:
        outcome = f"replayed at {row.replayed_at.isoformat()}" if row.replayed_at else "waiting for a replay"
        details = f"after {row.attempts} attempts; error: {row.error_message[:300]}"
        entries.append(
            Entry(
                row.dead_lettered_at, service, Kind.DEAD_LETTERED, row.event_type, outcome, details, str(row.event_id)
            )
        )
    return entries


def _ms(delta) -> str:
    return f"{delta.total_seconds() * 1000:.0f} ms"
