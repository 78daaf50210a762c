"""What the notification service publishes: requests to deliver, to the email and push services."""

from apps.events.contracts import EmailRequested, PushRequested
from apps.events.outbox import record_event
from apps.notifications.enums import Audience, Channel
from apps.notifications.models import Notification
from shop.registry import get_service

DATABASE = get_service("notification").database
# What this service publishes (its consumers: HANDLERS in handlers.py); shop/topology.py joins the two.
PUBLISHES = (EmailRequested, PushRequested)


def record_delivery_requested(notification: Notification) -> None:
    if notification.channel == Channel.EMAIL:
        event = EmailRequested(
            notification_id=notification.id,
            customer_id=notification.customer_id,
            to_address=notification.recipient if notification.audience == Audience.STOCK_MANAGER else None,
            subject=notification.title,
            body=notification.message,
        )
    else:
        event = PushRequested(
            notification_id=notification.id,
            customer_id=notification.customer_id,
            title=notification.title,
            message=notification.message,
        )
    record_event(event, using=DATABASE, ordering_key=str(notification.id), correlation_id=notification.correlation_id)
