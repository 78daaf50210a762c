import uuid

from django.db import models

from apps.email.enums import EmailStatus
from apps.events.replicas import Replica


class EmailMessage(models.Model):
    """One email the service sends, for one notification: ``sending`` from before it is handed to the
    SMTP server (committed on its own), ``sent`` once that has been confirmed and committed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification_id = models.UUIDField(unique=True)
    customer_id = models.UUIDField(null=True, blank=True, db_index=True)
    to_address = models.EmailField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=EmailStatus.choices)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Committed before each hand-over to the SMTP server: more than one means it may have gone out
    # more than once (always with the same Message-ID, the notification id).
    handovers = models.PositiveIntegerField(default=0)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    # The cart its request was about (the email.requested envelope's correlation id): its timeline's.
    correlation_id = models.UUIDField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.subject} to {self.to_address}"


class CustomerContact(Replica):
    """The email service's copy of customers' addresses, kept from customer.changed events."""

    customer_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
