from uuid import UUID

from django.db.models import QuerySet

from apps.notifications.models import Notification
from shop.errors import NotFound


def notification_list() -> QuerySet[Notification]:
    return Notification.objects.all()


def notification_get(*, notification_id: UUID) -> Notification:
    try:
        return Notification.objects.get(id=notification_id)
    except Notification.DoesNotExist:
        raise NotFound(f"No notification with id {notification_id}.") from None
