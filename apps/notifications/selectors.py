from uuid import UUID

from django.db.models import QuerySet

from apps.notifications.models import Notification
from shop.errors import NotFound


def notification_list(*, customer_id: UUID | None = None) -> QuerySet[Notification]:
    """Every notification, or only those of ``customer_id`` (a customer asking)."""
    notifications = Notification.objects.all()
    if customer_id is not None:
        notifications = notifications.filter(customer_id=customer_id)
    return notifications


def notification_get(*, notification_id: UUID, customer_id: UUID | None = None) -> Notification:
    """The notification; a customer asking (``customer_id``) sees only their own."""
    try:
        return notification_list(customer_id=customer_id).get(id=notification_id)
    except Notification.DoesNotExist:
        raise NotFound(f"No notification with id {notification_id}.") from None
