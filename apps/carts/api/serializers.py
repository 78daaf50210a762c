from rest_framework import serializers

from apps.carts.enums import CartStatus
from apps.carts.models import Cart, CartItem
from apps.carts.services import MAX_LINE_QUANTITY
from shop.api import SKU_PATTERN, StrictIntegerField


class CartItemInputSerializer(serializers.Serializer):
    product_sku = serializers.RegexField(SKU_PATTERN, max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class CartItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = CartItem
        fields = ("product_sku", "quantity")


class CartSerializer(serializers.ModelSerializer):
    items = CartItemSerializer(many=True, read_only=True)

    class Meta:
        model = Cart
        fields = ("id", "customer_id", "status", "status_reason", "cart_locked", "items", "created_at", "updated_at")


class CurrentCartSerializer(serializers.Serializer):
    """GET /cart as documented: the current cart, or with none an empty one (``id: null``, no timestamps)."""

    id = serializers.UUIDField(allow_null=True)
    customer_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=CartStatus.choices)
    status_reason = serializers.CharField(required=False, help_text="why a stock-unavailable cart was unlocked")
    cart_locked = serializers.BooleanField()
    items = CartItemSerializer(many=True)
    created_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField(required=False)


class CartConvertedSerializer(CartSerializer):
    cart_id = serializers.UUIDField(source="id", read_only=True)

    class Meta(CartSerializer.Meta):
        fields = ("cart_id", *CartSerializer.Meta.fields)


def empty_cart(customer_id) -> dict:
    return {
        "id": None,
        "customer_id": str(customer_id),
        "status": CartStatus.ACTIVE,
        "cart_locked": False,
        "items": [],
    }
