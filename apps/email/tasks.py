"""The email service's Celery task: its handlers, run through the inbox on its own queue."""

from apps.email.handlers import HANDLERS
from apps.events.tasks import handler_task

handle_event = handler_task("email", HANDLERS)
