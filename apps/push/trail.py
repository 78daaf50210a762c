"""The push service's part of a cart's timeline: the push messages it stored for the customer's devices."""

from uuid import UUID

from apps.events.trail import MAX_ROWS, Entry, Kind
from apps.push.events import DATABASE
from apps.push.models import PushMessage

SERVICE = "push"


def trail(correlation_id: UUID) -> list[Entry]:
    messages = PushMessage.objects.using(DATABASE).filter(correlation_id=correlation_id).order_by("created_at")
    return [
        Entry(
            message.created_at,
            SERVICE,
            Kind.STATE,
            "push message stored",
            "delivered",
            f"{message.id} for notification {message.notification_id}",
        )
        for message in messages[:MAX_ROWS]
    ]
