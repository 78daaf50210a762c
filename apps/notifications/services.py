"""Notification writes: create, ask for delivery (same transaction), record the outcome."""

from uuid import UUID, uuid4

from django.db import connections, transaction
from django.utils import timezone

from apps.events.contracts import DeliveryReport
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
    with transaction.atomic(using=DATABASE):
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


# One statement for the notifications of an event, each once: the unique (event_id, channel, audience)
# index decides, and only the rows inserted now come back to be asked for delivery.
_CREATE_FOR_EVENT = """
INSERT INTO notifications_notification
    (id, customer_id, audience, recipient, channel, title, message, status, error_message, event_type, event_id,
     correlation_id, created_at, updated_at)
VALUES {rows}
ON CONFLICT (event_id, channel, audience) WHERE event_id IS NOT NULL DO NOTHING
RETURNING id
"""
_CREATE_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, '', %s, %s, %s, now(), now())"


def notifications_create_for_event(
    *,
    event_id: UUID,
    event_type: str,
    channels: list[str],
    title: str,
    message: str,
    customer_id: UUID | None = None,
    audience: str = Audience.CUSTOMER,
    recipient: str = "",
    correlation_id: UUID | None = None,
) -> list[Notification]:
    """One notification per channel for an event (and audience), once; the ones created now.

    Each is asked for delivery in the same transaction. Runs in the handler's transaction.
    """
    candidates = [
        Notification(
            id=uuid4(),
            customer_id=customer_id,
            audience=audience,
            recipient=recipient,
            channel=channel,
            title=title,
            message=message,
            status=NotificationStatus.PENDING,
            event_type=event_type,
            event_id=event_id,
            correlation_id=correlation_id,
        )
        for channel in channels
    ]
    params = []
    for n in candidates:
        params += [n.id, n.customer_id, n.audience, n.recipient, n.channel, n.title, n.message, n.status]
        params += [n.event_type, n.event_id, n.correlation_id]
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(_CREATE_FOR_EVENT.format(rows=", ".join([_CREATE_ROW] * len(candidates))), params)
        created = {row[0] for row in cursor.fetchall()}
    made = [notification for notification in candidates if notification.id in created]
    for notification in made:
        record_delivery_requested(notification)
    return made


def notifications_mark_delivered(reports: list[DeliveryReport]) -> None:
    """Record what the email or push service did for each; the delivered ones in one statement."""
    delivered = [report.notification_id for report in reports if report.delivered]
    if delivered:
        now = timezone.now()
        Notification.objects.filter(id__in=delivered).exclude(status=NotificationStatus.SENT).update(
            status=NotificationStatus.SENT, sent_at=now, error_message="", updated_at=now
        )
    for report in reports:
        if not report.delivered:
            notification_mark_delivered(notification_id=report.notification_id, delivered=False, error=report.error)


def notification_mark_delivered(*, notification_id: UUID, delivered: bool, error: str = "") -> None:
    """Record what the email or push service did; a notification already sent stays sent."""
    now = timezone.now()
    pending = Notification.objects.filter(id=notification_id).exclude(status=NotificationStatus.SENT)
    if delivered:
        pending.update(status=NotificationStatus.SENT, sent_at=now, error_message="", updated_at=now)
    else:
        pending.update(status=NotificationStatus.FAILED, error_message=error[:5000], updated_at=now)
