"""A push request that keeps failing is dead-lettered and its notification reported failed."""

import uuid

import pytest

from apps.events.contracts import PushRequested
from apps.events.models import DeadLetter, OutboxEvent
from apps.push.models import PushMessage
from apps.push.tasks import handle_event
from testsupport.events import attributes_of

pytestmark = pytest.mark.django_db(databases=["push"])


def test_the_last_failed_retry_reports_the_notification_failed(settings, monkeypatch):
    # given: storing push messages fails
    def broken(*args, **kwargs):
        raise RuntimeError("push store unavailable")

    monkeypatch.setattr("apps.push.handlers.push_deliver_many", broken)
    notification_id = str(uuid.uuid4())
    payload = {"notification_id": notification_id, "customer_id": str(uuid.uuid4()), "title": "t", "message": "m"}
    attributes = attributes_of(PushRequested)

    # when: the last attempt fails too
    result = handle_event.apply(args=["push.requested", payload, attributes], retries=settings.HANDLER_MAX_RETRIES)

    # then
    assert result.get() == "dead_lettered"
    assert not PushMessage.objects.using("push").exists()
    assert DeadLetter.objects.using("push").filter(event_id=attributes["event_id"]).exists()
    [failed] = OutboxEvent.objects.using("push").filter(event_type="notification.delivered")
    assert failed.payload["reports"][0]["notification_id"] == notification_id
    assert failed.payload["reports"][0]["delivered"] is False
    assert "push store unavailable" in failed.payload["reports"][0]["error"]
