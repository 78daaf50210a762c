"""The notification service's part of a cart's timeline: the notifications its events caused, and their fate."""

from uuid import UUID

from apps.events.trail import MAX_ROWS, Entry, Kind
from apps.notifications.enums import NotificationStatus
from apps.notifications.events import DATABASE
from apps.notifications.models import Notification

SERVICE = "notification"


def trail(correlation_id: UUID) -> list[Entry]:
    entries = []
    notifications = Notification.objects.using(DATABASE).filter(correlation_id=correlation_id).order_by("created_at")
    for notification in notifications[:MAX_ROWS]:
        about = f"notification {notification.id} for {notification.audience}, from {notification.event_type}"
        entries.append(
            Entry(
                notification.created_at,
                SERVICE,
                Kind.STATE,
                f"{notification.channel} notification created",
                "pending",
                about,
            )
        )
        if notification.status == NotificationStatus.SENT and notification.sent_at is not None:
            entries.append(
                Entry(
                    notification.sent_at,
                    SERVICE,
                    Kind.STATE,
                    f"{notification.channel} notification sent",
                    "sent",
                    about,
                )
            )
        elif notification.status == NotificationStatus.FAILED:
            details = f"{about}; {notification.error_message[:300]}"
            entries.append(
                Entry(
                    notification.updated_at,
                    SERVICE,
                    Kind.STATE,
                    f"{notification.channel} notification failed",
                    "failed",
                    details,
                )
            )
    return entries
