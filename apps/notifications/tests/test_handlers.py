import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.events.contracts import Envelope, NotificationDelivered, OrderCancelled, OrderCreated, StockRejected
from apps.events.models import OutboxEvent
from apps.notifications import handlers, services
from apps.notifications.enums import Audience, Channel, NotificationStatus
from apps.notifications.models import Notification
from apps.notifications.services import notification_create
from apps.notifications.tests.factories import NotificationFactory
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["notification"])

CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440003")


def order_created(customer_id=CUSTOMER) -> OrderCreated:
    return OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=uuid.uuid4(),
        customer_id=customer_id,
        total_amount=Decimal("1199.98"),
        items=[
            {"product_sku": "LAP-001", "quantity": 1, "price": "999.99"},
            {"product_sku": "HPH-001", "quantity": 1, "price": "199.99"},
        ],
    )


def order_cancelled(customer_id=CUSTOMER) -> OrderCancelled:
    return OrderCancelled(
        order_id=uuid.uuid4(),
        cart_id=uuid.uuid4(),
        customer_id=customer_id,
        reason="customer_request",
        items=[{"product_sku": "LAP-001", "quantity": 1}],
    )


def stock_rejected(customer_id=CUSTOMER) -> StockRejected:
    return StockRejected(
        cart_id=uuid.uuid4(),
        customer_id=customer_id,
        details=[{"product_sku": "TAB-001", "requested": 5, "available": 2}],
    )


def handle(handler, event, envelope=None) -> Envelope:
    """Run a handler the way the inbox does: inside the service database's transaction."""
    envelope = envelope or envelope_of(event)
    with transaction.atomic(using="notification"):
        handler(event, envelope)
    return envelope


def customer_notifications():
    return list(Notification.objects.filter(audience=Audience.CUSTOMER).order_by("channel"))


def outbox_events(event_type=None):
    events = OutboxEvent.objects.using("notification").order_by("id")
    return list(events.filter(event_type=event_type) if event_type else events)


SAGA_OUTCOMES = [
    pytest.param(handlers.on_order_created, order_created, id="order.created"),
    pytest.param(handlers.on_order_cancelled, order_cancelled, id="order.cancelled"),
    pytest.param(handlers.on_stock_rejected, stock_rejected, id="stock.rejected"),
]


@pytest.mark.parametrize(("handler", "build"), SAGA_OUTCOMES)
def test_each_outcome_creates_one_email_and_one_push_notification_for_the_customer(handler, build):
    # given
    event = build()

    # when
    envelope = handle(handler, event)

    # then
    email, push = customer_notifications()
    assert (email.channel, push.channel) == (Channel.EMAIL, Channel.PUSH)
    for notification in (email, push):
        assert notification.customer_id == CUSTOMER
        assert notification.event_type == event.event_type()
        assert notification.event_id == envelope.event_id
        assert notification.status == NotificationStatus.PENDING
        assert notification.sent_at is None
        assert notification.title
        assert notification.message
    assert email.title == push.title
    assert email.message == push.message


@pytest.mark.parametrize(("handler", "build"), SAGA_OUTCOMES)
def test_each_customer_notification_asks_for_its_delivery(handler, build):
    cart_id, event = uuid.uuid4(), build()
    envelope = handle(handler, event, envelope_of(event, correlation_id=cart_id))

    email, push = customer_notifications()
    [email_request] = [e for e in outbox_events("email.requested") if e.payload["customer_id"] == str(CUSTOMER)]
    [push_request] = outbox_events("push.requested")
    assert email_request.payload == {
        "notification_id": str(email.id),
        "customer_id": str(CUSTOMER),
        "to_address": None,
        "subject": email.title,
        "body": email.message,
    }
    assert push_request.payload == {
        "notification_id": str(push.id),
        "customer_id": str(CUSTOMER),
        "title": push.title,
        "message": push.message,
    }
    assert email_request.ordering_key == str(email.id)
    assert push_request.ordering_key == str(push.id)
    # the cart's correlation id follows on to the delivery requests (and is kept with the notifications)
    assert email_request.correlation_id == push_request.correlation_id == envelope.correlation_id == cart_id
    assert {n.correlation_id for n in (email, push)} == {cart_id}


@pytest.mark.parametrize(("handler", "build"), SAGA_OUTCOMES)
def test_the_same_event_again_creates_nothing_more(handler, build):
    # given
    event = build()
    envelope = handle(handler, event)
    notifications_before = Notification.objects.count()
    events_before = len(outbox_events())

    # when: redelivered, or re-published with the same event id
    handle(handler, event, envelope)
    handle(handler, event, envelope_of(event, event_id=envelope.event_id))

    # then
    assert Notification.objects.count() == notifications_before
    assert len(outbox_events()) == events_before
    assert len(customer_notifications()) == 2


def test_distinct_events_each_get_their_notifications():
    handle(handlers.on_order_created, order_created())
    handle(handlers.on_order_cancelled, order_cancelled())

    assert Notification.objects.filter(event_type="order.created").count() == 2
    assert Notification.objects.filter(event_type="order.cancelled").count() == 2
    assert len(outbox_events()) == 4


def test_order_created_message_names_the_order_and_its_total():
    event = order_created()

    handle(handlers.on_order_created, event)

    email, _ = customer_notifications()
    assert str(event.order_id) in email.message
    assert "1199.98" in email.message
    assert "LAP-001" in email.message
    assert "confirmed" in email.title.lower()


def test_order_cancelled_message_names_the_order_and_the_reason():
    event = order_cancelled()

    handle(handlers.on_order_cancelled, event)

    email, _ = customer_notifications()
    assert str(event.order_id) in email.message
    assert "customer_request" in email.message
    assert "cancelled" in email.title.lower()


def test_stock_rejected_also_alerts_the_stock_manager_at_the_configured_address(settings):
    # given
    settings.STOCK_MANAGER_EMAIL = "warehouse-lead@example.com"
    event = stock_rejected()

    # when
    envelope = handle(handlers.on_stock_rejected, event)

    # then
    [alert] = Notification.objects.filter(audience=Audience.STOCK_MANAGER)
    assert alert.recipient == "warehouse-lead@example.com"
    assert alert.channel == Channel.EMAIL
    assert alert.customer_id is None
    assert alert.event_id == envelope.event_id
    assert alert.event_type == "stock.rejected"
    assert alert.status == NotificationStatus.PENDING
    assert "TAB-001" in alert.message
    [alert_request] = [e for e in outbox_events("email.requested") if e.payload["notification_id"] == str(alert.id)]
    assert alert_request.payload["to_address"] == "warehouse-lead@example.com"
    assert alert_request.payload["customer_id"] is None
    assert Notification.objects.count() == 3
    assert len(outbox_events("email.requested")) == 2
    assert len(outbox_events("push.requested")) == 1


def test_stock_manager_alert_is_not_among_the_customers_notifications(service_client):
    # given
    handle(handlers.on_stock_rejected, stock_rejected())

    # when
    response = service_client("notification").get(f"/notifications?customer_id={CUSTOMER}")

    # then
    results = response.json()["results"]
    assert response.status_code == 200
    assert len(results) == 2
    assert sorted(n["channel"] for n in results) == ["email", "push"]
    assert Notification.objects.count() == 3


def test_stock_rejected_twice_alerts_the_stock_manager_once():
    event = stock_rejected()
    envelope = handle(handlers.on_stock_rejected, event)

    handle(handlers.on_stock_rejected, event, envelope)

    assert Notification.objects.filter(audience=Audience.STOCK_MANAGER).count() == 1
    assert Notification.objects.count() == 3
    assert len(outbox_events()) == 3


def test_without_a_stock_manager_address_only_the_customer_is_notified(settings):
    settings.STOCK_MANAGER_EMAIL = ""

    handle(handlers.on_stock_rejected, stock_rejected())

    assert not Notification.objects.filter(audience=Audience.STOCK_MANAGER).exists()
    assert len(customer_notifications()) == 2
    assert len(outbox_events()) == 2


def test_a_failing_handler_leaves_nothing_behind(monkeypatch):
    """The inbox retries a failed attempt: it must not find half of the notifications written."""

    # given: the push notification's delivery request cannot be recorded
    real_record = services.record_delivery_requested

    def record_or_fail(notification):
        if notification.channel == Channel.PUSH:
            raise RuntimeError("database went away")
        return real_record(notification)

    monkeypatch.setattr(services, "record_delivery_requested", record_or_fail)
    event = order_created()

    # when
    with pytest.raises(RuntimeError):
        handle(handlers.on_order_created, event)

    # then
    assert not Notification.objects.exists()
    assert outbox_events() == []


def test_one_notification_per_event_channel_and_audience_is_enforced_by_the_database():
    event_id = uuid.uuid4()
    fields = {"channel": Channel.EMAIL, "message": "Hi", "customer_id": CUSTOMER, "event_id": event_id}
    notification_create(**fields)

    with pytest.raises(IntegrityError), transaction.atomic(using="notification"):
        notification_create(**fields)

    assert Notification.objects.filter(event_id=event_id).count() == 1


# --- notification.delivered ---------------------------------------------------------------------


def delivered(notification, *, delivered=True, error="") -> NotificationDelivered:
    return NotificationDelivered(
        notification_id=notification.id, channel=notification.channel, delivered=delivered, error=error
    )


def test_delivery_marks_a_pending_notification_sent():
    notification = NotificationFactory(status=NotificationStatus.PENDING)

    handle(handlers.on_notification_delivered, delivered(notification))

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT
    assert notification.sent_at is not None
    assert notification.error_message == ""


def test_failed_delivery_marks_a_pending_notification_failed():
    notification = NotificationFactory(status=NotificationStatus.PENDING)

    handle(handlers.on_notification_delivered, delivered(notification, delivered=False, error="mailbox full"))

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert notification.sent_at is None
    assert notification.error_message == "mailbox full"


def test_a_sent_notification_stays_sent():
    # given
    notification = NotificationFactory(status=NotificationStatus.PENDING)
    handle(handlers.on_notification_delivered, delivered(notification))
    notification.refresh_from_db()
    sent_at = notification.sent_at

    # when: a late failure report, then the same success again
    handle(handlers.on_notification_delivered, delivered(notification, delivered=False, error="timeout"))
    handle(handlers.on_notification_delivered, delivered(notification))

    # then
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.SENT
    assert notification.sent_at == sent_at
    assert notification.error_message == ""


def test_delivery_touches_only_its_own_notification():
    notification, other = NotificationFactory.create_batch(2)

    handle(handlers.on_notification_delivered, delivered(notification))

    other.refresh_from_db()
    assert other.status == NotificationStatus.PENDING
    assert other.sent_at is None


def test_delivery_of_an_unknown_notification_changes_nothing():
    notification = NotificationFactory()

    handle(
        handlers.on_notification_delivered,
        NotificationDelivered(notification_id=uuid.uuid4(), channel="email"),
    )

    notification.refresh_from_db()
    assert notification.status == NotificationStatus.PENDING


def test_delivery_is_visible_through_the_api(service_client):
    notification = NotificationFactory(customer_id=CUSTOMER)

    handle(handlers.on_notification_delivered, delivered(notification))

    body = service_client("notification").get(f"/notifications/{notification.id}").json()
    assert body["status"] == "sent"
    assert body["sent_at"] is not None


def test_handler_map_covers_the_events_the_service_consumes():
    assert {
        "order.created": handlers.on_order_created,
        "order.cancelled": handlers.on_order_cancelled,
        "stock.rejected": handlers.on_stock_rejected,
        "notification.delivered": handlers.on_notification_delivered,
    } == handlers.HANDLERS
