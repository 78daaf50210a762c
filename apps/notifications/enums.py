from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    PUSH = "push", "Push"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Audience(models.TextChoices):
    """Who a notification is for: the customer, or staff (the stock manager's alert)."""

    CUSTOMER = "customer", "Customer"
    STOCK_MANAGER = "stock_manager", "Stock manager"
