"""The two messaging tables every service database has: its outbox and its inbox.

The same models serve every service; each service's rows live in its own database, so these
models are always used with ``.using(<service database>)``.
"""

import json
import uuid

from django.db import models
from django.utils import timezone

from apps.events.enums import ProcessingStatus


class OutboxEvent(models.Model):
    """An event a service has committed to publish, written in the transaction that caused it."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    topic = models.CharField(max_length=100)
    event_type = models.CharField(max_length=100)
    schema_version = models.PositiveSmallIntegerField()
    ordering_key = models.CharField(max_length=200, blank=True)
    correlation_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField()
    occurred_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)  # the latest publication
    # The first publication: what the re-drive's window is measured from, whatever it re-published.
    first_published_at = models.DateTimeField(null=True, blank=True)
    publish_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Set when the relay gave up on publishing the row (too large, a topic gone for good): the relay
    # skips it, the admin shows it, staff can send it again from there.
    parked_at = models.DateTimeField(null=True, blank=True)
    redrive_count = models.PositiveIntegerField(default=0)  # re-publications by the re-drive
    redrive_given_up_at = models.DateTimeField(null=True, blank=True)  # after REDRIVE_MAX_PER_EVENT
    # The W3C trace context of the change that recorded the event (empty when it was not traced):
    # the relay publishes it beside the envelope, so one order is one trace across the services.
    traceparent = models.CharField(max_length=55, blank=True, default="")
    tracestate = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        db_table = "outbox"
        ordering = ("id",)
        indexes = [
            models.Index(
                fields=["id"],
                name="outbox_pending_idx",
                condition=models.Q(published_at__isnull=True),
            ),
            models.Index(fields=["published_at"], name="outbox_published_idx"),
            models.Index(fields=["first_published_at"], name="outbox_first_published_idx"),  # re-drive's window
            # What a service published for one cart (its timeline, apps/events/trail.py).
            models.Index(fields=["correlation_id"], name="outbox_correlation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class ProcessedMessage(models.Model):
    """The inbox: one row per event a service has consumed (the seed's columns, and timings).

    ``message_id`` is the event's ``event_id``, so a redelivered or re-published event finds its
    row and has no second effect.
    """

    id = models.AutoField(primary_key=True)
    message_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    service_name = models.CharField(max_length=100)
    status = models.CharField(max_length=50, choices=ProcessingStatus.choices)
    processed_at = models.DateTimeField(default=timezone.now)
    error_message = models.TextField(null=True, blank=True)  # noqa: DJ001 (the seed's column is nullable)
    attempts = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    # The envelope's correlation id (the cart's), written by the claim: what a service consumed for one cart.
    correlation_id = models.UUIDField(null=True, blank=True)

    class Meta:
        db_table = "processed_messages"
        ordering = ("-id",)
        indexes = [models.Index(fields=["correlation_id"], name="processed_correlation_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["message_id", "service_name"],
                name="processed_messages_message_id_service_name_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_name} {self.event_type} {self.message_id} ({self.status})"


class DeadLetter(models.Model):
    """An event a service gave up on after its last retry, kept whole so that staff can replay it.

    ``raw_message`` keeps the message's bytes whatever they hold; ``payload`` and ``attributes``
    are empty when jsonb cannot take them (U+0000 in a string).
    """

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(null=True, blank=True)
    raw_message = models.BinaryField(null=True, blank=True)  # [event_type, payload, attributes] as JSON
    error_message = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    dead_lettered_at = models.DateTimeField(default=timezone.now)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dead_letters"
        ordering = ("-dead_lettered_at",)

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    def message(self) -> list:
        """[event_type, payload, attributes], exactly as the service received it."""
        if self.raw_message is not None:
            return json.loads(bytes(self.raw_message))
        return [self.event_type, self.payload, self.attributes]
