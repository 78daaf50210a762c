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
from apps.events.inbox import Handler


def applies_to(service_name: str) -> bool:
    services = settings.HANDLER_FAULT_DELAY_SERVICES
    return not services or service_name in services


def slowed(consumer: Consumer, seconds: float) -> Consumer:
    """The same consumer, each of its handlers sleeping ``seconds`` after its effects, before the commit."""

    def slow(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def slowed_handler(event, envelope) -> None:
            handler(event, envelope)
            time.sleep(seconds)

        return slowed_handler

    slowed_consumer = copy.copy(consumer)
    slowed_consumer.handlers = {event_type: slow(handler) for event_type, handler in consumer.handlers.items()}
    return slowed_consumer
