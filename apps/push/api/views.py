from uuid import UUID

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics

from apps.push import selectors
from apps.push.api.serializers import PushMessageSerializer
from shop.api import TimelinePagination, error_responses


@extend_schema_view(get=extend_schema(responses={200: PushMessageSerializer(many=True), **error_responses(400, 404)}))
class CustomerPushMessagesView(generics.ListAPIView):
    """A customer's push messages, newest first."""

    serializer_class = PushMessageSerializer
    pagination_class = TimelinePagination
    filter_backends: list = []

    def get_queryset(self):
        customer_id: UUID = self.kwargs["customer_id"]
        return selectors.push_messages_of(customer_id=customer_id)
