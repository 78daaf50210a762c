"""HTTP plumbing every service shares: errors as JSON, pagination, the caller's id (health: observability)."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import exception_handler as drf_exception_handler

from apps.events.contracts import MAX_PRICE
from shop import errors
from shop.identity import CUSTOMER_HEADER  # noqa: F401 - where the API layer finds it

logger = logging.getLogger(__name__)


DOMAIN_ERROR_STATUS = {
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.AlreadyExists: status.HTTP_409_CONFLICT,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.InvalidRequest: status.HTTP_400_BAD_REQUEST,
}


def exception_handler(exc, context):
    """DRF's handler, plus domain errors as 400/404/409 and database outages as JSON 503."""
    if isinstance(exc, errors.DomainError):
        body = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        code = next(code for cls, code in DOMAIN_ERROR_STATUS.items() if isinstance(exc, cls))
        return Response(body, status=code)
    response = drf_exception_handler(exc, context)
    if response is None and isinstance(exc, (OperationalError, InterfaceError)):
        logger.exception("database error while handling a request")
        return Response(
            {"detail": "The service cannot reach its database right now."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return response


class ErrorSerializer(serializers.Serializer):
    """An error's JSON body: ``{"detail": "..."}``, or messages keyed by the field or header at fault."""

    detail = serializers.CharField(required=False)


ERROR_DESCRIPTIONS = {
    status.HTTP_400_BAD_REQUEST: "Invalid input; the body names the fields or headers at fault.",
    status.HTTP_404_NOT_FOUND: "No such resource (an unknown id or SKU, or a malformed one in the path).",
    status.HTTP_409_CONFLICT: "The request conflicts with the current state.",
    status.HTTP_422_UNPROCESSABLE_ENTITY: "The Idempotency-Key was used before with a different request.",
    status.HTTP_401_UNAUTHORIZED: "AUTH_MODE=jwt: no bearer token, or one that does not verify.",
    status.HTTP_403_FORBIDDEN: "The caller's token does not allow this (staff only, or another customer's).",
    status.HTTP_429_TOO_MANY_REQUESTS: "Too many requests from this caller; Retry-After says when to try again.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The errors an operation documents, for ``extend_schema(responses={200: ..., **error_responses(400)})``."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


class OptionalSlashRouter(SimpleRouter):
    """Routes answer with and without a trailing slash: the seed's clients call /products."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


def document_identity_answers(result, generator, request, public):
    """drf-spectacular postprocessing hook: the 401/403 of every operation that needs a token, the 429 of all."""
    error = {"application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            codes = [status.HTTP_429_TOO_MANY_REQUESTS]
            if any(requirement for requirement in operation.get("security", [])):
                codes += [status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN]
            for code in codes:
                operation["responses"].setdefault(
                    str(code), {"description": ERROR_DESCRIPTIONS[code], "content": error}
                )
    return result


def document_optional_slash_paths(endpoints):
    """drf-spectacular preprocessing hook: a route whose trailing slash is optional is documented without it.

    Clients call ``/products`` and ``/products/LAP-001`` (the contract's paths); the slash is a courtesy.
    """
    return [
        (path.rstrip("/") if path_regex.endswith("/?$") and path != "/" else path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
    ]


class CatalogPagination(LimitOffsetPagination):
    """Small, staff-curated tables: offset pages with a total count."""

    default_limit = 50
    max_limit = 500


class TimelinePagination(CursorPagination):
    """Tables that grow with traffic: newest first, cursor pages, no COUNT over the table."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = ("-created_at", "-id")
    invalid_cursor_message = "Invalid cursor."

    def decode_cursor(self, request):
        """A malformed ?cursor= is bad input (400), not a missing resource (DRF says 404)."""
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from None


# --- Django-level error views: every error has a JSON body, unknown paths included. ----------


def json_not_found(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def json_bad_request(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)


def json_server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)


UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
SKU_PATH = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # a SKU in a URL; anything else is a 404, never a query
SKU_PATTERN = rf"^{SKU_PATH}$"


MONEY_PATTERN = rf"^\d{{1,{len(str(int(MAX_PRICE)))}}}(\.\d{{1,2}})?$"  # up to MAX_PRICE's 6 whole digits


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MONEY_PATTERN, "example": "999.99"})
class MoneyField(serializers.DecimalField):
    """A price from 0 to MAX_PRICE with two decimal places, documented as such: drf-spectacular's own pattern
    admits "" and "-1". MAX_PRICE is the price at which an order of the most lines and units still fits its
    columns (apps.events.contracts).
    """

    def __init__(self, **kwargs):
        super().__init__(max_digits=12, decimal_places=2, min_value=0, max_value=MAX_PRICE, **kwargs)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField would also take "2", 2.0 and "2.0"."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class UUIDStringField(serializers.UUIDField):
    """A UUID written as a string: DRF's UUIDField would also take the number 42."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
