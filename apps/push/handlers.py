"""How the push service reacts to events. Each runs in the inbox transaction."""

from apps.events.contracts import Envelope, PushRequested
from apps.push.events import record_push_delivered
from apps.push.services import Push, push_deliver_many


def on_push_requested(event: PushRequested, envelope: Envelope) -> None:
    on_pushes_requested([(event, envelope)])


def on_pushes_requested(requests: list[tuple[PushRequested, Envelope]]) -> None:
    """A batch's push requests: stored together, reported in one notification.delivered."""
    push_deliver_many(
        [
            Push(e.notification_id, e.customer_id, e.title, e.message, envelope.correlation_id)
            for e, envelope in requests
        ]
    )


def on_push_given_up(event: PushRequested, envelope: Envelope, error: str) -> None:
    """The push message could not be stored even after every retry: the notification becomes failed."""
    record_push_delivered(
        notification_id=event.notification_id,
        delivered=False,
        error=error[:1000],
        correlation_id=envelope.correlation_id,
    )


HANDLERS = {PushRequested.topic: on_push_requested}
BATCH_HANDLERS = {PushRequested.topic: on_pushes_requested}
GIVE_UP_HOOKS = {PushRequested.topic: on_push_given_up}
