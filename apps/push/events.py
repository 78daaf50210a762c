"""What the push service publishes: that notifications' push messages were delivered."""

from uuid import UUID

from apps.events.contracts import MAX_LINES, DeliveryReport, NotificationDelivered
from apps.events.outbox import record_event
from shop.registry import get_service

DATABASE = get_service("push").database
# What this service publishes (its consumers: HANDLERS in handlers.py); shop/topology.py joins the two.
PUBLISHES = (NotificationDelivered,)


def record_push_delivered(
    *, notification_id: UUID, delivered: bool = True, error: str = "", correlation_id: UUID | None = None
) -> None:
    record_pushes_delivered([notification_id], delivered=delivered, error=error, correlation_id=correlation_id)


def record_pushes_delivered(
    notification_ids: list[UUID], *, delivered: bool = True, error: str = "", correlation_id: UUID | None = None
) -> None:
    """One notification.delivered for all of them (one per MAX_LINES).

    ``correlation_id``: the cart all of them are about, when they are about one (else None).
    """
    for start in range(0, len(notification_ids), MAX_LINES):
        ids = notification_ids[start : start + MAX_LINES]
        reports = [DeliveryReport(notification_id=i, channel="push", delivered=delivered, error=error) for i in ids]
        record_event(NotificationDelivered(reports=reports), using=DATABASE, correlation_id=correlation_id)
