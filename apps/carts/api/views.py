"""The caller's own cart: the token's subject, or the customer X-Customer-ID names in header mode."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.carts import selectors, services
from apps.carts.api.serializers import (
    CartConvertedSerializer,
    CartItemInputSerializer,
    CartSerializer,
    CurrentCartSerializer,
    empty_cart,
)
from apps.carts.events import DATABASE
from apps.idempotency.api import IDEMPOTENCY_KEY_PARAMETER, idempotent
from shop.access import Access
from shop.api import CUSTOMER_HEADER, SKU_PATTERN, error_responses
from shop.errors import NotFound
from shop.identity import acting_customer

CUSTOMER_PARAMETER = OpenApiParameter(
    CUSTOMER_HEADER,
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    required=False,
    description="the caller: required in AUTH_MODE=header; with a token, optional and equal to its subject",
)


class CartView(APIView):
    access = {"get": Access.CUSTOMER}

    @extend_schema(parameters=[CUSTOMER_PARAMETER], responses={200: CurrentCartSerializer, **error_responses(400)})
    def get(self, request):
        customer_id = acting_customer(request)
        cart = selectors.cart_current(customer_id=customer_id)
        return Response(CartSerializer(cart).data if cart else empty_cart(customer_id))


class CartItemsView(APIView):
    access = {"post": Access.CUSTOMER}

    @extend_schema(
        parameters=[CUSTOMER_PARAMETER],
        request=CartItemInputSerializer,
        responses={201: CartSerializer, **error_responses(400, 404, 409)},
    )
    def post(self, request):
        customer_id = acting_customer(request)
        payload = CartItemInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        cart = services.cart_add_item(customer_id=customer_id, **payload.validated_data)
        return Response(CartSerializer(cart).data, status=status.HTTP_201_CREATED)


class CartItemView(APIView):
    access = {"delete": Access.CUSTOMER}

    @extend_schema(parameters=[CUSTOMER_PARAMETER], responses={200: CartSerializer, **error_responses(400, 404, 409)})
    def delete(self, request, product_sku: str):
        customer_id = acting_customer(request)
        if not re.fullmatch(SKU_PATTERN, product_sku):
            # No cart holds such a SKU; and PostgreSQL refuses some (NUL), which would be a 500.
            raise NotFound(f"SKU {product_sku!r} is not in the cart.")
        cart = services.cart_remove_item(customer_id=customer_id, product_sku=product_sku)
        return Response(CartSerializer(cart).data)


class CartConvertView(APIView):
    access = {"post": Access.CUSTOMER}
    sensitive_actions = {"post"}

    @extend_schema(
        parameters=[CUSTOMER_PARAMETER, IDEMPOTENCY_KEY_PARAMETER],
        request=None,
        responses={202: CartConvertedSerializer, **error_responses(400, 409, 422)},
    )
    @idempotent(database=DATABASE)
    def post(self, request):
        customer_id = acting_customer(request)
        cart = services.cart_convert(customer_id=customer_id)
        return Response(CartConvertedSerializer(cart).data, status=status.HTTP_202_ACCEPTED)
