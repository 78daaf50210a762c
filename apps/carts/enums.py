from django.db import models


class CartStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PROCESSING = "processing", "Processing (locked, waiting for inventory)"
    ORDERED = "ordered", "Ordered (locked, final)"
    STOCK_UNAVAILABLE = "stock-unavailable", "Stock unavailable (editable again)"
