from rest_framework import serializers

from apps.notifications.enums import Channel
from apps.notifications.models import Notification
from shop.api import UUIDStringField


class NotificationCreateSerializer(serializers.Serializer):
    customer_id = UUIDStringField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    message = serializers.CharField(max_length=5000)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = (
            "id",
            "customer_id",
            "channel",
            "title",
            "message",
            "status",
            "event_type",
            "event_id",
            "created_at",
            "sent_at",
        )
