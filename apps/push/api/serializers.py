from rest_framework import serializers

from apps.push.models import PushMessage


class PushMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = PushMessage
        fields = ("id", "customer_id", "title", "message", "created_at")
