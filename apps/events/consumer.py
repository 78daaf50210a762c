"""A service's consumer: its handlers, run through the inbox, a pulled batch at a time.

Built once per service with its handler maps and its retry policy (the message bus of
cosmicpython's ``bootstrap.py``); the Celery tasks (``apps/events/tasks.py``) are thin adapters
around it, and tests build one with fake handlers.

A batch runs in one transaction: one inbox statement claims all its events, each claimed event's
handler runs, and one COMMIT makes all of it durable. Only when that transaction fails (a handler
raised, a deadlock, a value the database refuses) is each event run again in a transaction of its
own, so that the one that fails is retried or dead-lettered alone and the others go on.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import itertools
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import DataError, InterfaceError, OperationalError, connections, transaction
from django.utils import timezone

from apps.events.contracts import Envelope, Event
from apps.events.inbox import GiveUpHook, Handler, MalformedEvent, claim, dead_letter, parse, record_failure
from shop.observability import metrics, tracing
from shop.observability.logging import bound, event_fields
from shop.registry import Service

logger = logging.getLogger(__name__)

# Runs inside a batch's transaction before any of its handlers, with the batch's parsed events: for
# the locks its handlers will take, taken up front in one order so that concurrent batches cannot
# deadlock (inventory locks every SKU of the batch, sorted).
BatchLock = Callable[[list[Event]], None]
# Handles several events of one type at once (a batch's run of them, or one alone), for a handler
# whose effects are cheaper together: the email and push services report a batch in one event.
BatchHandler = Callable[[list[tuple[Event, Envelope]]], None]


class Outcome(enum.StrEnum):
    PROCESSED = "processed"  # the handler ran and its effects committed with the inbox row
    DUPLICATE = "duplicate"  # the inbox had it done already: nothing happened
    RETRY = "retry"  # it failed and is to be tried again after ``Result.countdown`` seconds
    DEAD_LETTERED = "dead_lettered"  # given up on: kept in dead_letters (and its give-up hook run)
    UNRECORDABLE = "unrecordable"  # could not even be dead-lettered, the database refuses it: for the broker to park


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing event is tried again, and how far apart, before it is dead-lettered."""

    max_retries: int
    backoff_max: float

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        return cls(max_retries=settings.HANDLER_MAX_RETRIES, backoff_max=settings.HANDLER_RETRY_BACKOFF_MAX)

    def exhausted(self, retries: int) -> bool:
        return retries >= self.max_retries

    def countdown(self, retries: int) -> float:
        """Exponential backoff with jitter: about 1, 2, 4 ... seconds, capped; never below one second
        (delayed delivery on quorum queues counts in whole seconds, and refuses 0)."""
        return max(1.0, min(self.backoff_max, 2**retries) * random.uniform(0.5, 1.0))


@dataclass(frozen=True)
class Delivery:
    """One event as the bridge hands it over, and how many times it was retried before."""

    event_type: str
    payload: object
    attributes: object
    retries: int = 0

    @classmethod
    def of(cls, message: Sequence, retries: int = 0) -> Delivery:
        event_type, payload, attributes = message
        return cls(event_type, payload, attributes, retries)

    @property
    def message(self) -> list:
        """[event_type, payload, attributes]: the task's arguments, as the bridge sends them."""
        return [self.event_type, self.payload, self.attributes]

    @property
    def event_id(self) -> str:
        return self.attributes.get("event_id", "") if isinstance(self.attributes, dict) else ""

    @property
    def log_fields(self) -> dict:
        """What the lines logged while it is handled carry (None: absent, and reset afterwards).
        Its topic is its type: the bridge hands over a topic's own events only."""
        attributes = self.attributes if isinstance(self.attributes, dict) else {}
        return {
            "event_id": attributes.get("event_id") or None,
            "event_type": self.event_type,
            "topic": self.event_type,
            "correlation_id": attributes.get("correlation_id") or None,
        }


@dataclass(frozen=True)
class Result:
    delivery: Delivery
    outcome: Outcome
    error: str = ""
    countdown: float = 0.0
    exception: Exception | None = None  # what failed, for a retry


class DatabaseUnavailable(Exception):
    """Not even a dead letter could be written (the database is down): the broker must keep the message."""


@dataclass
class _Parsed:
    index: int
    delivery: Delivery
    handler: Handler
    event: Event
    envelope: Envelope


class Consumer:
    """One service's handlers behind its inbox: ``handle(deliveries)`` says what became of each."""

    def __init__(
        self,
        service: Service,
        handlers: dict[str, Handler],
        *,
        give_up_hooks: dict[str, GiveUpHook] | None = None,
        prepare_hooks: dict[str, Handler] | None = None,
        batch_handlers: dict[str, BatchHandler] | None = None,
        batch_lock: BatchLock | None = None,
        retry_policy: RetryPolicy,
    ):
        """``give_up_hooks`` (event type -> hook) run when an event that could be parsed is
        dead-lettered, in the dead letter's transaction. ``prepare_hooks`` (event type -> hook) run
        before the inbox transaction, for what must be committed whatever becomes of it (the email
        service notes that an email is about to be handed over). ``batch_handlers`` (event type ->
        handler of a list of (event, envelope)) take the place of the one-event handler of that
        type: the claimed events of a batch are handed to it together, an event alone as a list of one."""
        self.service = service
        self.handlers = handlers
        self.give_up_hooks = give_up_hooks or {}
        self.prepare_hooks = prepare_hooks or {}
        self.batch_handlers = batch_handlers or {}
        self.batch_lock = batch_lock
        self.retry_policy = retry_policy

    @property
    def database(self) -> str:
        return self.service.database

    def handle(self, deliveries: Sequence[Delivery]) -> list[Result]:
        """What became of each delivery, in order. Raises DatabaseUnavailable when one could be
        neither handled nor dead-lettered for an outage: the broker should keep them all."""
        with bound(service=self.service.name):  # in a worker that consumes for several services
            return self._handle(deliveries)

    def _handle(self, deliveries: Sequence[Delivery]) -> list[Result]:
        started, started_at = time.perf_counter(), timezone.now()
        results: dict[int, Result] = {}
        parsed: list[_Parsed] = []
        for index, delivery in enumerate(deliveries):
            try:
                handler = self.handlers[delivery.event_type]
                event, envelope = parse(delivery.event_type, delivery.payload, delivery.attributes)
            except (KeyError, MalformedEvent) as exc:  # nothing a hook could act on
                with bound(**delivery.log_fields):
                    results[index] = self._give_up(delivery, f"cannot handle {delivery.event_type!r}: {exc}")
                continue
            parsed.append(_Parsed(index, delivery, handler, event, envelope))
        prepared = self._prepare(parsed)
        # A batch whose prepare hook failed for an event goes one at a time: that event must not be
        # handled (an email handed over) before what its hook commits is committed.
        together = len(parsed) > 1 and len(prepared) == len(parsed)
        if not (together and self._handle_together(parsed, started_at, results)):
            for item in parsed:
                results[item.index] = self._handle_alone(item, started_at, prepared=item.index in prepared)
        done = [results[index] for index in range(len(deliveries))]
        metrics.count_consumed(self.service.name, self.handlers, done, started)
        if logger.isEnabledFor(logging.DEBUG):  # a line per event, to follow one through the workers
            for result in done:
                delivery = result.delivery
                fields = event_fields(**delivery.log_fields)
                logger.debug("%s %s: %s", delivery.event_type, delivery.event_id, result.outcome, extra=fields)
        return done

    def _prepare(self, parsed: list[_Parsed]) -> set[int]:
        """Run the prepare hooks; the indexes of the events whose hook succeeded (or that have none)."""
        prepared = set()
        for item in parsed:
            hook = self.prepare_hooks.get(item.delivery.event_type)
            try:
                if hook is not None:
                    with bound(**item.delivery.log_fields):
                        hook(item.event, item.envelope)
            except Exception:  # tried again, and its failure handled, when the event runs alone
                self._reconnect_if_broken()
                continue
            prepared.add(item.index)
        return prepared

    def _handle_together(self, parsed: list[_Parsed], started_at, results: dict[int, Result]) -> bool:
        """The whole batch in one transaction; False (and nothing committed) when it failed."""
        first: dict[str, _Parsed] = {}
        for item in parsed:
            first.setdefault(str(item.envelope.event_id), item)  # the same event twice in one batch: once
        try:
            with transaction.atomic(using=self.database), connections[self.database].cursor() as cursor:
                claimed = claim(cursor, self.service.service_name, [i.envelope for i in first.values()], started_at)
                todo = [item for event_id, item in first.items() if event_id in claimed]
                if self.batch_lock is not None and todo:
                    self.batch_lock([item.event for item in todo])
                for event_type, run in itertools.groupby(todo, key=lambda item: item.delivery.event_type):
                    self._run(event_type, list(run))
        except Exception as exc:
            logger.info("%s: a batch of %d failed (%s); one at a time", self.service.service_name, len(parsed), exc)
            self._reconnect_if_broken()
            return False
        for item in parsed:
            event_id = str(item.envelope.event_id)
            done = event_id in claimed and first[event_id] is item
            results[item.index] = Result(item.delivery, Outcome.PROCESSED if done else Outcome.DUPLICATE)
        return True

    def _handle_alone(self, item: _Parsed, started_at, *, prepared: bool) -> Result:
        with bound(**item.delivery.log_fields):  # its retry or dead-letter line too
            return self._handle_one(item, started_at, prepared=prepared)

    def _handle_one(self, item: _Parsed, started_at, *, prepared: bool) -> Result:
        delivery, event, envelope = item.delivery, item.event, item.envelope
        try:
            hook = self.prepare_hooks.get(delivery.event_type)
            if hook is not None and not prepared:
                hook(event, envelope)
            with transaction.atomic(using=self.database), connections[self.database].cursor() as cursor:
                if not claim(cursor, self.service.service_name, [envelope], started_at):
                    return Result(delivery, Outcome.DUPLICATE)
                self._run(delivery.event_type, [item])
        except Exception as exc:
            return self._failed(item, exc)
        return Result(delivery, Outcome.PROCESSED)

    def _run(self, event_type: str, items: list[_Parsed]) -> None:
        """The handlers of claimed events of one type, in the open transaction."""
        batch_handler = self.batch_handlers.get(event_type)
        if batch_handler is not None:
            started = time.perf_counter()
            with (
                bound(event_type=event_type, topic=event_type),
                tracing.handling_together(event_type, [item.delivery.attributes for item in items]),
            ):
                batch_handler([(item.event, item.envelope) for item in items])
            metrics.observe_handler(self.service.name, event_type, time.perf_counter() - started, len(items))
            return
        for item in items:
            started = time.perf_counter()
            # a span in the event's own trace, its lines bound to the event
            with bound(**item.delivery.log_fields), tracing.handling(event_type, item.delivery.attributes):
                item.handler(item.event, item.envelope)
            metrics.observe_handler(self.service.name, event_type, time.perf_counter() - started)

    def _failed(self, item: _Parsed, exc: Exception) -> Result:
        delivery = item.delivery
        error = f"{type(exc).__name__}: {exc}"
        self._reconnect_if_broken()
        hook = self.give_up_hooks.get(delivery.event_type)
        on_give_up = hook and functools.partial(hook, item.event, item.envelope)
        if isinstance(exc, DataError):
            # The database refuses the values themselves (out of range, too long, U+0000): the
            # same event will be refused again on every retry.
            return self._give_up(delivery, error, on_give_up)
        if self.retry_policy.exhausted(delivery.retries):
            return self._give_up(delivery, error, on_give_up)
        name = self.service.service_name
        logger.warning("%s: %s %s failed, will retry: %s", name, delivery.event_type, delivery.event_id, error)
        try:
            record_failure(
                database=self.database,
                service_name=name,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                error=error,
                attributes=delivery.attributes,
            )
        except Exception:
            logger.exception("%s: could not record the failure of %s", name, delivery.event_id)
        return Result(delivery, Outcome.RETRY, error, self.retry_policy.countdown(delivery.retries), exc)

    def _give_up(self, delivery: Delivery, error: str, on_give_up: Callable[[str], None] | None = None) -> Result:
        name = self.service.service_name
        logger.error("%s: dead-lettering %s %s: %s", name, delivery.event_type, delivery.event_id, error)
        try:
            dead_letter(
                database=self.database,
                service_name=name,
                event_type=delivery.event_type,
                payload=delivery.payload,
                attributes=delivery.attributes,
                error=error,
                attempts=delivery.retries + 1,
                on_give_up=on_give_up,
            )
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(f"could not dead-letter: {exc}") from exc
        except Exception as exc:
            # The database is up and still refuses it: only the broker can set it aside.
            logger.exception("%s: could not dead-letter %s %s", name, delivery.event_type, delivery.event_id)
            return Result(delivery, Outcome.UNRECORDABLE, f"could not dead-letter: {exc}")
        return Result(delivery, Outcome.DEAD_LETTERED, error)

    def _reconnect_if_broken(self) -> None:
        connection = connections[self.database]
        if not connection.in_atomic_block:  # (a test's own transaction is not ours to close)
            with contextlib.suppress(Exception):
                connection.close_if_unusable_or_obsolete()  # broken by an outage: reconnect for what follows
