"""The cart service's Celery tasks: its handlers, run through the inbox on its own queue."""

from apps.carts.handlers import GIVE_UP_HOOKS, HANDLERS
from apps.events.tasks import handler_tasks

handle_event, handle_events = handler_tasks("cart", HANDLERS, GIVE_UP_HOOKS)
