"""Consuming an event exactly once: the inbox row and the handler's effects commit together.

``processed_messages`` is keyed on (message_id = event_id, service_name). Claiming the row is
the first statement of the handler's transaction: a concurrent duplicate waits on the unique
index and then sees the event done; a rolled-back attempt leaves no success behind, and its
failure is recorded in a transaction of its own so that staff can see it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from django.conf import settings
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

_CLAIM = """
INSERT INTO processed_messages
    (message_id, event_type, service_name, status, processed_at, attempts, started_at, error_message)
VALUES (%s, %s, %s, %s, now(), 1, %s, NULL)
ON CONFLICT (message_id, service_name) DO UPDATE
    SET status = EXCLUDED.status, processed_at = now(), started_at = EXCLUDED.started_at,
        attempts = processed_messages.attempts + 1, error_message = NULL
    WHERE processed_messages.status <> %s
RETURNING id
"""

_RECORD = """
INSERT INTO processed_messages
    (message_id, event_type, service_name, status, processed_at, attempts, started_at, error_message)
VALUES (%s, %s, %s, %s, now(), 1, %s, %s)
ON CONFLICT (message_id, service_name) DO UPDATE
    SET status = EXCLUDED.status, processed_at = now(), error_message = EXCLUDED.error_message,
        attempts = processed_messages.attempts + (CASE WHEN EXCLUDED.status = %s THEN 1 ELSE 0 END)
    WHERE processed_messages.status <> %s
"""


class MalformedEvent(Exception):
    """The message breaks the event contract: retrying cannot help, it goes to the dead letters."""


def parse(event_type: str, payload: dict, attributes: dict) -> tuple[Event, Envelope]:
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
        cursor.execute(
            _CLAIM,
            [
                str(envelope.event_id),
                envelope.event_type,
                service_name,
                ProcessingStatus.SUCCESS,
                started_at or timezone.now(),
                ProcessingStatus.SUCCESS,
            ],
        )
        claimed = cursor.fetchone()
        if claimed is None:
            return False
        handler(event, envelope)
        if settings.HANDLER_FAULT_DELAY_SECONDS:
            time.sleep(settings.HANDLER_FAULT_DELAY_SECONDS)  # fault injection: a window to kill us in
        # processed_at: when the effects were done (now() would say when the transaction began).
        cursor.execute("UPDATE processed_messages SET processed_at = clock_timestamp() WHERE id = %s", claimed)
    return True


def record_failure(*, database: str, service_name: str, event_id: str, event_type: str, error: str) -> None:
    """Note a failed attempt (never marking the event done), in a transaction of its own."""
    _record(database, service_name, event_id, event_type, ProcessingStatus.FAILED, error)


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

    ``on_give_up(error)`` runs in the same transaction, for a service that must tell
    others it gave up (the email service reports the notification as failed, the order service has
    the reserved stock returned). It runs in a savepoint: a hook that fails is noted with the dead
    letter, which is kept all the same (else the message would come back to fail forever).
    """
    event_id = attributes.get("event_id") or ""
    with transaction.atomic(using=database):
        _record(database, service_name, event_id, event_type, ProcessingStatus.DEAD_LETTERED, error)
        if on_give_up is not None:
            try:
                with transaction.atomic(using=database):
                    on_give_up(error)
            except Exception as exc:
                logger.exception("%s: the give-up hook for %s %s failed", service_name, event_type, event_id)
                error = f"{error}\n(the give-up hook failed too: {type(exc).__name__}: {exc})"
        try:
            key = UUID(event_id)
        except ValueError:
            return  # no usable id: nothing to replay; the inbox row above is the record
        DeadLetter.objects.using(database).update_or_create(
            event_id=key,
            defaults={
                "event_type": event_type,
                "payload": payload,
                "attributes": attributes,
                "error_message": error,
                "attempts": attempts,
                "dead_lettered_at": timezone.now(),
                "replayed_at": None,
            },
        )


def _record(database: str, service_name: str, event_id: str, event_type: str, status: str, error: str) -> None:
    with connections[database].cursor() as cursor:
        cursor.execute(
            _RECORD,
            [
                event_id[:255],
                event_type[:100],
                service_name,
                status,
                timezone.now(),
                error[:10_000],
                ProcessingStatus.FAILED,
                ProcessingStatus.SUCCESS,
            ],
        )
