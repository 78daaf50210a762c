"""How the push service reacts to events. Each runs in the inbox transaction."""

from apps.events.contracts import Envelope, PushRequested
from apps.push.services import push_deliver


def on_push_requested(event: PushRequested, envelope: Envelope) -> None:
    push_deliver(
        notification_id=event.notification_id, customer_id=event.customer_id, title=event.title, message=event.message
    )


HANDLERS = {PushRequested.topic: on_push_requested}
