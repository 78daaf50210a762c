"""HTTP for timelines: every service's ``GET /events/trail`` (its part), and the shapes they answer in."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.access import Access
from shop.api import error_responses
from shop.observability.timeline import service_trail
from shop.registry import Service


class EntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="when it happened (ISO 8601, UTC)")
    service = serializers.CharField(help_text='the service that knows it: "cart", "inventory", ...')
    kind = serializers.ChoiceField(
        choices=["consumed", "dead-lettered", "state", "published"],
        help_text="an event it consumed (inbox), gave up on (dead letters) or published (outbox), "
        "or a change of its own state",
    )
    what = serializers.CharField(help_text='the event type, or the change ("order confirmed")')
    outcome = serializers.CharField(help_text='"done", "failed, to be retried", "published", "sent", ...')
    details = serializers.CharField(help_text="attempts, errors, latencies, ids")
    event_id = serializers.CharField(help_text="the event's id, for an event; empty for a state change")


class TrailSerializer(serializers.Serializer):
    service = serializers.CharField()
    correlation_id = serializers.UUIDField()
    entries = EntrySerializer(many=True)


class MissingSerializer(serializers.Serializer):
    service = serializers.CharField()
    reason = serializers.CharField()


class TimelineSerializer(serializers.Serializer):
    order_id = serializers.UUIDField()
    correlation_id = serializers.UUIDField(help_text="the cart's id: what every event of its saga carries")
    entries = EntrySerializer(many=True, help_text="every service's entries, in time order")
    missing = MissingSerializer(
        many=True, help_text="services that could not be asked for their part: the timeline is partial"
    )


class _TrailQuery(serializers.Serializer):
    correlation_id = serializers.UUIDField()


CORRELATION_ID = OpenApiParameter(
    "correlation_id",
    str,
    OpenApiParameter.QUERY,
    required=True,
    description="the cart's id (an order's cart_id): what every event of its saga carries",
)


def trail_view(service: Service):
    """GET /events/trail?correlation_id= : what this service's database knows about one cart (staff only)."""

    class TrailView(APIView):
        access = {"get": Access.STAFF}

        @extend_schema(
            operation_id=f"{service.name}_events_trail",
            parameters=[CORRELATION_ID],
            responses={200: TrailSerializer, **error_responses(400)},
            description="This service's part of a cart's timeline: the events it published (outbox) and "
            "consumed (inbox, with failures and retries), those it gave up on (dead letters) and its own "
            "state changes, in time order. The order service's GET /orders/{id}/timeline merges every "
            "service's part.",
        )
        def get(self, request):
            query = _TrailQuery(data=request.query_params)
            query.is_valid(raise_exception=True)
            correlation_id = query.validated_data["correlation_id"]
            entries = service_trail(service, correlation_id)
            return Response(
                {
                    "service": service.name,
                    "correlation_id": str(correlation_id),
                    "entries": [entry.as_dict() for entry in entries],
                }
            )

    TrailView.__name__ = TrailView.__qualname__ = f"{service.name.capitalize()}TrailView"
    return TrailView.as_view()
