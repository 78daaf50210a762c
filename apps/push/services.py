from uuid import UUID, uuid4

from django.db import connections, transaction

from apps.push.events import DATABASE, record_push_delivered

# Stored once per notification (the unique notification_id decides), in one statement.
_STORE = """
INSERT INTO push_pushmessage (id, customer_id, notification_id, title, message, created_at)
VALUES (%s, %s, %s, %s, %s, now())
ON CONFLICT (notification_id) DO NOTHING
"""


def push_deliver(*, notification_id: UUID, customer_id: UUID, title: str, message: str) -> bool:
    """Store the push message for the customer's devices once; False when it was stored already.

    The message and its delivery event commit together: a message stored without its event
    would never be reported, since a retry finds the message and stops.
    """
    with transaction.atomic(using=DATABASE, savepoint=False), connections[DATABASE].cursor() as cursor:
        cursor.execute(_STORE, [uuid4(), customer_id, notification_id, title[:200], message])
        if cursor.rowcount != 1:
            return False
        record_push_delivered(notification_id=notification_id)
    return True
