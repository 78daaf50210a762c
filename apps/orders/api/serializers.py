from django.conf import settings
from rest_framework import serializers

from apps.events.contracts import MAX_QUANTITY
from apps.orders.enums import OrderStatus
from apps.orders.models import Order, OrderItem, OrderStatusChange
from shop.api import SKU_PATTERN, StrictIntegerField, UUIDStringField

MAX_LINES = settings.CART_MAX_LINES  # as many as a cart may hold: what an order can store (apps.events.contracts)


class OrderLineInputSerializer(serializers.Serializer):
    product_sku = serializers.RegexField(SKU_PATTERN, max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=MAX_QUANTITY)


class OrderRequestSerializer(serializers.Serializer):
    """POST /orders: an order asked for without a cart; the caller is X-Customer-ID or customer_id."""

    customer_id = UUIDStringField(required=False)
    items = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)

    def validate_items(self, items):
        skus = [line["product_sku"] for line in items]
        if len(skus) != len(set(skus)):
            raise serializers.ValidationError("Each SKU may appear once.")
        return items


class OrderRequestedSerializer(serializers.Serializer):
    cart_id = serializers.UUIDField(help_text="the request's id; GET /orders?cart_id= finds its order")
    customer_id = serializers.UUIDField()
    status = serializers.CharField()


class OrderUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OrderItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderItem
        fields = ("product_sku", "quantity", "price")


class OrderStatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderStatusChange
        fields = ("from_status", "to_status", "reason", "changed_at")


class OrderSerializer(serializers.ModelSerializer):
    items = OrderItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = (
            "id",
            "customer_id",
            "cart_id",
            "status",
            "total_amount",
            "items",
            "cancel_reason",
            "created_at",
            "updated_at",
        )


class OrderDetailSerializer(OrderSerializer):
    history = OrderStatusChangeSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = (*OrderSerializer.Meta.fields, "history")
