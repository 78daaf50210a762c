"""The order service's Celery tasks: its handlers, run through the inbox on its own queue."""

from apps.events.tasks import handler_tasks
from apps.orders.handlers import GIVE_UP_HOOKS, HANDLERS

handle_event, handle_events = handler_tasks("order", HANDLERS, GIVE_UP_HOOKS)
