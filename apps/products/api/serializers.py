from rest_framework import serializers

from apps.products.models import Product
from shop.api import SKU_PATTERN, MoneyField


class ProductCreateSerializer(serializers.Serializer):
    sku = serializers.RegexField(SKU_PATTERN, max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")
    price = MoneyField()


class ProductUpdateSerializer(serializers.Serializer):
    """PUT /products/{sku}: any of the writable fields; the SKU itself never changes."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=2000, allow_blank=True, required=False)
    price = MoneyField(required=False)


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ("sku", "name", "description", "price", "created_at", "updated_at")
