"""The consumer with fake handlers: batches in one transaction, failures alone, outcomes as data."""

import uuid

import pytest
from django.db import DataError, OperationalError, connections
from django.test.utils import CaptureQueriesContext

from apps.events import consumer as consumer_module
from apps.events.consumer import Consumer, DatabaseUnavailable, Delivery, Outcome, RetryPolicy
from apps.events.contracts import PushRequested
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage
from apps.events.outbox import record_event
from shop.registry import get_service
from testsupport.events import message

# Any service database has the inbox, the outbox and the dead letters; the fakes write to the outbox.
DATABASE = "push"
pytestmark = pytest.mark.django_db(databases=[DATABASE])

POLICY = RetryPolicy(max_retries=3, backoff_max=60)


class FakeHandler:
    """Records each event in the outbox (an effect that commits or rolls back with the inbox row)."""

    def __init__(self, fail_for=(), error: Exception | None = None):
        self.fail_for = set(fail_for)
        self.error = error or OperationalError("canceling statement due to lock timeout")
        self.calls: list[uuid.UUID] = []

    def __call__(self, event, envelope) -> None:
        self.calls.append(event.notification_id)
        record_event(event, using=DATABASE)
        if event.notification_id in self.fail_for:
            raise self.error


def consumer(handler, **options) -> Consumer:
    options.setdefault("retry_policy", POLICY)
    return Consumer(get_service(DATABASE), {PushRequested.topic: handler}, **options)


def deliveries(count: int, retries: int = 0) -> list[Delivery]:
    events = [
        PushRequested(notification_id=uuid.uuid4(), customer_id=uuid.uuid4(), title="t", message="m")
        for _ in range(count)
    ]
    return [Delivery.of(message(event), retries) for event in events]


def notification_id(delivery: Delivery) -> uuid.UUID:
    return uuid.UUID(delivery.payload["notification_id"])


def effects() -> list[str]:
    return sorted(
        row["notification_id"] for row in OutboxEvent.objects.using(DATABASE).values_list("payload", flat=True)
    )


def inbox() -> dict[str, str]:
    return dict(ProcessedMessage.objects.using(DATABASE).values_list("message_id", "status"))


def test_a_batch_is_claimed_by_one_statement_and_handled_in_one_transaction():
    handler, batch = FakeHandler(), deliveries(3)

    with CaptureQueriesContext(connections[DATABASE]) as queries:
        results = consumer(handler).handle(batch)

    assert [r.outcome for r in results] == [Outcome.PROCESSED] * 3
    statements = [q["sql"] for q in queries.captured_queries]
    assert sum("processed_messages" in sql for sql in statements) == 1
    assert sum(sql.startswith("SAVEPOINT") for sql in statements) == 1  # the test's own transaction: one, not per event
    assert effects() == sorted(str(notification_id(d)) for d in batch)
    assert set(inbox().values()) == {"success"}


def test_a_failing_event_rolls_its_batch_back_and_only_it_is_retried():
    batch = deliveries(3)
    unlucky = notification_id(batch[1])
    handler = FakeHandler(fail_for=[unlucky])

    results = consumer(handler).handle(batch)

    assert [r.outcome for r in results] == [Outcome.PROCESSED, Outcome.RETRY, Outcome.PROCESSED]
    assert results[1].countdown >= 1
    assert "lock timeout" in results[1].error
    assert effects() == sorted(str(notification_id(d)) for d in (batch[0], batch[2]))  # once each
    assert inbox() == {
        batch[0].event_id: "success",
        batch[1].event_id: "failed",
        batch[2].event_id: "success",
    }


def test_an_event_done_already_is_a_duplicate_and_the_same_event_twice_in_a_batch_runs_once():
    handler, [first, second] = FakeHandler(), deliveries(2)
    consumer(handler).handle([first])

    results = consumer(handler).handle([first, second, second])

    assert [r.outcome for r in results] == [Outcome.DUPLICATE, Outcome.PROCESSED, Outcome.DUPLICATE]
    assert handler.calls == [notification_id(first), notification_id(second)]
    assert len(effects()) == 2


def test_a_malformed_event_is_dead_lettered_without_its_handler_and_holds_up_nothing():
    handler, [good, bad] = FakeHandler(), deliveries(2)
    bad = Delivery(bad.event_type, {"title": "t"}, bad.attributes)  # no notification_id

    results = consumer(handler).handle([bad, good])

    assert [r.outcome for r in results] == [Outcome.DEAD_LETTERED, Outcome.PROCESSED]
    assert handler.calls == [notification_id(good)]
    assert DeadLetter.objects.using(DATABASE).get().event_id == uuid.UUID(bad.event_id)


def test_the_last_retry_is_dead_lettered_and_its_give_up_hook_runs_with_the_error():
    [delivery] = deliveries(1, retries=POLICY.max_retries)
    given_up = []

    results = consumer(
        FakeHandler(fail_for=[notification_id(delivery)]),
        give_up_hooks={PushRequested.topic: lambda event, envelope, error: given_up.append(error)},
    ).handle([delivery])

    assert results[0].outcome is Outcome.DEAD_LETTERED
    assert given_up == ["OperationalError: canceling statement due to lock timeout"]
    assert inbox() == {delivery.event_id: "dead_lettered"}
    assert effects() == []


def test_a_value_the_database_refuses_is_dead_lettered_on_the_first_attempt():
    [delivery] = deliveries(1)
    handler = FakeHandler(fail_for=[notification_id(delivery)], error=DataError("value too long"))

    assert consumer(handler).handle([delivery])[0].outcome is Outcome.DEAD_LETTERED


def test_a_dead_letter_the_database_refuses_is_unrecordable_and_an_outage_raises(monkeypatch):
    [delivery] = deliveries(1)
    bad = Delivery(delivery.event_type, {}, delivery.attributes)

    monkeypatch.setattr(consumer_module, "dead_letter", lambda **kw: (_ for _ in ()).throw(DataError("refused")))
    assert consumer(FakeHandler()).handle([bad])[0].outcome is Outcome.UNRECORDABLE

    monkeypatch.setattr(consumer_module, "dead_letter", lambda **kw: (_ for _ in ()).throw(OperationalError("down")))
    with pytest.raises(DatabaseUnavailable):
        consumer(FakeHandler()).handle([bad])


def test_a_batch_lock_sees_the_claimed_events_before_any_handler():
    handler, [done, new] = FakeHandler(), deliveries(2)
    consumer(handler).handle([done])
    seen = []

    def lock(events):
        seen.append(([e.notification_id for e in events], list(handler.calls)))

    consumer(handler, batch_lock=lock).handle([done, new])

    assert seen == [([notification_id(new)], [notification_id(done)])]


def test_a_prepare_hook_runs_once_per_event_even_when_the_batch_falls_back():
    batch = deliveries(2)
    prepared = []
    handler = FakeHandler(fail_for=[notification_id(batch[0])])

    consumer(handler, prepare_hooks={PushRequested.topic: lambda e, _: prepared.append(e.notification_id)}).handle(
        batch
    )

    assert prepared == [notification_id(d) for d in batch]


def test_a_batch_handler_takes_the_claimed_events_together_and_one_alone_as_a_list_of_one():
    handler, [done, *new] = FakeHandler(), deliveries(3)
    consumer(handler).handle([done])
    together = []

    def batch_handler(events):
        together.append([event.notification_id for event, _ in events])
        for event, envelope in events:
            handler(event, envelope)

    batched = consumer(handler, batch_handlers={PushRequested.topic: batch_handler})
    batched.handle([done, *new])
    [alone] = deliveries(1)
    batched.handle([alone])

    assert together == [[notification_id(d) for d in new], [notification_id(alone)]]
    assert len(effects()) == 4


def test_fault_injection_slows_batch_handlers_too(monkeypatch):
    from apps.events import faults

    slept = []
    monkeypatch.setattr(faults.time, "sleep", slept.append)
    handler, batch = FakeHandler(), deliveries(2)
    slowed = faults.slowed(consumer(handler, batch_handlers={PushRequested.topic: lambda events: None}), 30)

    slowed.handle(batch)

    assert slept == [30]  # once, for the batch handler that took the place of the one-event handler
