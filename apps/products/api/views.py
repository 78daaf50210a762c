from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from apps.products import selectors, services
from apps.products.api.serializers import (
    ProductCreateSerializer,
    ProductSerializer,
    ProductUpdateSerializer,
)
from shop.access import Access
from shop.api import SKU_PATH, CatalogPagination, error_responses


class ProductViewSet(viewsets.GenericViewSet):
    serializer_class = ProductSerializer
    pagination_class = CatalogPagination
    lookup_field = "sku"
    lookup_value_regex = SKU_PATH
    access = {
        "list": Access.PUBLIC,
        "retrieve": Access.PUBLIC,
        "create": Access.STAFF,
        "update": Access.STAFF,
        "destroy": Access.STAFF,
    }

    def get_queryset(self):
        return selectors.product_list()

    def list(self, request):
        """Replayed while the catalog is unchanged by apps.products.middleware.CatalogPageCache."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProductSerializer(page, many=True).data)

    @extend_schema(responses={200: ProductSerializer, **error_responses(404)})
    def retrieve(self, request, sku: str):
        return Response(ProductSerializer(selectors.product_get(sku=sku)).data)

    @extend_schema(request=ProductCreateSerializer, responses={201: ProductSerializer, **error_responses(400, 409)})
    def create(self, request):
        payload = ProductCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        product = services.product_create(**payload.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProductUpdateSerializer, responses={200: ProductSerializer, **error_responses(400, 404)})
    def update(self, request, sku: str):
        payload = ProductUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        product = services.product_update(sku=sku, **payload.validated_data)
        return Response(ProductSerializer(product).data)

    @extend_schema(responses={204: None, **error_responses(404)})
    def destroy(self, request, sku: str):
        services.product_delete(sku=sku)
        return Response(status=status.HTTP_204_NO_CONTENT)
