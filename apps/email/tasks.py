"""The email service's Celery task: its handlers, run through the inbox on its own queue."""

from apps.email.handlers import GIVE_UP_HOOKS, HANDLERS
from apps.events.tasks import handler_task

handle_event = handler_task("email", HANDLERS, GIVE_UP_HOOKS)
