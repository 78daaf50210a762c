"""The inventory service's Celery task: its handlers, run through the inbox on its own queue."""

from apps.events.tasks import handler_task
from apps.inventory.handlers import HANDLERS

handle_event = handler_task("inventory", HANDLERS)
