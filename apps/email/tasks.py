"""The email service's Celery tasks: its handlers, run through the inbox on its own queue."""

from apps.email.handlers import GIVE_UP_HOOKS, HANDLERS, PREPARE_HOOKS
from apps.events.tasks import handler_tasks

handle_event, handle_events = handler_tasks("email", HANDLERS, GIVE_UP_HOOKS, PREPARE_HOOKS)
