"""What the push service publishes: that a notification's push message was delivered."""

from uuid import UUID

from apps.events.contracts import NotificationDelivered
from apps.events.outbox import record_event
from shop.registry import get_service

DATABASE = get_service("push").database


def record_push_delivered(*, notification_id: UUID, delivered: bool = True, error: str = "") -> None:
    event = NotificationDelivered(notification_id=notification_id, channel="push", delivered=delivered, error=error)
    record_event(event, using=DATABASE, ordering_key=str(notification_id), correlation_id=notification_id)
