"""The Celery adapter every service's handlers run through.

Each domain app's tasks.py builds its tasks with ``handler_tasks(service, HANDLERS)``; the bridge
sends them by name to the service's own queue, a pulled batch of events as one message. A task
deserializes, runs the handler in the inbox transaction, retries with exponential backoff, and
dead-letters after the last retry. What can never succeed (malformed, U+0000 in a string, a value
the database refuses) is dead-lettered at once, raw bytes and all; a batch that comes back from
the broker is split into single events, so that no one event holds up the others twice.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable

from celery import Task, shared_task
from celery.exceptions import Reject, Retry
from django.conf import settings
from django.db import DataError, InterfaceError, OperationalError, connections
from django.utils import timezone

from apps.events.inbox import GiveUpHook, Handler, MalformedEvent, consume, dead_letter, parse, record_failure
from shop.services import get_service

logger = logging.getLogger(__name__)

RetryLater = Callable[[Exception, float], str]  # (error, countdown) -> outcome, or raises

REQUEUE_PAUSE_SECONDS = 1.0  # before giving a message back to the broker: no hot loop during an outage


def task_name(service_name: str) -> str:
    return f"{service_name}.handle_event"


def batch_task_name(service_name: str) -> str:
    return f"{service_name}.handle_events"


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter: about 1, 2, 4 ... seconds, capped; never below one second
    (delayed delivery on quorum queues counts in whole seconds, and refuses 0)."""
    return max(1.0, min(settings.HANDLER_RETRY_BACKOFF_MAX, 2**retries) * random.uniform(0.5, 1.0))


def handler_tasks(
    service_name: str,
    handlers: dict[str, Handler],
    give_up_hooks: dict[str, GiveUpHook] | None = None,
    prepare_hooks: dict[str, Handler] | None = None,
) -> tuple[Task, Task]:
    """The service's two tasks: ``handle_event`` (one event) and ``handle_events`` (a pulled batch).

    ``give_up_hooks`` (event type -> hook) run when an event that could be parsed is
    dead-lettered. ``prepare_hooks`` (event type -> hook) run before each attempt's inbox
    transaction, for what must be committed whatever becomes of it (the email service notes that
    an email is about to be handed over).
    """
    service = get_service(service_name)
    give_up_hooks = give_up_hooks or {}
    prepare_hooks = prepare_hooks or {}

    def run(event_type: str, payload: dict, attributes: dict, attempt: int, retry: RetryLater) -> str:
        """One attempt at one event: processed, duplicate, dead_lettered, or whatever ``retry`` says."""
        started_at = timezone.now()
        event_id = attributes.get("event_id", "")

        def give_up(error: str, on_give_up=None) -> str:
            logger.error("%s: dead-lettering %s %s: %s", service.service_name, event_type, event_id, error)
            try:
                dead_letter(
                    database=service.database,
                    service_name=service.service_name,
                    event_type=event_type,
                    payload=payload,
                    attributes=attributes,
                    error=error,
                    attempts=attempt + 1,
                    on_give_up=on_give_up,
                )
            except (OperationalError, InterfaceError) as exc:
                # Could not even record it (the database is down): the broker keeps the message
                # (and its delivery limit bounds how often it comes back).
                time.sleep(REQUEUE_PAUSE_SECONDS)
                raise Reject(f"could not dead-letter: {exc}", requeue=True) from exc
            except Exception as exc:
                # The database is up and still refuses it: requeueing would loop forever. The
                # broker dead-letters a rejected message to the queue's parking queue instead.
                logger.exception("%s: could not dead-letter %s %s", service.service_name, event_type, event_id)
                raise Reject(f"could not dead-letter: {exc}", requeue=False) from exc
            return "dead_lettered"

        try:
            handler = handlers[event_type]
            event, envelope = parse(event_type, payload, attributes)
        except (KeyError, MalformedEvent) as exc:
            return give_up(f"cannot handle {event_type!r}: {exc}")  # malformed: nothing a hook could act on
        try:
            if event_type in prepare_hooks:
                prepare_hooks[event_type](event, envelope)
            done = consume(
                database=service.database,
                service_name=service.service_name,
                handler=handler,
                event=event,
                envelope=envelope,
                started_at=started_at,
            )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            connection = connections[service.database]
            if not connection.in_atomic_block:  # (a test's own transaction is not ours to close)
                with contextlib.suppress(Exception):
                    connection.close_if_unusable_or_obsolete()  # broken by an outage: reconnect for what follows
            hook = give_up_hooks.get(event_type)
            if isinstance(exc, DataError):
                # The database refuses the values themselves (out of range, too long, U+0000):
                # the same event will be refused again on every retry.
                return give_up(error, hook and functools.partial(hook, event, envelope))
            if attempt >= settings.HANDLER_MAX_RETRIES:
                return give_up(error, hook and functools.partial(hook, event, envelope))
            logger.warning("%s: %s %s failed, will retry: %s", service.service_name, event_type, event_id, error)
            try:
                record_failure(
                    database=service.database,
                    service_name=service.service_name,
                    event_id=event_id,
                    event_type=event_type,
                    error=error,
                )
            except Exception:
                logger.exception("%s: could not record the failure of %s", service.service_name, event_id)
            return retry(exc, retry_countdown(attempt))
        return "processed" if done else "duplicate"

    @shared_task(
        bind=True,
        name=task_name(service_name),
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=settings.HANDLER_MAX_RETRIES,
    )
    def handle_event(self: Task, event_type: str, payload: dict, attributes: dict) -> str:
        def retry(exc: Exception, countdown: float) -> str:
            try:
                raise self.retry(exc=exc, countdown=countdown, queue=service.queue) from exc
            except Retry:
                raise
            except Exception as retry_error:
                if retry_error is exc:
                    raise  # called directly, not by a worker: Celery re-raises the handler's error
                # The retry could not be published (the broker is restarting): never ack the message
                # as failed, which would lose it; give it back to the broker instead.
                time.sleep(REQUEUE_PAUSE_SECONDS)
                raise Reject(f"could not schedule a retry: {retry_error}", requeue=True) from exc

        return run(event_type, payload, attributes, self.request.retries, retry)

    @shared_task(bind=True, name=batch_task_name(service_name), acks_late=True, reject_on_worker_lost=True)
    def handle_events(self: Task, events: list[list]) -> dict[str, int]:
        """Events the bridge pulled together, one Celery message for all of them.

        Each event still runs in a transaction of its own with its inbox row; one that fails is
        retried alone, as ``handle_event`` with a countdown, and the rest go on. Redelivered whole
        (worker killed, retry not schedulable), the batch's done events are inbox duplicates.
        """

        def retry_alone(event: list) -> RetryLater:
            def retry(exc: Exception, countdown: float) -> str:
                try:
                    handle_event.apply_async(args=event, countdown=countdown, retries=1, queue=service.queue)
                except Exception as send_error:
                    time.sleep(REQUEUE_PAUSE_SECONDS)
                    raise Reject(f"could not schedule a retry: {send_error}", requeue=True) from exc
                return "retrying"

            return retry

        if (self.request.delivery_info or {}).get("redelivered") and len(events) > 1:
            # Back after its handling broke (or a worker died on it): one event of it may be
            # what breaks it. Each goes on alone, so that one cannot hold up the others again.
            try:
                for event in events:
                    handle_event.apply_async(args=event, queue=service.queue)
            except Exception as exc:
                time.sleep(REQUEUE_PAUSE_SECONDS)
                raise Reject(f"could not split a redelivered batch: {exc}", requeue=True) from exc
            return {"split": len(events)}

        outcomes: Counter[str] = Counter()
        for event in events:
            try:
                outcomes[run(*event, 0, retry_alone(event))] += 1
            except Reject as rejected:
                if rejected.requeue:
                    raise
                # For the broker to park (it cannot be recorded): alone, not with the batch's others.
                try:
                    handle_event.apply_async(args=event, queue=service.queue)
                except Exception as send_error:
                    time.sleep(REQUEUE_PAUSE_SECONDS)
                    raise Reject(f"could not set an event apart: {send_error}", requeue=True) from rejected
                outcomes["set_apart"] += 1
            except Exception as exc:
                # Not a handler failure (those are retried above) but one in the handling of it:
                # acking the batch as failed would lose the events after this one.
                logger.exception("%s: could not handle a batch; back to the broker", service.service_name)
                time.sleep(REQUEUE_PAUSE_SECONDS)
                raise Reject(f"batch failed: {exc}", requeue=True) from exc
        return dict(outcomes)

    return handle_event, handle_events
