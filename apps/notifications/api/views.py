from uuid import UUID

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from apps.idempotency.api import IDEMPOTENCY_KEY_PARAMETER, idempotent
from apps.notifications import selectors, services
from apps.notifications.api.serializers import NotificationCreateSerializer, NotificationSerializer
from apps.notifications.enums import Audience, Channel, NotificationStatus
from apps.notifications.events import DATABASE
from shop.access import Access
from shop.api import UUID_PATTERN, TimelinePagination, error_responses
from shop.identity import customer_scope


class NotificationFilter(django_filters.FilterSet):
    customer_id = django_filters.UUIDFilter()
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    status = django_filters.ChoiceFilter(choices=NotificationStatus.choices)
    event_id = django_filters.UUIDFilter()
    audience = django_filters.ChoiceFilter(choices=Audience.choices)


class NotificationViewSet(viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    pagination_class = TimelinePagination
    filterset_class = NotificationFilter
    lookup_url_kwarg = "notification_id"
    lookup_value_regex = UUID_PATTERN
    # Anyone's messages go out through POST /notifications: staff only.
    access = {"list": Access.OWNER, "retrieve": Access.OWNER, "create": Access.STAFF}
    sensitive_actions = {"create"}

    def get_queryset(self):
        return selectors.notification_list(customer_id=customer_scope(self.request))

    @extend_schema(responses={200: NotificationSerializer(many=True), **error_responses(400)})
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)

    @extend_schema(responses={200: NotificationSerializer, **error_responses(404)})
    def retrieve(self, request, notification_id: UUID):
        notification = selectors.notification_get(notification_id=notification_id, customer_id=customer_scope(request))
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request=NotificationCreateSerializer,
        responses={201: NotificationSerializer, **error_responses(400, 422)},
    )
    @idempotent(database=DATABASE)
    def create(self, request):
        payload = NotificationCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        notification = services.notification_create(**payload.validated_data)
        return Response(NotificationSerializer(notification).data, status=status.HTTP_201_CREATED)
