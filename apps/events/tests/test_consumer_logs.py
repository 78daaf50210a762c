"""What the consumer's lines say: the event being handled, on the handler's lines and its own."""

import logging
import uuid

import pytest
from django.db import OperationalError
from structlog.contextvars import clear_contextvars, get_contextvars

from apps.events.consumer import Consumer, Delivery, Outcome, RetryPolicy
from apps.events.contracts import PushRequested
from apps.events.outbox import record_event
from shop.registry import get_service
from testsupport.events import message
from testsupport.logs import json_lines

DATABASE = "push"
pytestmark = pytest.mark.django_db(databases=[DATABASE])

handler_logger = logging.getLogger("apps.push.handlers.fake")


@pytest.fixture(autouse=True)
def _no_context():
    clear_contextvars()  # as a worker thread starts


class LoggingHandler:
    """Logs a line as a handler would, records an event (with ``records_for`` as its correlation
    id, when given), then logs again; fails when told."""

    def __init__(self, *, fail: bool = False, records_for: uuid.UUID | None = None):
        self.fail = fail
        self.records_for = records_for

    def __call__(self, event, envelope) -> None:
        handler_logger.info("sending push %s", event.notification_id)
        if self.records_for:
            record_event(event, using=DATABASE, correlation_id=self.records_for)
            handler_logger.info("recorded")
        if self.fail:
            raise OperationalError("canceling statement due to lock timeout")


def consumer(handler, max_retries: int = 3) -> Consumer:
    policy = RetryPolicy(max_retries=max_retries, backoff_max=60)
    return Consumer(get_service(DATABASE), {PushRequested.topic: handler}, retry_policy=policy)


def push(correlation_id: uuid.UUID | None = None, retries: int = 0) -> Delivery:
    event = PushRequested(notification_id=uuid.uuid4(), customer_id=uuid.uuid4(), title="t", message="m")
    extra = {"correlation_id": str(correlation_id)} if correlation_id else {}
    return Delivery.of(message(event, **extra), retries)


def fields(line: dict) -> tuple:
    return tuple(line.get(key) for key in ("event_id", "event_type", "topic", "correlation_id", "service"))


def expected(delivery: Delivery) -> tuple:
    attributes = delivery.attributes
    return (attributes["event_id"], "push.requested", "push.requested", attributes.get("correlation_id"), "push")


def test_each_handler_line_of_a_batch_names_its_own_event_and_correlation_id():
    batch = [push(uuid.uuid4()), push(uuid.uuid4())]

    with json_lines("apps.push", "apps.events") as lines:
        results = consumer(LoggingHandler()).handle(batch)

    assert [r.outcome for r in results] == [Outcome.PROCESSED] * 2
    handler_lines = [line for line in lines if line["logger"] == handler_logger.name]
    assert [fields(line) for line in handler_lines] == [expected(d) for d in batch]
    assert get_contextvars() == {}  # nothing left bound for the thread's next task


def test_at_debug_each_event_has_a_line_with_its_outcome():
    batch = [push(uuid.uuid4()), push(uuid.uuid4())]

    with json_lines("apps.events.consumer") as lines:
        consumer(LoggingHandler()).handle(batch)

    assert [fields(line) for line in lines] == [expected(d) for d in batch]
    assert [line["message"].rpartition(": ")[2] for line in lines] == ["processed", "processed"]


def test_the_retry_and_the_dead_letter_lines_name_the_event():
    retried, given_up = push(uuid.uuid4()), push(uuid.uuid4(), retries=3)

    with json_lines("apps.events.consumer", level=logging.WARNING) as lines:
        results = consumer(LoggingHandler(fail=True)).handle([retried, given_up])

    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.DEAD_LETTERED]
    [retry_line] = [line for line in lines if "will retry" in line["message"]]
    [dead_line] = [line for line in lines if "dead-lettering" in line["message"]]
    assert fields(retry_line) == expected(retried)
    assert fields(dead_line) == expected(given_up)
    assert (retry_line["level"], dead_line["level"]) == ("warning", "error")


def test_a_malformed_event_is_dead_lettered_on_a_line_that_names_it_without_its_payload():
    delivery = push(uuid.uuid4())
    address = "somebody@example.com"
    malformed = Delivery(delivery.event_type, {**delivery.payload, "title": {"to": address}}, delivery.attributes)

    with json_lines("apps.events.consumer", level=logging.INFO) as lines:
        [result] = consumer(LoggingHandler()).handle([malformed])

    assert result.outcome is Outcome.DEAD_LETTERED
    [line] = lines
    assert fields(line) == expected(delivery)
    assert "ValidationError" in line["message"]
    assert address not in line["message"]  # pydantic quotes the input; the line does not


def test_a_handler_keeps_the_correlation_id_of_its_event_when_it_records_one_with_another():
    delivery = push(uuid.uuid4())

    with json_lines("apps.push") as lines:
        consumer(LoggingHandler(records_for=uuid.uuid4())).handle([delivery])

    assert [line["correlation_id"] for line in lines] == [delivery.attributes["correlation_id"]] * 2


def test_an_event_without_a_correlation_id_takes_the_one_its_handler_records_and_leaves_none_behind():
    delivery, recorded_for = push(), uuid.uuid4()

    with json_lines("apps.push") as lines:
        consumer(LoggingHandler(records_for=recorded_for)).handle([delivery])

    assert [line.get("correlation_id") for line in lines] == [None, str(recorded_for)]
    assert "correlation_id" not in lines[0]  # absent, not null
    assert get_contextvars() == {}
