from uuid import UUID

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.events.contracts import Line
from apps.idempotency.api import IDEMPOTENCY_KEY_PARAMETER, idempotent
from apps.orders import selectors, services
from apps.orders.api.serializers import (
    OrderDetailSerializer,
    OrderRequestedSerializer,
    OrderRequestSerializer,
    OrderSerializer,
    OrderUpdateSerializer,
)
from apps.orders.enums import OrderStatus
from apps.orders.events import DATABASE
from apps.orders.trail import order_timeline
from shop.access import Access
from shop.api import CUSTOMER_HEADER, UUID_PATTERN, TimelinePagination, error_responses
from shop.errors import InvalidRequest
from shop.identity import caller_of, customer_scope
from shop.observability.api import TimelineSerializer
from shop.observability.timeline import forwarded_credentials

OPTIONAL_CUSTOMER = OpenApiParameter(
    CUSTOMER_HEADER,
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    required=False,
    description="AUTH_MODE=header: when given, only this customer's orders are visible; "
    "with a token, optional and equal to its subject",
)


class OrderFilter(django_filters.FilterSet):
    customer_id = django_filters.UUIDFilter()
    cart_id = django_filters.UUIDFilter()
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)


class OrderViewSet(viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    pagination_class = TimelinePagination
    filterset_class = OrderFilter
    lookup_url_kwarg = "order_id"
    lookup_value_regex = UUID_PATTERN
    # A customer cancels their own order (PUT status cancelled, or DELETE); shipping and delivering are staff's.
    access = {
        "list": Access.OWNER,
        "retrieve": Access.OWNER,
        "create": Access.CUSTOMER,
        "update": Access.OWNER,
        "destroy": Access.OWNER,
        "timeline": Access.STAFF,
    }
    sensitive_actions = {"create"}

    def get_queryset(self):
        return selectors.order_list(customer_id=customer_scope(self.request))

    @extend_schema(parameters=[OPTIONAL_CUSTOMER], responses={200: OrderSerializer(many=True), **error_responses(400)})
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(parameters=[OPTIONAL_CUSTOMER], responses={200: OrderDetailSerializer, **error_responses(400, 404)})
    def retrieve(self, request, order_id: UUID):
        order = selectors.order_get(order_id=order_id, customer_id=customer_scope(request))
        return Response(OrderDetailSerializer(order).data)

    @extend_schema(
        parameters=[OPTIONAL_CUSTOMER, IDEMPOTENCY_KEY_PARAMETER],
        request=OrderRequestSerializer,
        responses={202: OrderRequestedSerializer, **error_responses(400, 404, 422)},
        description="Orders are created only by the stock reservation: this asks inventory for the items "
        "and answers 202; the order appears at GET /orders?cart_id=<cart_id> once stock is reserved.",
    )
    @idempotent(database=DATABASE)
    def create(self, request):
        payload = OrderRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        customer_id = self.ordering_customer(request, payload.validated_data.get("customer_id"))
        items = [Line(**line) for line in payload.validated_data["items"]]
        request_id = services.order_request(customer_id=customer_id, items=items)
        body = {"cart_id": request_id, "customer_id": customer_id, "status": "processing"}
        return Response(OrderRequestedSerializer(body).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OPTIONAL_CUSTOMER],
        request=OrderUpdateSerializer,
        responses={200: OrderSerializer, **error_responses(400, 404, 409)},
    )
    def update(self, request, order_id: UUID):
        payload = OrderUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        caller = caller_of(request)
        if caller.verified and not caller.is_staff and payload.validated_data["status"] != OrderStatus.CANCELLED:
            raise exceptions.PermissionDenied("A customer may cancel their order; staff ship and deliver it.")
        order = services.order_change_status(
            order_id=order_id, **payload.validated_data, customer_id=customer_scope(request)
        )
        return Response(OrderSerializer(order).data)

    @extend_schema(
        parameters=[OPTIONAL_CUSTOMER], request=None, responses={200: OrderSerializer, **error_responses(400, 404, 409)}
    )
    def destroy(self, request, order_id: UUID):
        """Cancels the order (it stays readable, status cancelled) and returns it."""
        order = services.order_cancel(order_id=order_id, customer_id=customer_scope(request))
        return Response(OrderSerializer(order).data)

    @extend_schema(
        responses={200: TimelineSerializer, **error_responses(404)},
        description="Staff only: everything that happened to the order's cart across the services, in time "
        "order: each event published and consumed (with retries, failures and dead letters) and each state "
        "change. The other services are asked for their part with the caller's credential, at once and "
        "briefly (TIMELINE_TIMEOUT_SECONDS); one that does not answer is named in missing and the rest is "
        "returned.",
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, order_id: UUID):
        timeline = order_timeline(order_id=order_id, headers=forwarded_credentials(request))
        return Response({"order_id": str(order_id), **timeline.as_dict()})

    @staticmethod
    def ordering_customer(request, requested: UUID | None) -> UUID:
        """Whom POST /orders orders for: a customer for themselves only; staff (and header mode) for anyone."""
        caller = caller_of(request)
        if caller.verified and not caller.is_staff:
            if requested is not None and requested != caller.customer_id:
                raise exceptions.PermissionDenied("A customer orders for themselves only.")
            return caller.customer_id
        customer_id = customer_scope(request) or requested or caller.customer_id
        if customer_id is None:
            raise InvalidRequest(f"The {CUSTOMER_HEADER} header or customer_id is required.", field="customer_id")
        return customer_id
