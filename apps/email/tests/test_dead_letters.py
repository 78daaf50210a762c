"""An email that cannot be sent even after every retry: dead-lettered, reported failed, replayable."""

import uuid

import pytest
from django.core.management import call_command

from apps.email.tasks import handle_event
from apps.events import dead_letters
from apps.events.contracts import EmailRequested
from apps.events.models import DeadLetter, OutboxEvent, ProcessedMessage
from testsupport.events import attributes_of

pytestmark = pytest.mark.django_db(databases=["email"])


def request_for_unknown_customer():
    notification_id = str(uuid.uuid4())
    payload = {
        "notification_id": notification_id,
        "customer_id": str(uuid.uuid4()),  # no address known for this customer
        "subject": "Your order is confirmed",
        "body": "Thank you.",
    }
    attributes = attributes_of(EmailRequested)
    return payload, attributes


def test_the_last_failed_retry_dead_letters_and_reports_the_notification_failed(settings, mailoutbox):
    # given
    payload, attributes = request_for_unknown_customer()

    # when: the final attempt fails too
    result = handle_event.apply(args=["email.requested", payload, attributes], retries=settings.HANDLER_MAX_RETRIES)

    # then
    assert result.get() == "dead_lettered"
    assert mailoutbox == []
    letter = DeadLetter.objects.using("email").get(event_id=attributes["event_id"])
    assert letter.payload == payload
    assert "RecipientUnknown" in letter.error_message
    inbox = ProcessedMessage.objects.using("email").get(message_id=attributes["event_id"])
    assert inbox.status == "dead_lettered"
    [failed] = OutboxEvent.objects.using("email").filter(event_type="notification.delivered")
    assert failed.payload["reports"][0]["notification_id"] == payload["notification_id"]
    assert failed.payload["reports"][0]["delivered"] is False
    assert "RecipientUnknown" in failed.payload["reports"][0]["error"]


def test_an_earlier_failed_attempt_is_retried_not_dead_lettered(settings):
    payload, attributes = request_for_unknown_customer()

    with pytest.raises(Exception, match=r"no email address"):
        handle_event.apply(args=["email.requested", payload, attributes], retries=0, throw=True)

    assert not DeadLetter.objects.using("email").exists()
    inbox = ProcessedMessage.objects.using("email").get(message_id=attributes["event_id"])
    assert inbox.status == "failed"
    assert not OutboxEvent.objects.using("email").exists()


def test_replay_sends_each_pending_dead_letter_back_to_the_service_queue_once(settings, monkeypatch):
    payload, attributes = request_for_unknown_customer()
    handle_event.apply(args=["email.requested", payload, attributes], retries=settings.HANDLER_MAX_RETRIES)
    sent = []
    monkeypatch.setattr(dead_letters.current_app, "send_task", lambda name, **kw: sent.append((name, kw)))

    call_command("replay_dead_letters", "--service", "email")
    call_command("replay_dead_letters", "--service", "email")  # nothing left the second time

    assert sent == [("email.handle_event", {"args": ["email.requested", payload, attributes], "queue": "email"})]
    assert DeadLetter.objects.using("email").get().replayed_at is not None
