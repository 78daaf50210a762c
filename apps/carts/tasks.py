"""The cart service's consumer and its Celery tasks, on its own queue."""

from apps.carts.handlers import GIVE_UP_HOOKS, HANDLERS
from apps.events.consumer import Consumer, RetryPolicy
from apps.events.tasks import consumer_tasks
from shop.registry import get_service

consumer = Consumer(
    get_service("cart"),
    HANDLERS,
    give_up_hooks=GIVE_UP_HOOKS,
    retry_policy=RetryPolicy.from_settings(),
)
handle_event, handle_events = consumer_tasks(consumer)
