"""Each service's Celery task queue on the broker: declared before its worker starts, migrated once.

The queues are quorum queues with a delivery limit and a parking queue (shop/settings/celery.py).
Earlier versions declared them as classic queues on direct exchanges under the same names, and
RabbitMQ refuses to redeclare a queue or exchange with other arguments (PRECONDITION_FAILED). So
the worker, before it starts, replaces an old classic queue that is empty and has no consumer
(and its exchange); one that still holds tasks is left alone and the worker refuses to start,
saying so: drain it first with workers of the earlier version, or with
``CELERY_QUEUE_TYPE=classic``. Meanwhile a bridge of the new version cannot publish to the old
queue either (same refusal): it holds its batch and retries (BRIDGE_HOLD_SECONDS), then hands it
back to Pub/Sub, so nothing is lost while the queue is replaced.
"""

from __future__ import annotations

import logging

from amqp.exceptions import NotFound, PreconditionFailed
from celery import current_app
from kombu import Queue

from shop.registry import Service

logger = logging.getLogger(__name__)


class QueueNotMigrated(Exception):
    """The service's queue is an old classic queue that still holds tasks or has consumers."""


def parking_queue(queue: str) -> str:
    """Where the broker dead-letters a task message past its delivery limit (or rejected)."""
    return f"{queue}.dead-letter"


def task_queue(service: Service) -> Queue:
    for queue in current_app.conf.task_queues:
        if queue.name == service.queue:
            return queue
    raise LookupError(f"no task queue configured for {service.name}")


def is_quorum(queue: Queue) -> bool:
    return (queue.queue_arguments or {}).get("x-queue-type") == "quorum"


def ensure_task_queue(service: Service) -> str:
    """Declare the service's queue (and its parking queue); what was done: "declared" or "migrated"."""
    queue = task_queue(service)
    with current_app.connection_for_write() as connection:
        if is_quorum(queue):
            connection.channel().queue_declare(parking_queue(queue.name), durable=True, auto_delete=False)
        try:
            queue.bind(connection.channel()).declare()
            return "declared"
        except PreconditionFailed:
            if not is_quorum(queue):
                raise
        channel = connection.channel()  # the refusal closed the last one
        try:
            _, messages, consumers = channel.queue_declare(queue.name, passive=True)
        except NotFound:
            # No queue, only the earlier version's direct exchange of the same name is in the way.
            channel, old_queue, messages, consumers = connection.channel(), False, 0, 0
        else:
            old_queue = True
        if messages or consumers:
            raise QueueNotMigrated(
                f"queue {queue.name!r} was declared by an earlier version (classic) and holds {messages} "
                f"task(s), {consumers} consumer(s): drain it with CELERY_QUEUE_TYPE=classic first"
            )
        if old_queue:
            channel.queue_delete(queue.name, if_empty=True, if_unused=True)  # refused if a task arrived meanwhile
        channel.exchange_delete(queue.exchange.name)
        queue.bind(channel).declare()
        replaced = "the empty classic queue" if old_queue else "the direct exchange (no queue) of"
        logger.warning("replaced %s %s with a quorum queue", replaced, queue.name)
        return "migrated"
