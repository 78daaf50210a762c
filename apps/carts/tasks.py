"""The cart service's Celery task: its handlers, run through the inbox on its own queue."""

from apps.carts.handlers import HANDLERS
from apps.events.tasks import handler_task

handle_event = handler_task("cart", HANDLERS)
