from rest_framework import serializers

from apps.inventory.models import InventoryItem
from shop.api import SKU_PATTERN, StrictIntegerField

MAX_QUANTITY = 1_000_000_000


class InventoryCreateSerializer(serializers.Serializer):
    product_sku = serializers.RegexField(SKU_PATTERN, max_length=64)
    quantity = StrictIntegerField(min_value=0, max_value=MAX_QUANTITY)


class InventoryUpdateSerializer(serializers.Serializer):
    quantity = StrictIntegerField(min_value=0, max_value=MAX_QUANTITY)


class InventoryItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = InventoryItem
        fields = ("product_sku", "quantity", "updated_at")
