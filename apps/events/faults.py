"""Fault injection for the end-to-end tests, kept out of the inbox and the consumer.

``HANDLER_FAULT_DELAY_SECONDS`` (0, off, everywhere but a test that sets it on one worker) makes every
handler of that worker sleep inside its inbox transaction: a window in which the test kills it.
``HANDLER_FAULT_DELAY_SERVICES`` (comma-separated; empty: all) limits it to some of the services a
worker consumes for.
"""

from __future__ import annotations

import copy
import functools
import time

from django.conf import settings

from apps.events.consumer import Consumer


def applies_to(service_name: str) -> bool:
    services = settings.HANDLER_FAULT_DELAY_SERVICES
    return not services or service_name in services


def slowed(consumer: Consumer, seconds: float) -> Consumer:
    """The same consumer, each of its handlers (batch handlers too) sleeping ``seconds`` after its effects,
    before the commit."""

    def slow(handler):
        @functools.wraps(handler)
        def slowed_handler(*args) -> None:
            handler(*args)
            time.sleep(seconds)

        return slowed_handler

    slowed_consumer = copy.copy(consumer)
    slowed_consumer.handlers = {event_type: slow(handler) for event_type, handler in consumer.handlers.items()}
    # A batch handler takes the place of its type's handler (email, push): it is slowed the same way.
    slowed_consumer.batch_handlers = {t: slow(handler) for t, handler in consumer.batch_handlers.items()}
    return slowed_consumer
