from rest_framework import serializers

from apps.carts.enums import CartStatus
from apps.carts.services import MAX_LINE_QUANTITY
from shop.api import SKU_PATTERN, StrictIntegerField


class CartItemInputSerializer(serializers.Serializer):
    product_sku = serializers.RegexField(SKU_PATTERN, max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


# Declared, not ModelSerializers: a ModelSerializer introspects its model to build its fields on
# every instantiation, which cost the cart's write path (the platform's busiest) a tenth of its CPU.
class CartItemSerializer(serializers.Serializer):
    product_sku = serializers.CharField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)


class CartSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    customer_id = serializers.UUIDField(read_only=True)
    status = serializers.ChoiceField(choices=CartStatus.choices, read_only=True)
    status_reason = serializers.CharField(read_only=True)
    cart_locked = serializers.BooleanField(read_only=True)
    items = CartItemSerializer(many=True, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


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


def empty_cart(customer_id) -> dict:
    return {
        "id": None,
        "customer_id": str(customer_id),
        "status": CartStatus.ACTIVE,
        "cart_locked": False,
        "items": [],
    }
