from rest_framework import serializers

from apps.customers.models import Customer


class CustomerCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)


class CustomerUpdateSerializer(serializers.Serializer):
    """PUT /customers/{id}: any of the writable fields."""

    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(max_length=254, required=False)


class CustomerListQuerySerializer(serializers.Serializer):
    """GET /customers query: a NUL character (which PostgreSQL cannot compare) is a 400, not a 500."""

    email = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ("id", "name", "email", "created_at", "updated_at")
