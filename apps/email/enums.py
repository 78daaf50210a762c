from django.db import models


class EmailStatus(models.TextChoices):
    SENDING = "sending", "Handed over, not yet known to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
