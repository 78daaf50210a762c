"""The push service's Celery task: its handlers, run through the inbox on its own queue."""

from apps.events.tasks import handler_task
from apps.push.handlers import GIVE_UP_HOOKS, HANDLERS

handle_event = handler_task("push", HANDLERS, GIVE_UP_HOOKS)
