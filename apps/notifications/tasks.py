"""The notification service's Celery tasks: its handlers, run through the inbox on its own queue."""

from apps.events.tasks import handler_tasks
from apps.notifications.handlers import GIVE_UP_HOOKS, HANDLERS

handle_event, handle_events = handler_tasks("notification", HANDLERS, GIVE_UP_HOOKS)
