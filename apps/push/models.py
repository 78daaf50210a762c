import uuid

from django.db import models


class PushMessage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField()
    notification_id = models.UUIDField(unique=True)
    title = models.CharField(max_length=200, blank=True)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The cart its request was about (the push.requested envelope's correlation id): its timeline's.
    correlation_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["customer_id", "-created_at"], name="push_customer_idx"),
            models.Index(fields=["correlation_id"], name="push_correlation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title or self.message[:30]} to {self.customer_id}"
