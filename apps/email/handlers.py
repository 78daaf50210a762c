"""How the email service reacts to events. Each runs in the inbox transaction."""

from apps.email.events import DATABASE
from apps.email.models import CustomerContact
from apps.email.services import Email, email_failed, email_record_handover, email_send, emails_send
from apps.events.contracts import CustomerChanged, EmailRequested, Envelope
from apps.events.replicas import replica_apply


def on_customer_changed(event: CustomerChanged, envelope: Envelope) -> None:
    replica_apply(
        CustomerContact,
        using=DATABASE,
        key={"customer_id": event.customer_id},
        version=event.version,
        fields={"name": event.name, "email": event.email, "deleted": event.deleted},
    )


def _the_email(event: EmailRequested, envelope: Envelope) -> dict:
    return {
        "notification_id": event.notification_id,
        "customer_id": event.customer_id,
        "to_address": event.to_address,
        "subject": event.subject,
        "body": event.body,
        "correlation_id": envelope.correlation_id,
    }


def on_email_requested(event: EmailRequested, envelope: Envelope) -> None:
    email_send(**_the_email(event, envelope))


def on_emails_requested(requests: list[tuple[EmailRequested, Envelope]]) -> None:
    """A batch's email requests: sent over one SMTP connection, reported in one notification.delivered."""
    emails_send([Email(**_the_email(event, envelope)) for event, envelope in requests])


def before_email_requested(event: EmailRequested, envelope: Envelope) -> None:
    """Before each attempt's transaction: note that the email is about to be handed over (committed)."""
    email_record_handover(**_the_email(event, envelope))


def on_email_given_up(event: EmailRequested, envelope: Envelope, error: str) -> None:
    """The email could not be sent even after every retry: the notification becomes failed."""
    email_failed(notification_id=event.notification_id, error=error, correlation_id=envelope.correlation_id)


HANDLERS = {
    CustomerChanged.topic: on_customer_changed,
    EmailRequested.topic: on_email_requested,
}

BATCH_HANDLERS = {EmailRequested.topic: on_emails_requested}

GIVE_UP_HOOKS = {EmailRequested.topic: on_email_given_up}

PREPARE_HOOKS = {EmailRequested.topic: before_email_requested}
