"""What the email service publishes: whether a notification's email went out."""

from uuid import UUID

from apps.events.contracts import NotificationDelivered
from apps.events.outbox import record_event
from shop.registry import get_service

DATABASE = get_service("email").database


def record_email_delivered(*, notification_id: UUID, delivered: bool, error: str = "") -> None:
    event = NotificationDelivered(notification_id=notification_id, channel="email", delivered=delivered, error=error)
    record_event(event, using=DATABASE, ordering_key=str(notification_id), correlation_id=notification_id)
