from uuid import UUID

from django.db import transaction

from apps.push.events import DATABASE, record_push_delivered
from apps.push.models import PushMessage


def push_deliver(*, notification_id: UUID, customer_id: UUID, title: str, message: str) -> PushMessage | None:
    """Store the push message for the customer's devices once; None when it exists already.

    The message and its delivery event commit together: a message stored without its event
    would never be reported, since a retry finds the message and stops.
    """
    with transaction.atomic(using=DATABASE, savepoint=False):  # in a handler: no SAVEPOINT
        if PushMessage.objects.filter(notification_id=notification_id).exists():
            return None
        push = PushMessage.objects.create(
            notification_id=notification_id, customer_id=customer_id, title=title[:200], message=message
        )
        record_push_delivered(notification_id=notification_id)
    return push
