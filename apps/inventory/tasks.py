"""The inventory service's consumer and its Celery tasks, on its own queue."""

from apps.events.consumer import Consumer, RetryPolicy
from apps.events.tasks import consumer_tasks
from apps.inventory.handlers import GIVE_UP_HOOKS, HANDLERS
from apps.inventory.reservations import stock_lock_for_batch
from shop.registry import get_service

consumer = Consumer(
    get_service("inventory"),
    HANDLERS,
    give_up_hooks=GIVE_UP_HOOKS,
    batch_lock=stock_lock_for_batch,
    retry_policy=RetryPolicy.from_settings(),
)
handle_event, handle_events = consumer_tasks(consumer)
