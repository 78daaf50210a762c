import smtplib
import socket
import time
import uuid

import psycopg
import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connections, transaction

from apps.email import handlers
from apps.email.enums import EmailStatus
from apps.email.models import CustomerContact, EmailMessage
from apps.email.services import RecipientUnknown, email_send
from apps.email.tasks import handle_event
from apps.email.tests.factories import CustomerContactFactory, EmailMessageFactory
from apps.events.contracts import CustomerChanged, EmailRequested
from apps.events.models import OutboxEvent
from testsupport.events import envelope_of, message

pytestmark = pytest.mark.django_db(databases=["email"])

CUSTOMER = uuid.UUID("550e8400-e29b-41d4-a716-446655440001")


class FailingBackend(BaseEmailBackend):
    """An SMTP server that refuses every message."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")


def handle(handler, event, envelope=None) -> None:
    """Run a handler the way the inbox does: inside the service database's transaction."""
    with transaction.atomic(using="email"):
        handler(event, envelope or envelope_of(event))


def customer_changed(*, version, email="jane.doe@example.com", name="Jane Doe", deleted=False) -> CustomerChanged:
    return CustomerChanged(customer_id=CUSTOMER, name=name, email=email, version=version, deleted=deleted)


def email_requested(**fields) -> EmailRequested:
    return EmailRequested(
        **{
            "notification_id": uuid.uuid4(),
            "customer_id": CUSTOMER,
            "subject": "Your order is confirmed",
            "body": "Order 42 is confirmed. Total: 999.99",
            **fields,
        }
    )


def delivered_events():
    return list(OutboxEvent.objects.using("email").filter(event_type="notification.delivered").order_by("id"))


# --- customer.changed ---------------------------------------------------------------------------


def test_customer_changed_keeps_a_copy_of_the_contact():
    handle(handlers.on_customer_changed, customer_changed(version=10))

    contact = CustomerContact.objects.get(customer_id=CUSTOMER)
    assert contact.email == "jane.doe@example.com"
    assert contact.name == "Jane Doe"
    assert contact.version == 10
    assert contact.deleted is False


def test_a_newer_version_replaces_the_copy():
    handle(handlers.on_customer_changed, customer_changed(version=10))

    handle(handlers.on_customer_changed, customer_changed(version=11, email="jane@new.example.com", name="Jane D."))

    contact = CustomerContact.objects.get(customer_id=CUSTOMER)
    assert (contact.email, contact.name, contact.version) == ("jane@new.example.com", "Jane D.", 11)


@pytest.mark.parametrize("late_version", [9, 10])
def test_an_older_or_repeated_version_changes_nothing(late_version):
    handle(handlers.on_customer_changed, customer_changed(version=10))

    handle(handlers.on_customer_changed, customer_changed(version=late_version, email="stale@example.com"))

    contact = CustomerContact.objects.get(customer_id=CUSTOMER)
    assert (contact.email, contact.version) == ("jane.doe@example.com", 10)
    assert CustomerContact.objects.count() == 1


def test_a_late_change_never_brings_a_deleted_customer_back():
    handle(handlers.on_customer_changed, customer_changed(version=10))
    handle(handlers.on_customer_changed, customer_changed(version=12, deleted=True))

    handle(handlers.on_customer_changed, customer_changed(version=11, email="late@example.com"))

    contact = CustomerContact.objects.get(customer_id=CUSTOMER)
    assert contact.deleted is True
    assert contact.version == 12


def test_customer_changed_publishes_nothing():
    handle(handlers.on_customer_changed, customer_changed(version=1))

    assert not OutboxEvent.objects.using("email").exists()


# --- email.requested ----------------------------------------------------------------------------


def test_email_requested_sends_one_email_to_the_customers_address(mailoutbox, settings):
    # given
    CustomerContactFactory(customer_id=CUSTOMER, email="jane.doe@example.com")
    event = email_requested()

    # when
    handle(handlers.on_email_requested, event)

    # then
    [sent] = mailoutbox
    assert sent.to == ["jane.doe@example.com"]
    assert sent.from_email == settings.DEFAULT_FROM_EMAIL
    assert sent.subject == "Your order is confirmed"
    assert sent.body == "Order 42 is confirmed. Total: 999.99"


def test_email_requested_records_the_message_and_the_delivery():
    CustomerContactFactory(customer_id=CUSTOMER, email="jane.doe@example.com")
    event = email_requested()
    cart_id = uuid.uuid4()

    handle(handlers.on_email_requested, event, envelope_of(event, correlation_id=cart_id))

    [message] = EmailMessage.objects.all()
    assert message.correlation_id == cart_id
    assert message.notification_id == event.notification_id
    assert message.customer_id == CUSTOMER
    assert message.to_address == "jane.doe@example.com"
    assert message.subject == event.subject
    assert message.body == event.body
    assert message.status == EmailStatus.SENT
    assert message.sent_at is not None
    [delivered] = delivered_events()
    assert delivered.topic == "notification.delivered"
    assert delivered.payload == {
        "reports": [{"notification_id": str(event.notification_id), "channel": "email", "delivered": True, "error": ""}]
    }
    assert delivered.correlation_id == cart_id  # the cart's, from the request's envelope
    assert delivered.published_at is None


def test_the_same_request_twice_sends_once(mailoutbox):
    # given
    CustomerContactFactory(customer_id=CUSTOMER)
    event = email_requested()
    envelope = envelope_of(event)
    handle(handlers.on_email_requested, event, envelope)

    # when: redelivered, and re-published under a fresh envelope
    handle(handlers.on_email_requested, event, envelope)
    handle(handlers.on_email_requested, event)

    # then
    assert len(mailoutbox) == 1
    assert EmailMessage.objects.count() == 1
    assert len(delivered_events()) == 1


def test_an_already_recorded_email_is_not_sent_again(mailoutbox):
    CustomerContactFactory(customer_id=CUSTOMER)
    earlier = EmailMessageFactory(customer_id=CUSTOMER)

    handle(handlers.on_email_requested, email_requested(notification_id=earlier.notification_id))

    assert mailoutbox == []
    assert delivered_events() == []


def test_each_notification_gets_its_own_email(mailoutbox):
    CustomerContactFactory(customer_id=CUSTOMER)

    handle(handlers.on_email_requested, email_requested(subject="First"))
    handle(handlers.on_email_requested, email_requested(subject="Second"))

    assert [m.subject for m in mailoutbox] == ["First", "Second"]
    assert len(delivered_events()) == 2


def test_a_staff_alert_goes_to_the_given_address(mailoutbox):
    # given: a known customer, but the request names its own recipient
    CustomerContactFactory(customer_id=CUSTOMER, email="jane.doe@example.com")
    event = email_requested(customer_id=None, to_address="stock-manager@example.com", subject="Stock shortfall")

    # when
    handle(handlers.on_email_requested, event)

    # then
    [sent] = mailoutbox
    assert sent.to == ["stock-manager@example.com"]
    message = EmailMessage.objects.get(notification_id=event.notification_id)
    assert message.to_address == "stock-manager@example.com"
    assert message.customer_id is None
    assert len(delivered_events()) == 1


def test_to_address_wins_over_the_customers_address(mailoutbox):
    CustomerContactFactory(customer_id=CUSTOMER, email="jane.doe@example.com")

    handle(handlers.on_email_requested, email_requested(to_address="ops@example.com"))

    assert mailoutbox[0].to == ["ops@example.com"]


def test_the_latest_known_address_is_used(mailoutbox):
    handle(handlers.on_customer_changed, customer_changed(version=1, email="old@example.com"))
    handle(handlers.on_customer_changed, customer_changed(version=2, email="new@example.com"))

    handle(handlers.on_email_requested, email_requested())

    assert mailoutbox[0].to == ["new@example.com"]


def test_an_unknown_customer_raises_recipient_unknown_and_sends_nothing(mailoutbox):
    CustomerContactFactory()  # somebody else

    with pytest.raises(RecipientUnknown):
        handle(handlers.on_email_requested, email_requested())

    assert mailoutbox == []
    assert not EmailMessage.objects.exists()
    assert delivered_events() == []


def test_a_deleted_customer_is_unknown(mailoutbox):
    CustomerContactFactory(customer_id=CUSTOMER, deleted=True)

    with pytest.raises(RecipientUnknown):
        handle(handlers.on_email_requested, email_requested())

    assert mailoutbox == []
    assert not EmailMessage.objects.exists()


def test_a_request_without_customer_or_address_is_unknown(mailoutbox):
    with pytest.raises(RecipientUnknown):
        handle(handlers.on_email_requested, email_requested(customer_id=None))

    assert mailoutbox == []


def test_the_request_succeeds_once_the_address_arrives(mailoutbox):
    """RecipientUnknown is worth retrying: the customer.changed event may simply be late."""

    # given
    event = email_requested()
    envelope = envelope_of(event)
    with pytest.raises(RecipientUnknown):
        handle(handlers.on_email_requested, event, envelope)

    # when
    handle(handlers.on_customer_changed, customer_changed(version=1, email="jane.doe@example.com"))
    handle(handlers.on_email_requested, event, envelope)

    # then
    assert [m.to for m in mailoutbox] == [["jane.doe@example.com"]]
    assert len(delivered_events()) == 1


def test_a_failing_mail_server_records_nothing(settings, mailoutbox):
    """The attempt fails as a whole, so the retry sends the email and reports it."""

    settings.EMAIL_BACKEND = "apps.email.tests.test_handlers.FailingBackend"
    CustomerContactFactory(customer_id=CUSTOMER)

    with pytest.raises(smtplib.SMTPException):
        handle(handlers.on_email_requested, email_requested())

    assert not EmailMessage.objects.exists()
    assert delivered_events() == []


def test_a_subject_with_line_breaks_is_sent_on_one_line(mailoutbox):
    """Titles come from POST /notifications; a line break must not make the email unsendable."""

    CustomerContactFactory(customer_id=CUSTOMER)
    event = email_requested(subject="Big\r\nnews\ntoday")

    handle(handlers.on_email_requested, event)

    [sent] = mailoutbox
    assert sent.subject == "Big news today"
    assert sent.body == event.body
    assert EmailMessage.objects.get().subject == "Big news today"
    assert len(delivered_events()) == 1


@pytest.mark.django_db(databases=["email"], transaction=True)
def test_sending_outside_a_transaction_commits_the_record_with_its_event(mailoutbox):
    """A service is transactional on its own: a record without its delivery event would never
    be reported, because the retry finds the record and stops there."""

    CustomerContactFactory(customer_id=CUSTOMER)
    event = email_requested()

    email_send(notification_id=event.notification_id, customer_id=CUSTOMER, subject=event.subject, body=event.body)

    assert len(mailoutbox) == 1
    assert EmailMessage.objects.count() == 1
    assert len(delivered_events()) == 1


def test_handler_map_covers_the_events_the_service_consumes():
    assert {
        "customer.changed": handlers.on_customer_changed,
        "email.requested": handlers.on_email_requested,
    } == handlers.HANDLERS


# --- hand-over: recorded first, one Message-ID, a timeout ---------------------------------------
# Through the service's task, as the worker runs it, and with real commits (transaction=True): the
# hand-over is committed before the handler's transaction, which a test transaction would hide.

committed = pytest.mark.django_db(databases=["email"], transaction=True)


def deliver(event: EmailRequested, event_id=None):
    """The email service's task, run as the worker runs it."""
    return handle_event.apply(args=message(event, event_id), throw=True)


class WitnessBackend(BaseEmailBackend):
    """An SMTP server that notes what the database held, seen from outside, as each email reached it."""

    seen: list = []

    def send_messages(self, email_messages):
        for email in email_messages:
            with psycopg.connect(**connections["email"].get_connection_params()) as outside:
                WitnessBackend.seen.append(
                    outside.execute(
                        "SELECT status, handovers FROM email_emailmessage WHERE to_address = %s", (email.to[0],)
                    ).fetchall()
                )
        return len(email_messages)


class CrashAfterSendBackend(BaseEmailBackend):
    """The server takes the email; then the worker dies before its transaction commits."""

    def send_messages(self, email_messages):
        mail.outbox.extend(email_messages)
        raise SystemExit("worker killed after the hand-over")


@committed
def test_the_email_is_recorded_as_handed_over_before_the_server_gets_it(settings):
    settings.EMAIL_BACKEND = "apps.email.tests.test_handlers.WitnessBackend"
    WitnessBackend.seen = []
    CustomerContactFactory(customer_id=CUSTOMER, email="jane.doe@example.com")

    deliver(email_requested())

    assert WitnessBackend.seen == [[(EmailStatus.SENDING, 1)]]  # committed while the handler's transaction was open
    assert EmailMessage.objects.get().status == EmailStatus.SENT


def test_the_message_id_is_the_notification_id(mailoutbox, settings):
    CustomerContactFactory(customer_id=CUSTOMER)
    event = email_requested()

    handle(handlers.on_email_requested, event)

    domain = settings.DEFAULT_FROM_EMAIL.split("@")[1]
    assert mailoutbox[0].message()["Message-ID"] == f"<{event.notification_id}@{domain}>"


@committed
def test_a_retry_after_a_crash_past_the_hand_over_can_tell_and_sends_the_same_message_id(settings, mailoutbox):
    # given: the server took the email, then the worker died before the handler's transaction committed
    settings.EMAIL_BACKEND = "apps.email.tests.test_handlers.CrashAfterSendBackend"
    CustomerContactFactory(customer_id=CUSTOMER)
    event, event_id = email_requested(), uuid.uuid4()
    with pytest.raises(SystemExit):
        deliver(event, event_id)
    assert EmailMessage.objects.get().status == EmailStatus.SENDING
    assert delivered_events() == []

    # when: the event is delivered again
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    deliver(event, event_id)

    # then: the record says it was handed over twice; both copies carry one Message-ID
    message = EmailMessage.objects.get()
    assert (message.status, message.handovers) == (EmailStatus.SENT, 2)
    assert len(mailoutbox) == 2
    assert len({sent.message()["Message-ID"] for sent in mailoutbox}) == 1
    assert len(delivered_events()) == 1


@committed
def test_a_duplicate_of_a_sent_email_is_no_new_hand_over(mailoutbox):
    CustomerContactFactory(customer_id=CUSTOMER)
    event, event_id = email_requested(), uuid.uuid4()
    deliver(event, event_id)

    deliver(event, event_id)
    deliver(event)  # re-published under a fresh envelope

    assert EmailMessage.objects.get().handovers == 1
    assert len(mailoutbox) == 1


@pytest.fixture
def black_holed_smtp():
    """A listening socket that never answers: connect succeeds, the SMTP greeting never comes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()


@committed
def test_a_black_holed_smtp_server_fails_the_attempt_within_email_timeout(settings, black_holed_smtp):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = black_holed_smtp
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1
    CustomerContactFactory(customer_id=CUSTOMER)
    started = time.monotonic()

    with pytest.raises(Retry, match="timed out"):  # a failed attempt, to be retried
        deliver(email_requested())

    assert time.monotonic() - started < 5  # not for ever: the thread is free, the retry gets its turn
    message = EmailMessage.objects.get()
    assert (message.status, message.handovers) == (EmailStatus.SENDING, 1)
    assert delivered_events() == []


def test_email_timeout_is_set_by_default():
    from django.conf import settings

    assert 0 < settings.EMAIL_TIMEOUT <= 60


def test_every_task_has_time_limits():
    from shop.celery import app

    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
