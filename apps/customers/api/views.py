from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from apps.customers import selectors, services
from apps.customers.api.serializers import (
    CustomerCreateSerializer,
    CustomerListQuerySerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
)
from shop.access import Access
from shop.api import UUID_PATTERN, CatalogPagination, error_responses
from shop.errors import NotFound
from shop.identity import customer_scope


def own_record(request, customer_id: UUID) -> None:
    """A customer reaches only their own record: another's is 404, as if it did not exist."""
    scope = customer_scope(request)
    if scope is not None and scope != UUID(str(customer_id)):
        raise NotFound(f"No customer with id {customer_id}.")


class CustomerViewSet(viewsets.GenericViewSet):
    serializer_class = CustomerSerializer
    pagination_class = CatalogPagination
    lookup_url_kwarg = "customer_id"
    lookup_value_regex = UUID_PATTERN
    access = {
        "list": Access.STAFF,
        "create": Access.STAFF,
        "retrieve": Access.OWNER,
        "update": Access.OWNER,
        "destroy": Access.OWNER,
    }

    def get_queryset(self):
        return selectors.customer_list()

    @extend_schema(
        parameters=[OpenApiParameter("email", str, description="exact email, any case")],
        responses={200: CustomerSerializer(many=True), **error_responses(400)},
    )
    def list(self, request):
        query = CustomerListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.customer_list(email=query.validated_data.get("email")))
        return self.get_paginated_response(CustomerSerializer(page, many=True).data)

    @extend_schema(responses={200: CustomerSerializer, **error_responses(404)})
    def retrieve(self, request, customer_id: UUID):
        own_record(request, customer_id)
        return Response(CustomerSerializer(selectors.customer_get(customer_id=customer_id)).data)

    @extend_schema(request=CustomerCreateSerializer, responses={201: CustomerSerializer, **error_responses(400, 409)})
    def create(self, request):
        payload = CustomerCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        customer = services.customer_create(**payload.validated_data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CustomerUpdateSerializer, responses={200: CustomerSerializer, **error_responses(400, 404, 409)}
    )
    def update(self, request, customer_id: UUID):
        own_record(request, customer_id)
        payload = CustomerUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        customer = services.customer_update(customer_id=customer_id, **payload.validated_data)
        return Response(CustomerSerializer(customer).data)

    @extend_schema(responses={204: None, **error_responses(404)})
    def destroy(self, request, customer_id: UUID):
        own_record(request, customer_id)
        services.customer_delete(customer_id=customer_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
