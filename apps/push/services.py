from dataclasses import dataclass
from uuid import UUID, uuid4

from django.db import connections, transaction

from apps.events.outbox import shared_correlation_id
from apps.push.events import DATABASE, record_pushes_delivered

# Stored once per notification (the unique notification_id decides), all of a batch in one statement.
_STORE = """
INSERT INTO push_pushmessage (id, customer_id, notification_id, title, message, correlation_id, created_at)
VALUES {rows}
ON CONFLICT (notification_id) DO NOTHING
RETURNING notification_id
"""
_STORE_ROW = "(%s, %s, %s, %s, %s, %s, now())"


@dataclass(frozen=True)
class Push:
    notification_id: UUID
    customer_id: UUID
    title: str
    message: str
    correlation_id: UUID | None = None  # the cart it is about, kept with the message for its timeline


def push_deliver(
    *, notification_id: UUID, customer_id: UUID, title: str, message: str, correlation_id: UUID | None = None
) -> bool:
    """Store the push message for the customer's devices once; False when it was stored already."""
    return bool(push_deliver_many([Push(notification_id, customer_id, title, message, correlation_id)]))


def push_deliver_many(pushes: list[Push]) -> list[UUID]:
    """Store each push message once; the notifications stored now, reported delivered in one event.

    The messages and their delivery event commit together: a message stored without its event
    would never be reported, since a retry finds the message and stops.
    """
    params = []
    for push in pushes:
        params += [uuid4(), push.customer_id, push.notification_id, push.title[:200], push.message, push.correlation_id]
    with transaction.atomic(using=DATABASE, savepoint=False), connections[DATABASE].cursor() as cursor:
        cursor.execute(_STORE.format(rows=", ".join([_STORE_ROW] * len(pushes))), params)
        stored = {row[0] for row in cursor.fetchall()}
        delivered = [push for push in pushes if push.notification_id in stored]
        if delivered:
            correlation_id = shared_correlation_id(push.correlation_id for push in delivered)
            record_pushes_delivered([push.notification_id for push in delivered], correlation_id=correlation_id)
    return [push.notification_id for push in delivered]
