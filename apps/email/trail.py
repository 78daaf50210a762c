"""The email service's part of a cart's timeline: the emails it handed to the SMTP server, and their status."""

from uuid import UUID

from apps.email.enums import EmailStatus
from apps.email.events import DATABASE
from apps.email.models import EmailMessage
from apps.events.trail import MAX_ROWS, Entry, Kind

SERVICE = "email"


def trail(correlation_id: UUID) -> list[Entry]:
    entries = []
    for message in (
        EmailMessage.objects.using(DATABASE).filter(correlation_id=correlation_id).order_by("created_at")[:MAX_ROWS]
    ):
        about = f"for notification {message.notification_id}"
        handed = f"{about}; handed over {message.handovers}x" if message.handovers > 1 else about
        entries.append(
            Entry(
                message.handed_over_at or message.created_at,
                SERVICE,
                Kind.STATE,
                "email handed over",
                "sending",
                handed,
            )
        )
        if message.status == EmailStatus.SENT and message.sent_at is not None:
            entries.append(Entry(message.sent_at, SERVICE, Kind.STATE, "email sent", "sent", about))
        elif message.status == EmailStatus.FAILED:
            entries.append(
                Entry(
                    message.created_at,
                    SERVICE,
                    Kind.STATE,
                    "email failed",
                    "failed",
                    f"{about}; {message.error_message[:300]}",
                )
            )
    return entries
