"""Staff see in a service's admin what the relay gave up on, and hand parked rows back to it."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from apps.events.contracts import Line, OrderRequested
from apps.events.models import OutboxEvent
from apps.events.outbox import record_event

pytestmark = pytest.mark.django_db(databases=["default", "cart"])


def test_parked_rows_are_listed_with_their_error_and_can_be_published_again(service_client):
    event = OrderRequested(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="A1", quantity=1)])
    with transaction.atomic(using="cart"):
        parked_id, fine_id = record_event(event, using="cart"), record_event(event, using="cart")
    parked, fine = (OutboxEvent.objects.using("cart").get(event_id=i) for i in (parked_id, fine_id))
    OutboxEvent.objects.using("cart").filter(pk=parked.pk).update(
        parked_at=timezone.now(), publish_attempts=10, last_error="InvalidArgument: 400 too large"
    )
    client = service_client("cart")
    client.force_login(User.objects.create_superuser("staff", "staff@example.com", "pw"))

    listed = client.get("/admin/events/outboxevent/?parked_at__isnull=False")
    assert listed.status_code == 200
    html = listed.content.decode()
    assert str(parked.event_id) in html
    assert "InvalidArgument: 400 too large" in html
    assert str(fine.event_id) not in html

    response = client.post(
        "/admin/events/outboxevent/", {"action": "publish_parked_again", "_selected_action": [parked.pk, fine.pk]}
    )
    assert response.status_code == 302
    parked.refresh_from_db(using="cart")
    assert parked.parked_at is None
    assert parked.publish_attempts == 0
