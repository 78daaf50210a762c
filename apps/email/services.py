"""Sending email through Django's configured email backend (SMTP in production)."""

import logging
import re
import uuid
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.core import mail
from django.db import connections, transaction

from apps.email.enums import EmailStatus
from apps.email.events import DATABASE, record_email_delivered, record_emails_delivered
from apps.events.outbox import shared_correlation_id

logger = logging.getLogger(__name__)


class RecipientUnknown(Exception):
    """The customer's address has not reached this service yet; retrying will help."""


def email_record_handover(
    *,
    notification_id: UUID,
    subject: str,
    body: str,
    customer_id: UUID | None = None,
    to_address: str | None = None,
    correlation_id: UUID | None = None,
) -> int:
    """Record that the email is about to be handed to the SMTP server; the hand-overs so far (0: sent already).

    Run before the handler's transaction (the task's prepare hook), so that it is committed whatever
    becomes of that transaction: a retry after a crash past the hand-over finds it and can tell
    that the email may have gone out already.
    """
    address = to_address or _address_of(customer_id)
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(
            _RECORD + _COUNT_HANDOVER,
            [*_row(notification_id, customer_id, address, subject, body, correlation_id), EmailStatus.SENT],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


@dataclass(frozen=True)
class Email:
    notification_id: UUID
    subject: str
    body: str
    customer_id: UUID | None = None
    to_address: str | None = None
    correlation_id: UUID | None = None  # the cart it is about, kept with the message for its timeline


def email_send(
    *,
    notification_id: UUID,
    subject: str,
    body: str,
    customer_id: UUID | None = None,
    to_address: str | None = None,
    correlation_id: UUID | None = None,
) -> bool:
    """Send the email for a notification once; False when it was sent already."""
    return bool(emails_send([Email(notification_id, subject, body, customer_id, to_address, correlation_id)]))


def emails_send(emails: list[Email]) -> list[UUID]:
    """Send each email once, over one SMTP connection; the notifications sent now, reported in one event.

    An email is recorded as ``sending`` before it is handed over (committed beforehand by
    ``email_record_handover`` when the task runs it first), with the notification id as its
    ``Message-ID``. The send cannot be rolled back: a crash after the hand-over sends it again on
    retry, with the same Message-ID, which receivers use to drop the copy. ``sent`` and the
    delivery event commit together (in the handler's transaction when there is one).
    """
    with (
        transaction.atomic(using=DATABASE, savepoint=False),
        connections[DATABASE].cursor() as cursor,
        mail.get_connection(fail_silently=False) as smtp,
    ):
        sent = [email for email in emails if _send_once(cursor, smtp, email)]
        if sent:
            correlation_id = shared_correlation_id(email.correlation_id for email in sent)
            record_emails_delivered([email.notification_id for email in sent], correlation_id=correlation_id)
    return [email.notification_id for email in sent]


def _send_once(cursor, smtp, email: Email) -> bool:
    cursor.execute(_RECORDED, [email.notification_id])
    recorded = cursor.fetchone()
    if recorded is None:  # not noted by a prepare hook: record it now, in this transaction
        address, handovers = email.to_address or _address_of(email.customer_id), 1
        row = _row(email.notification_id, email.customer_id, address, email.subject, email.body, email.correlation_id)
        cursor.execute(_RECORD + "NOTHING", row)
    elif recorded[0] == EmailStatus.SENT:
        return False
    else:
        _status, address, handovers = recorded  # the address it was recorded with
    if handovers > 1:
        logger.warning("email for notification %s handed over again (%d times)", email.notification_id, handovers)
    mail.EmailMessage(
        _one_line(email.subject),
        email.body,
        settings.DEFAULT_FROM_EMAIL,
        [address],
        headers={"Message-ID": message_id(email.notification_id)},
        connection=smtp,
    ).send(fail_silently=False)
    cursor.execute(_MARK_SENT, [EmailStatus.SENT, email.notification_id])
    return True


def message_id(notification_id: UUID) -> str:
    """The email's Message-ID: the notification's id, so that every copy of it carries the same one."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "shop.local"
    return f"<{notification_id}@{domain}>"


def _one_line(subject: str) -> str:
    """A header cannot hold a line break (Django refuses it); titles come from clients' input."""
    return re.sub(r"\s*[\r\n]+\s*", " ", subject)


_RECORD = """
INSERT INTO email_emailmessage
    (id, notification_id, customer_id, to_address, subject, body, status, error_message, created_at,
     handovers, handed_over_at, correlation_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, '', now(), 1, now(), %s)
ON CONFLICT (notification_id) DO
"""
_RECORDED = """
SELECT status, to_address, handovers FROM email_emailmessage WHERE notification_id = %s
"""
_MARK_SENT = """
UPDATE email_emailmessage SET status = %s, sent_at = now(), error_message = '' WHERE notification_id = %s
"""
_COUNT_HANDOVER = """
    UPDATE SET handovers = email_emailmessage.handovers + 1, handed_over_at = now(),
        to_address = EXCLUDED.to_address, subject = EXCLUDED.subject, body = EXCLUDED.body
    WHERE email_emailmessage.status <> %s
RETURNING handovers
"""


def _row(notification_id: UUID, customer_id, address: str, subject: str, body: str, correlation_id=None) -> list:
    return [
        uuid.uuid4(),
        notification_id,
        customer_id,
        address,
        _one_line(subject)[:200],
        body,
        EmailStatus.SENDING,
        correlation_id,
    ]


def _address_of(customer_id: UUID | None) -> str:
    with connections[DATABASE].cursor() as cursor:
        cursor.execute(
            "SELECT email FROM email_customercontact WHERE customer_id = %s AND NOT deleted LIMIT 1", [customer_id]
        )
        contact = cursor.fetchone()
    if contact is None:
        raise RecipientUnknown(f"no email address known for customer {customer_id}")
    return contact[0]


def email_failed(*, notification_id: UUID, error: str, correlation_id: UUID | None = None) -> None:
    """Report a notification's email as undeliverable (called when its request is dead-lettered)."""
    record_email_delivered(
        notification_id=notification_id, delivered=False, error=error[:1000], correlation_id=correlation_id
    )
