"""Re-drive: events a subscribed service never received are published again, and only those."""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.events.contracts import Line, OrderRequested
from apps.events.models import OutboxEvent, ProcessedMessage
from apps.events.outbox import record_event
from workers.redrive import Redriver, redrive

pytestmark = pytest.mark.django_db(databases=["cart", "inventory"])


def published(seconds_ago: float) -> OutboxEvent:
    """An order-requested in the cart's outbox, published ``seconds_ago`` (inventory consumes it)."""
    items = [Line(product_sku="LAP-001", quantity=1)]
    event = OrderRequested(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=items)
    with transaction.atomic(using="cart"):
        row = record_event(event, using="cart", ordering_key=str(event.cart_id))
    OutboxEvent.objects.using("cart").filter(pk=row.pk).update(
        published_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    return row


def received_by_inventory(row: OutboxEvent, status: str = "success") -> None:
    ProcessedMessage.objects.using("inventory").create(
        message_id=str(row.event_id), event_type=row.event_type, service_name="inventory-service", status=status
    )


def pending_ids() -> set:
    return set(OutboxEvent.objects.using("cart").filter(published_at__isnull=True).values_list("pk", flat=True))


def test_what_the_consumer_never_received_is_published_again_and_nothing_else(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    lost = published(seconds_ago=120)
    done, failing = published(seconds_ago=120), published(seconds_ago=120)
    received_by_inventory(done)
    received_by_inventory(failing, status="failed")  # received: its retries are Celery's business
    in_flight, too_old = published(seconds_ago=10), published(seconds_ago=3600)

    assert redrive(["cart"]) == 1

    assert pending_ids() == {lost.pk}
    lost.refresh_from_db(using="cart")
    assert lost.last_error.startswith("re-driven")
    for row in (done, failing, in_flight, too_old):
        row.refresh_from_db(using="cart")
        assert row.published_at is not None


def test_a_row_the_relay_is_publishing_again_already_is_left_alone(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    row = published(seconds_ago=120)
    OutboxEvent.objects.using("cart").filter(pk=row.pk).update(published_at=None)

    assert redrive(["cart"]) == 0
    assert pending_ids() == {row.pk}


def test_a_sweep_looks_again_only_past_what_it_saw_received(settings, django_assert_num_queries):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    redriver = Redriver(["cart"])
    first, second = published(seconds_ago=200), published(seconds_ago=150)
    received_by_inventory(first)
    received_by_inventory(second)

    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == second.pk

    # Nothing new: the next sweep reads the outbox past the watermark and finds nothing to check.
    with django_assert_num_queries(0, using="inventory"):
        assert redriver.sweep() == 0


def test_the_watermark_waits_for_a_row_still_in_its_grace(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    redriver = Redriver(["cart"])
    young = published(seconds_ago=10)
    older = published(seconds_ago=120)  # published first, but recorded after ``young``
    received_by_inventory(older)

    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == young.pk - 1

    # ``young`` ages past its grace and was never received: the next sweep still sees it.
    OutboxEvent.objects.using("cart").filter(pk=young.pk).update(published_at=timezone.now() - timedelta(seconds=90))
    assert redriver.sweep() == 1
    assert pending_ids() == {young.pk}


def test_a_re_driven_row_is_checked_again_after_its_new_publication(settings):
    settings.REDRIVE_GRACE_SECONDS, settings.REDRIVE_WINDOW_SECONDS = 60, 600
    redriver = Redriver(["cart"])
    lost, after = published(seconds_ago=120), published(seconds_ago=120)
    received_by_inventory(after)

    assert redriver.sweep() == 1
    assert redriver.received_through["cart"] == lost.pk - 1

    # The relay publishes it again, and that copy is lost too: once past the grace, it is re-driven again.
    OutboxEvent.objects.using("cart").filter(pk=lost.pk).update(published_at=timezone.now() - timedelta(seconds=61))
    assert redriver.sweep() == 1
    # Once received, the watermark moves past it and past what followed.
    OutboxEvent.objects.using("cart").filter(pk=lost.pk).update(published_at=timezone.now() - timedelta(seconds=61))
    received_by_inventory(lost)
    assert redriver.sweep() == 0
    assert redriver.received_through["cart"] == after.pk
