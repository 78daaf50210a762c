"""The Celery adapter around a service's consumer (``apps/events/consumer.py``).

Each domain app's tasks.py builds its consumer and its two tasks with ``consumer_tasks``; the
bridge sends them by name to the service's own queue, a pulled batch of events as one message.
The tasks only translate: deliveries in, and out what the consumer decided, as the broker
understands it. A retry is a new ``handle_event`` message delayed by the policy's countdown; an
event that could not even be dead-lettered is rejected for the broker to park; a database outage
gives the message back to the broker. A batch that comes back from the broker is split into single
events, so that no one event holds up the others twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from celery import Task, shared_task
from celery.exceptions import Reject, Retry
from django.conf import settings

from apps.events import faults
from apps.events.consumer import Consumer, DatabaseUnavailable, Delivery, Outcome, Result
from shop.observability import metrics

logger = logging.getLogger(__name__)

REQUEUE_PAUSE_SECONDS = 1.0  # before giving a message back to the broker: no hot loop during an outage


def task_name(service_name: str) -> str:
    return f"{service_name}.handle_event"


def batch_task_name(service_name: str) -> str:
    return f"{service_name}.handle_events"


def back_to_the_broker(reason: str, exc: Exception) -> Reject:
    """A Reject that requeues the message, after a pause (no hot loop while something is down)."""
    time.sleep(REQUEUE_PAUSE_SECONDS)
    return Reject(f"{reason}: {exc}", requeue=True)


def consumer_tasks(consumer: Consumer) -> tuple[Task, Task]:
    """The service's two tasks: ``handle_event`` (one event) and ``handle_events`` (a pulled batch)."""
    if settings.HANDLER_FAULT_DELAY_SECONDS and faults.applies_to(consumer.service.name):
        consumer = faults.slowed(consumer, settings.HANDLER_FAULT_DELAY_SECONDS)
    service = consumer.service

    def retry_later(result: Result) -> None:
        handle_event.apply_async(
            args=result.delivery.message,
            countdown=result.countdown,
            retries=result.delivery.retries + 1,
            queue=service.queue,
        )

    @shared_task(bind=True, name=task_name(service.name), acks_late=True, reject_on_worker_lost=True)
    def handle_event(self: Task, event_type: str, payload: dict, attributes: dict) -> str:
        try:
            [result] = consumer.handle([Delivery(event_type, payload, attributes, self.request.retries or 0)])
        except DatabaseUnavailable as exc:
            metrics.count_requeued(service.name, [event_type], consumer.handlers)
            raise back_to_the_broker("could not dead-letter", exc) from exc
        if result.outcome is Outcome.UNRECORDABLE:
            # The database is up and still refuses it: requeueing would loop for ever. The broker
            # dead-letters a rejected message to the queue's parking queue instead.
            raise Reject(result.error, requeue=False)
        if result.outcome is Outcome.RETRY:
            exc = result.exception
            try:
                raise self.retry(exc=exc, countdown=result.countdown, queue=service.queue) from exc
            except Retry:
                raise
            except Exception as retry_error:
                if retry_error is exc:
                    raise  # called directly, not by a worker: Celery re-raises the handler's error
                # The broker is restarting: never ack the message as failed, which would lose it.
                raise back_to_the_broker("could not schedule a retry", retry_error) from exc
        return result.outcome

    @shared_task(bind=True, name=batch_task_name(service.name), acks_late=True, reject_on_worker_lost=True)
    def handle_events(self: Task, events: list[list]) -> dict[str, int]:
        """Events the bridge pulled together, one Celery message for all of them.

        Redelivered whole (its handling broke, or a worker died on it), the batch goes on as single
        events: one of them may be what breaks it, and it cannot hold up the others again.
        """
        if (self.request.delivery_info or {}).get("redelivered") and len(events) > 1:
            try:
                for event in events:
                    handle_event.apply_async(args=event, queue=service.queue)
            except Exception as exc:
                raise back_to_the_broker("could not split a redelivered batch", exc) from exc
            return {"split": len(events)}
        try:
            results = consumer.handle([Delivery.of(event) for event in events])
        except Exception as exc:
            metrics.count_requeued(service.name, [event[0] for event in events], consumer.handlers)
            if isinstance(exc, DatabaseUnavailable):
                raise back_to_the_broker("could not dead-letter", exc) from exc
            # Not a handler failure (the consumer handles those) but one in the handling of them:
            # acking the batch as failed would lose its events.
            logger.exception("%s: could not handle a batch; back to the broker", service.service_name)
            raise back_to_the_broker("batch failed", exc) from exc
        outcomes: Counter[str] = Counter()
        try:
            for result in results:
                if result.outcome is Outcome.RETRY:
                    retry_later(result)
                elif result.outcome is Outcome.UNRECORDABLE:
                    # For the broker to park, alone: not with the batch's others.
                    handle_event.apply_async(args=result.delivery.message, queue=service.queue)
                outcomes[str(result.outcome)] += 1
        except Exception as exc:
            raise back_to_the_broker("could not schedule a retry", exc) from exc
        return dict(outcomes)

    return handle_event, handle_events
