import uuid

import pytest
from django.db import transaction

from apps.events.consumer import Delivery
from apps.events.contracts import PushRequested
from apps.events.models import OutboxEvent
from apps.push import handlers
from apps.push.models import PushMessage
from apps.push.services import push_deliver
from testsupport.events import envelope_of, message

pytestmark = pytest.mark.django_db(databases=["push"])

CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440002")


def handle(event, envelope=None) -> None:
    """Run the handler the way the inbox does: inside the service database's transaction."""
    with transaction.atomic(using="push"):
        handlers.on_push_requested(event, envelope or envelope_of(event))


def push_requested(**fields) -> PushRequested:
    return PushRequested(
        **{
            "notification_id": uuid.uuid4(),
            "customer_id": CUSTOMER,
            "title": "Your order is confirmed",
            "message": "Order 42 is confirmed.",
            **fields,
        }
    )


def delivered_events():
    return list(OutboxEvent.objects.using("push").filter(event_type="notification.delivered").order_by("id"))


def test_push_requested_stores_one_message_for_the_customer():
    event = push_requested()

    handle(event)

    [push] = PushMessage.objects.all()
    assert push.notification_id == event.notification_id
    assert push.customer_id == CUSTOMER
    assert push.title == "Your order is confirmed"
    assert push.message == "Order 42 is confirmed."
    assert push.created_at is not None


def test_push_requested_records_the_delivery():
    event = push_requested()
    cart_id = uuid.uuid4()

    handle(event, envelope_of(event, correlation_id=cart_id))

    [delivered] = delivered_events()
    assert delivered.topic == "notification.delivered"
    assert delivered.payload == {
        "reports": [{"notification_id": str(event.notification_id), "channel": "push", "delivered": True, "error": ""}]
    }
    assert delivered.correlation_id == cart_id  # the cart's, from the request's envelope
    assert PushMessage.objects.get().correlation_id == cart_id
    assert delivered.published_at is None
    assert OutboxEvent.objects.using("push").count() == 1


def test_the_same_request_twice_delivers_once():
    # given
    event = push_requested()
    envelope = envelope_of(event)
    handle(event, envelope)

    # when: redelivered, and re-published under a fresh envelope
    handle(event, envelope)
    handle(event)

    # then
    assert PushMessage.objects.count() == 1
    assert len(delivered_events()) == 1


def test_each_notification_gets_its_own_message():
    handle(push_requested(title="First"))
    handle(push_requested(title="Second"))

    assert sorted(PushMessage.objects.values_list("title", flat=True)) == ["First", "Second"]
    assert len(delivered_events()) == 2


def test_an_overlong_title_is_cut_to_fit():
    handle(push_requested(title="T" * 250))

    assert PushMessage.objects.get().title == "T" * 200


def test_a_failed_attempt_leaves_nothing_behind(monkeypatch):
    """The retry must find neither the message nor its delivery event."""

    def broken_outbox(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr("apps.push.services.record_pushes_delivered", broken_outbox)

    with pytest.raises(RuntimeError):
        handle(push_requested())

    assert not PushMessage.objects.exists()
    assert delivered_events() == []


@pytest.mark.django_db(databases=["push"], transaction=True)
def test_delivering_outside_a_transaction_commits_the_message_with_its_event():
    """A service is transactional on its own: a message stored without its delivery event
    would never be reported, because the retry finds the message and stops there."""

    event = push_requested()

    push_deliver(notification_id=event.notification_id, customer_id=CUSTOMER, title=event.title, message=event.message)

    assert PushMessage.objects.count() == 1
    assert len(delivered_events()) == 1


def test_handler_map_covers_the_events_the_service_consumes():
    assert {"push.requested": handlers.on_push_requested} == handlers.HANDLERS


def test_a_batch_of_push_requests_is_stored_and_reported_in_one_event():
    from apps.push.tasks import consumer

    events = [push_requested() for _ in range(3)]
    seen_before = message(push_requested())
    consumer.handle([Delivery.of(seen_before)])

    results = consumer.handle([*(Delivery.of(message(e)) for e in events), Delivery.of(seen_before)])

    assert [r.outcome for r in results] == ["processed"] * 3 + ["duplicate"]
    assert PushMessage.objects.using("push").count() == 4
    [_, batch_report] = delivered_events()
    assert [r["notification_id"] for r in batch_report.payload["reports"]] == [str(e.notification_id) for e in events]
