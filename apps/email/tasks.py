"""The email service's consumer and its Celery tasks, on its own queue."""

from apps.email.handlers import BATCH_HANDLERS, GIVE_UP_HOOKS, HANDLERS, PREPARE_HOOKS
from apps.events.consumer import Consumer, RetryPolicy
from apps.events.tasks import consumer_tasks
from shop.registry import get_service

consumer = Consumer(
    get_service("email"),
    HANDLERS,
    give_up_hooks=GIVE_UP_HOOKS,
    prepare_hooks=PREPARE_HOOKS,
    batch_handlers=BATCH_HANDLERS,
    retry_policy=RetryPolicy.from_settings(),
)
handle_event, handle_events = consumer_tasks(consumer)
