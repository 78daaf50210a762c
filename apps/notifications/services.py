"""Notification writes: create, ask for delivery (same transaction), record the outcome."""

from uuid import UUID

from django.db import transaction
from django.utils import timezone

from apps.notifications.enums import Audience, NotificationStatus
from apps.notifications.events import DATABASE, record_delivery_requested
from apps.notifications.models import Notification


def notification_create(
    *,
    channel: str,
    message: str,
    title: str = "",
    customer_id: UUID | None = None,
    audience: str = Audience.CUSTOMER,
    recipient: str = "",
    event_type: str = "",
    event_id: UUID | None = None,
) -> Notification:
    with transaction.atomic(using=DATABASE, savepoint=False):  # in a handler: no SAVEPOINT
        notification = Notification.objects.create(
            customer_id=customer_id,
            audience=audience,
            recipient=recipient,
            channel=channel,
            title=title,
            message=message,
            event_type=event_type,
            event_id=event_id,
        )
        record_delivery_requested(notification)
    return notification


def notification_mark_delivered(*, notification_id: UUID, delivered: bool, error: str = "") -> None:
    """Record what the email or push service did; a notification already sent stays sent."""
    now = timezone.now()
    pending = Notification.objects.filter(id=notification_id).exclude(status=NotificationStatus.SENT)
    if delivered:
        pending.update(status=NotificationStatus.SENT, sent_at=now, error_message="", updated_at=now)
    else:
        pending.update(status=NotificationStatus.FAILED, error_message=error[:5000], updated_at=now)
