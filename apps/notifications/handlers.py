"""Turn the saga's outcomes into one email and one push notification for the customer.

Each handler runs inside the inbox transaction; the unique (event_id, channel, audience)
constraint makes a second notification for the same event impossible even without the inbox.
"""

from django.conf import settings

from apps.events.contracts import Envelope, NotificationDelivered, OrderCancelled, OrderCreated, StockRejected
from apps.notifications.enums import Audience, Channel
from apps.notifications.services import notifications_create_for_event, notifications_mark_delivered


def on_order_created(event: OrderCreated, envelope: Envelope) -> None:
    lines = "\n".join(f"- {i.quantity} x {i.product_sku} at {i.price:.2f}" for i in event.items)
    _notify_customer(
        event,
        envelope,
        title="Your order is confirmed",
        message=f"Order {event.order_id} is confirmed. Total: {event.total_amount:.2f}\n{lines}",
    )


def on_order_cancelled(event: OrderCancelled, envelope: Envelope) -> None:
    _notify_customer(
        event,
        envelope,
        title="Your order is cancelled",
        message=f"Order {event.order_id} is cancelled ({event.reason}).",
    )


REJECTIONS = {  # stock.rejected's reason: what the customer is told
    "insufficient_stock": (
        "Some items are out of stock",
        "We could not reserve your cart {cart_id}; you can change it and try again.",
    ),
    "reservation_failed": (
        "We could not take your order",
        "We could not reserve the items of your cart {cart_id}; nothing was taken. You can try again.",
    ),
    "order_failed": (
        "We could not take your order",
        "We could not make the order for your cart {cart_id}; the items are back in stock. You can try again.",
    ),
}


def on_stock_rejected(event: StockRejected, envelope: Envelope) -> None:
    shortfall = "\n".join(f"- {d.product_sku}: asked for {d.requested}, {d.available} available" for d in event.details)
    title, message = REJECTIONS[event.reason]
    _notify_customer(
        event,
        envelope,
        title=title,
        message="\n".join(filter(None, [message.format(cart_id=event.cart_id), shortfall])),
    )
    if settings.STOCK_MANAGER_EMAIL and event.reason == "insufficient_stock":
        notifications_create_for_event(
            event_id=envelope.event_id,
            event_type=event.event_type(),
            channels=[Channel.EMAIL],
            audience=Audience.STOCK_MANAGER,
            recipient=settings.STOCK_MANAGER_EMAIL,
            correlation_id=envelope.correlation_id,
            title=f"Stock shortfall for cart {event.cart_id}",
            message=f"Customer {event.customer_id} could not order:\n{shortfall}",
        )


def on_notification_delivered(event: NotificationDelivered, envelope: Envelope) -> None:
    notifications_mark_delivered(event.reports)


def _notify_customer(event, envelope: Envelope, *, title: str, message: str) -> None:
    notifications_create_for_event(
        event_id=envelope.event_id,
        correlation_id=envelope.correlation_id,
        event_type=event.event_type(),
        channels=[Channel.EMAIL, Channel.PUSH],
        customer_id=event.customer_id,
        title=title,
        message=message,
    )


# Given up on (dead-lettered after the last retry), an outcome is still told: the customer gets a
# plain email and push notification, in the dead letter's transaction (a replay finds them made);
# a delivery report still settles its notification.
GIVEN_UP_TITLES = {
    OrderCreated.topic: "Your order is confirmed",
    OrderCancelled.topic: "Your order is cancelled",
    StockRejected.topic: "We could not take your order",
}


def on_outcome_given_up(event: OrderCreated | OrderCancelled | StockRejected, envelope: Envelope, error: str) -> None:
    title = GIVEN_UP_TITLES[event.event_type()]
    about = f"Order {event.order_id}" if isinstance(event, OrderCreated | OrderCancelled) else f"Cart {event.cart_id}"
    _notify_customer(event, envelope, title=title, message=f"{about}: {title.lower()}.")


def on_notification_delivered_given_up(event: NotificationDelivered, envelope: Envelope, error: str) -> None:
    notifications_mark_delivered(event.reports)


HANDLERS = {
    OrderCreated.topic: on_order_created,
    OrderCancelled.topic: on_order_cancelled,
    StockRejected.topic: on_stock_rejected,
    NotificationDelivered.topic: on_notification_delivered,
}

GIVE_UP_HOOKS = {
    OrderCreated.topic: on_outcome_given_up,
    OrderCancelled.topic: on_outcome_given_up,
    StockRejected.topic: on_outcome_given_up,
    NotificationDelivered.topic: on_notification_delivered_given_up,
}
