"""The notification service's consumer and its Celery tasks, on its own queue."""

from apps.events.consumer import Consumer, RetryPolicy
from apps.events.tasks import consumer_tasks
from apps.notifications.handlers import GIVE_UP_HOOKS, HANDLERS
from shop.registry import get_service

consumer = Consumer(
    get_service("notification"),
    HANDLERS,
    give_up_hooks=GIVE_UP_HOOKS,
    retry_policy=RetryPolicy.from_settings(),
)
handle_event, handle_events = consumer_tasks(consumer)
