from uuid import UUID

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics

from apps.push import selectors
from apps.push.api.serializers import PushMessageSerializer
from shop.access import Access
from shop.api import TimelinePagination, error_responses
from shop.errors import NotFound
from shop.identity import customer_scope


@extend_schema_view(get=extend_schema(responses={200: PushMessageSerializer(many=True), **error_responses(400, 404)}))
class CustomerPushMessagesView(generics.ListAPIView):
    """A customer's push messages, newest first."""

    serializer_class = PushMessageSerializer
    pagination_class = TimelinePagination
    filter_backends: list = []
    access = {"get": Access.OWNER}

    def get_queryset(self):
        customer_id = UUID(self.kwargs["customer_id"])
        scope = customer_scope(self.request)
        if scope is not None and scope != customer_id:
            raise NotFound(f"No push messages for customer {customer_id}.")
        return selectors.push_messages_of(customer_id=customer_id)
