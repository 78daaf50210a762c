from uuid import UUID

from rest_framework import generics

from apps.push import selectors
from apps.push.api.serializers import PushMessageSerializer
from shop.api import TimelinePagination


class CustomerPushMessagesView(generics.ListAPIView):
    """A customer's push messages, newest first."""

    serializer_class = PushMessageSerializer
    pagination_class = TimelinePagination
    filter_backends: list = []

    def get_queryset(self):
        customer_id: UUID = self.kwargs["customer_id"]
        return selectors.push_messages_of(customer_id=customer_id)
