"""The order service's Celery tasks: its handlers, run through the inbox on its own queue."""

from apps.events.tasks import handler_tasks
from apps.orders.handlers import HANDLERS

handle_event, handle_events = handler_tasks("order", HANDLERS)
