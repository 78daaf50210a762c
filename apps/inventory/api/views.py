from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from apps.inventory import selectors, services
from apps.inventory.api.serializers import (
    InventoryCreateSerializer,
    InventoryItemSerializer,
    InventoryUpdateSerializer,
)
from shop.access import Access
from shop.api import SKU_PATH, CatalogPagination, error_responses


class InventoryViewSet(viewsets.GenericViewSet):
    serializer_class = InventoryItemSerializer
    pagination_class = CatalogPagination
    lookup_url_kwarg = "product_sku"
    # No NUL: PostgreSQL cannot compare text containing one, so such a path must be a 404, not a 500.
    lookup_value_regex = SKU_PATH
    # Stock levels are the business's own: staff read and write them (the cart answers "unknown SKU").
    access = dict.fromkeys(("list", "retrieve", "create", "update", "destroy"), Access.STAFF)

    def get_queryset(self):
        return selectors.inventory_list()

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InventoryItemSerializer(page, many=True).data)

    @extend_schema(responses={200: InventoryItemSerializer, **error_responses(404)})
    def retrieve(self, request, product_sku: str):
        return Response(InventoryItemSerializer(selectors.inventory_get(product_sku=product_sku)).data)

    @extend_schema(
        request=InventoryCreateSerializer, responses={201: InventoryItemSerializer, **error_responses(400, 409)}
    )
    def create(self, request):
        payload = InventoryCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = services.inventory_create(**payload.validated_data, reference="api")
        return Response(InventoryItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=InventoryUpdateSerializer, responses={200: InventoryItemSerializer, **error_responses(400, 404)}
    )
    def update(self, request, product_sku: str):
        payload = InventoryUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = services.inventory_set_quantity(
            product_sku=product_sku, quantity=payload.validated_data["quantity"], reference="api"
        )
        return Response(InventoryItemSerializer(item).data)

    @extend_schema(responses={204: None, **error_responses(404)})
    def destroy(self, request, product_sku: str):
        services.inventory_delete(product_sku=product_sku, reference="api")
        return Response(status=status.HTTP_204_NO_CONTENT)
