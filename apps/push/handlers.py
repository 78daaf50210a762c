"""How the push service reacts to events. Each runs in the inbox transaction."""

from apps.events.contracts import Envelope, PushRequested
from apps.push.events import record_push_delivered
from apps.push.services import push_deliver


def on_push_requested(event: PushRequested, envelope: Envelope) -> None:
    push_deliver(
        notification_id=event.notification_id, customer_id=event.customer_id, title=event.title, message=event.message
    )


def on_push_given_up(event: PushRequested, envelope: Envelope, error: str) -> None:
    """The push message could not be stored even after every retry: the notification becomes failed."""
    record_push_delivered(notification_id=event.notification_id, delivered=False, error=error[:1000])


HANDLERS = {PushRequested.topic: on_push_requested}
GIVE_UP_HOOKS = {PushRequested.topic: on_push_given_up}
