"""Outcomes the notification service gives up on are still told, once; a delivery report it gives up
on still settles its notification; each rejection reason is told in its own words."""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from apps.events.contracts import Envelope, NotificationDelivered, OrderCreated, StockRejected
from apps.notifications.enums import Audience, Channel, NotificationStatus
from apps.notifications.handlers import GIVE_UP_HOOKS, HANDLERS
from apps.notifications.models import Notification
from apps.notifications.tests.factories import NotificationFactory
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["notification"])

CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440003")


def run(table, event, envelope=None) -> Envelope:
    envelope = envelope or envelope_of(event)
    with transaction.atomic(using="notification"):
        if table is GIVE_UP_HOOKS:
            table[event.topic](event, envelope, "RuntimeError: a bug")
        else:
            table[event.topic](event, envelope)
    return envelope


def order_created() -> OrderCreated:
    return OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=uuid.uuid4(),
        customer_id=CUSTOMER,
        total_amount=Decimal("10.00"),
        items=[{"product_sku": "LAP-001", "quantity": 1, "price": "10.00"}],
    )


def test_an_order_given_up_on_is_still_told_once_and_a_replay_tells_nothing_more():
    # given
    event = order_created()

    # when: given up on, then the dead letter replayed
    given_up = run(GIVE_UP_HOOKS, event)
    run(HANDLERS, event, given_up)

    # then: one email and one push for the event, as invariant 3 counts them
    told = Notification.objects.filter(event_id=given_up.event_id, audience=Audience.CUSTOMER)
    assert sorted(told.values_list("channel", flat=True)) == [Channel.EMAIL, Channel.PUSH]
    assert {n.title for n in told} == {"Your order is confirmed"}
    assert all(str(event.order_id) in n.message for n in told)


def test_an_order_that_could_not_be_made_is_told_in_its_own_words_without_the_stock_managers_alert(settings):
    settings.STOCK_MANAGER_EMAIL = "stock@example.com"
    event = StockRejected(cart_id=uuid.uuid4(), customer_id=CUSTOMER, reason="order_failed", details=[], attempt=1)

    run(HANDLERS, event)

    told = Notification.objects.all()
    assert sorted(told.values_list("channel", flat=True)) == [Channel.EMAIL, Channel.PUSH]
    assert {n.title for n in told} == {"We could not take your order"}
    assert all("back in stock" in n.message for n in told)
    assert not told.filter(audience=Audience.STOCK_MANAGER).exists()


def test_a_delivery_report_given_up_on_still_settles_its_notification():
    notification = NotificationFactory(customer_id=CUSTOMER, channel=Channel.PUSH)
    event = NotificationDelivered(notification_id=notification.id, channel="push", delivered=False, error="gone")

    run(GIVE_UP_HOOKS, event)

    notification.refresh_from_db()
    assert (notification.status, notification.error_message) == (NotificationStatus.FAILED, "gone")


def test_every_event_the_notification_service_consumes_has_a_give_up():
    assert set(GIVE_UP_HOOKS) == set(HANDLERS)
