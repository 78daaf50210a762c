import uuid

from django.db import models

from apps.notifications.enums import Audience, Channel, NotificationStatus


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(db_index=True, null=True, blank=True)
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.CUSTOMER)
    recipient = models.CharField(max_length=254, blank=True, help_text="set for staff alerts")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    title = models.CharField(max_length=200, blank=True)
    message = models.TextField(max_length=5000)
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    error_message = models.TextField(blank=True)
    # The event that caused it; empty for notifications created through the API.
    event_type = models.CharField(max_length=100, blank=True)
    event_id = models.UUIDField(null=True, blank=True)
    # The cart the causing event was about (its envelope's correlation id), passed on to the email and
    # push requests: one cart's timeline finds its notifications and messages by it.
    correlation_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["customer_id", "-created_at"], name="notification_customer_idx"),
            models.Index(fields=["correlation_id"], name="notification_correlation_idx"),
        ]
        constraints = [
            # Exactly one notification per event, channel and audience (invariant 3).
            models.UniqueConstraint(
                fields=["event_id", "channel", "audience"],
                condition=models.Q(event_id__isnull=False),
                name="notification_one_per_event_channel_audience",
            ),
            models.CheckConstraint(
                condition=models.Q(audience=Audience.STOCK_MANAGER) | models.Q(customer_id__isnull=False),
                name="notification_customer_has_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.title or self.message[:30]} ({self.status})"
