"""Consuming an event exactly once: the inbox row and the handler's effects commit together.

``processed_messages`` is keyed on (message_id = event_id, service_name). Claiming the row is
the first statement of the handler's transaction: a concurrent duplicate waits on the unique
index and then sees the event done; a rolled-back attempt leaves no success behind, and its
failure is recorded in a transaction of its own so that staff can see it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from django.db import connections, transaction
from django.utils import timezone
from pydantic import ValidationError

from apps.events.contracts import Envelope, Event, event_class
from apps.events.enums import ProcessingStatus
from apps.events.models import DeadLetter

Handler = Callable[[Event, Envelope], None]
# What a service does when it gives up on an event it could parse (after the last retry), in the
# dead letter's transaction: tell others, or end the saga the event was a step of.
GiveUpHook = Callable[[Event, Envelope, str], None]

logger = logging.getLogger(__name__)

# One statement claims every event of a batch. processed_at is the transaction's time (now()), a few
# milliseconds before its COMMIT makes the effects visible: no second statement per event to move it.
# The envelope's correlation id goes in with the claim (no statement of its own): a service's
# timeline finds what it consumed for one cart by it (apps/events/trail.py).
_CLAIM = """
INSERT INTO processed_messages
    (message_id, event_type, service_name, status, processed_at, attempts, started_at, error_message, correlation_id)
VALUES {rows}
ON CONFLICT (message_id, service_name) DO UPDATE
    SET status = EXCLUDED.status, processed_at = now(), started_at = EXCLUDED.started_at,
        attempts = processed_messages.attempts + 1, error_message = NULL,
        correlation_id = COALESCE(EXCLUDED.correlation_id, processed_messages.correlation_id)
    WHERE processed_messages.status <> %s
RETURNING message_id
"""
_CLAIM_ROW = "(%s, %s, %s, %s, now(), 1, %s, NULL, %s)"

_RECORD = """
INSERT INTO processed_messages
    (message_id, event_type, service_name, status, processed_at, attempts, started_at, error_message, correlation_id)
VALUES (%s, %s, %s, %s, now(), 1, %s, %s, %s)
ON CONFLICT (message_id, service_name) DO UPDATE
    SET status = EXCLUDED.status, processed_at = now(), error_message = EXCLUDED.error_message,
        attempts = processed_messages.attempts + (CASE WHEN EXCLUDED.status = %s THEN 1 ELSE 0 END),
        correlation_id = COALESCE(EXCLUDED.correlation_id, processed_messages.correlation_id)
    WHERE processed_messages.status <> %s
"""


class MalformedEvent(Exception):
    """The message breaks the event contract: retrying cannot help, it goes to the dead letters."""


# Dead letters whose event_id is no UUID are keyed on their content instead, so that the same
# garbage delivered again lands on the same row.
_UNKEYED = uuid.UUID("9a4f3c1e-5b7d-4e2a-8c6f-0d1b2a3c4e5f")


def holds_nul(value) -> bool:
    """Whether a decoded JSON value has U+0000 in a string or key: PostgreSQL stores it in no text
    or jsonb column, so no handler could ever record such an event."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(v) for v in value)
    return False


def storable(text: str) -> str:
    """``text`` for a text column: U+0000 written out as ``\\x00``."""
    return text.replace("\x00", "\\x00")


def raw_message(event_type: str, payload, attributes) -> bytes:
    """The message as the task received it (its JSON arguments), for a bytea column that takes anything."""
    return json.dumps([event_type, payload, attributes], separators=(",", ":")).encode()


def parse(event_type: str, payload: dict, attributes: dict) -> tuple[Event, Envelope]:
    if holds_nul(payload) or holds_nul(attributes):
        raise MalformedEvent("a string holds U+0000, which PostgreSQL cannot store")
    try:
        envelope = Envelope(
            event_id=UUID(attributes["event_id"]),
            event_type=event_type,
            occurred_at=attributes.get("occurred_at", ""),
            schema_version=int(attributes.get("schema_version", 1)),
            correlation_id=UUID(attributes["correlation_id"]) if attributes.get("correlation_id") else None,
        )
        return event_class(event_type).model_validate(payload), envelope
    except (KeyError, ValueError, TypeError, LookupError, ValidationError) as exc:
        raise MalformedEvent(f"{type(exc).__name__}: {exc}") from exc


def claim(cursor, service_name: str, envelopes: list[Envelope], started_at: datetime) -> set[str]:
    """Claim events in this service's inbox, in the caller's transaction: the ids (as str) still to do.

    An event done already is not returned; a concurrent claim of the same event waits on the unique
    index until the other transaction ends. The rows are claimed in event id order, so two
    batches holding the same events cannot deadlock; each id must appear once.
    """
    ordered = sorted(envelopes, key=lambda envelope: str(envelope.event_id))
    params: list = []
    for envelope in ordered:
        params += [str(envelope.event_id), envelope.event_type, service_name, ProcessingStatus.SUCCESS, started_at]
        params.append(envelope.correlation_id)
    params.append(ProcessingStatus.SUCCESS)
    cursor.execute(_CLAIM.format(rows=", ".join([_CLAIM_ROW] * len(ordered))), params)
    return {message_id for (message_id,) in cursor.fetchall()}


def consume(
    *,
    database: str,
    service_name: str,
    handler: Handler,
    event: Event,
    envelope: Envelope,
    started_at: datetime | None = None,
) -> bool:
    """Run ``handler`` once for this event in this service; False when it had run already."""
    with transaction.atomic(using=database), connections[database].cursor() as cursor:
        if not claim(cursor, service_name, [envelope], started_at or timezone.now()):
            return False
        handler(event, envelope)
    return True


def record_failure(
    *, database: str, service_name: str, event_id: str, event_type: str, error: str, attributes: object = None
) -> None:
    """Note a failed attempt (never marking the event done), in a transaction of its own.

    ``attributes``: the message's, for its correlation id (the failed claim rolled back with it).
    """
    _record(database, service_name, event_id, event_type, ProcessingStatus.FAILED, error, correlation_of(attributes))


def dead_letter(
    *,
    database: str,
    service_name: str,
    event_type: str,
    payload: dict,
    attributes: dict,
    error: str,
    attempts: int,
    on_give_up: Callable[[str], None] | None = None,
) -> None:
    """Give up on an event: keep it whole for replay and show it in the inbox as dead-lettered.

    Whatever the message holds, it is kept: always as raw bytes (``raw_message``), and as jsonb
    too when PostgreSQL can store it there (not with U+0000 in a string). A message without a
    usable event id is keyed on its content.

    ``on_give_up(error)`` runs in the same transaction, for a service that must tell
    others it gave up (the email service reports the notification as failed, the order service has
    the reserved stock returned). It runs in a savepoint: a hook that fails is noted with the dead
    letter, which is kept all the same (else the message would come back to fail forever).
    """
    raw = raw_message(event_type, payload, attributes)
    event_id = attributes.get("event_id") if isinstance(attributes, dict) else None
    event_id = event_id if isinstance(event_id, str) else ""
    try:
        key = UUID(event_id)
    except ValueError:
        key = uuid.uuid5(_UNKEYED, raw.decode())
        event_id = str(key)
    error = storable(error)
    with transaction.atomic(using=database):
        _record(
            database,
            service_name,
            event_id,
            event_type,
            ProcessingStatus.DEAD_LETTERED,
            error,
            correlation_of(attributes),
        )
        if on_give_up is not None:
            try:
                with transaction.atomic(using=database):
                    on_give_up(error)
            except Exception as exc:
                logger.exception("%s: the give-up hook for %s %s failed", service_name, event_type, event_id)
                error = storable(f"{error}\n(the give-up hook failed too: {type(exc).__name__}: {exc})")
        as_json = not (holds_nul(payload) or holds_nul(attributes))
        DeadLetter.objects.using(database).update_or_create(
            event_id=key,
            defaults={
                "event_type": storable(str(event_type))[:100],
                "payload": payload if as_json else None,
                "attributes": attributes if as_json else None,
                "raw_message": raw,
                "error_message": error,
                "attempts": attempts,
                "dead_lettered_at": timezone.now(),
                "replayed_at": None,
            },
        )


def correlation_of(attributes: object) -> UUID | None:
    """The correlation id a message's attributes carry, or None when they carry no valid one."""
    value = attributes.get("correlation_id") if isinstance(attributes, dict) else None
    try:
        return UUID(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _record(
    database: str,
    service_name: str,
    event_id: str,
    event_type: str,
    status: str,
    error: str,
    correlation_id: UUID | None = None,
) -> None:
    with connections[database].cursor() as cursor:
        cursor.execute(
            _RECORD,
            [
                storable(event_id)[:255],
                storable(str(event_type))[:100],
                service_name,
                status,
                timezone.now(),
                storable(error)[:10_000],
                correlation_id,
                ProcessingStatus.FAILED,
                ProcessingStatus.SUCCESS,
            ],
        )
