"""Sending email through Django's configured email backend (SMTP in production)."""

import re
from uuid import UUID

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from apps.email.enums import EmailStatus
from apps.email.events import DATABASE, record_email_delivered
from apps.email.models import CustomerContact, EmailMessage


class RecipientUnknown(Exception):
    """The customer's address has not reached this service yet; retrying will help."""


def email_send(
    *, notification_id: UUID, subject: str, body: str, customer_id: UUID | None = None, to_address: str | None = None
) -> EmailMessage | None:
    """Send the email for a notification once; None when it was sent already.

    The record and the delivery event commit together (in the handler's transaction when there is
    one). The send itself cannot be rolled back, so a crash between send and commit may send it twice.
    """
    with transaction.atomic(using=DATABASE):
        if EmailMessage.objects.filter(notification_id=notification_id).exists():
            return None
        address = to_address or _address_of(customer_id)
        # A header cannot hold a line break (Django refuses it); titles come from clients' input.
        subject = re.sub(r"\s*[\r\n]+\s*", " ", subject)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
        message = EmailMessage.objects.create(
            notification_id=notification_id,
            customer_id=customer_id,
            to_address=address,
            subject=subject[:200],
            body=body,
            status=EmailStatus.SENT,
            sent_at=timezone.now(),
        )
        record_email_delivered(notification_id=notification_id, delivered=True)
    return message


def _address_of(customer_id: UUID | None) -> str:
    contact = CustomerContact.objects.filter(customer_id=customer_id, deleted=False).first()
    if contact is None:
        raise RecipientUnknown(f"no email address known for customer {customer_id}")
    return contact.email


def email_failed(*, notification_id: UUID, error: str) -> None:
    """Report a notification's email as undeliverable (called when its request is dead-lettered)."""
    record_email_delivered(notification_id=notification_id, delivered=False, error=error[:1000])
