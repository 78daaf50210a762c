"""The order service's Celery task: its handlers, run through the inbox on its own queue."""

from apps.events.tasks import handler_task
from apps.orders.handlers import HANDLERS

handle_event = handler_task("order", HANDLERS)
