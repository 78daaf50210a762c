from django.db import models


class ProcessingStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed (will be retried)"
    DEAD_LETTERED = "dead_lettered", "Dead-lettered"
