"""The web services' side: requests counted per route, ``GET /metrics``, ``GET /livez`` and ``GET /``.

Per route means the URL pattern's name (``product-detail``), never the raw path, so that the
number of series stays bounded whatever clients send; a path no route matches counts as
``<unresolved>``.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import JsonResponse
from django.urls import Resolver404, resolve
from django_prometheus.exports import ExportToDjangoView
from django_prometheus.middleware import PrometheusAfterMiddleware
from django_prometheus.utils import Time
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from shop.access import Access
from shop.observability import health

UNRESOLVED = "<unresolved>"


class RouteMetricsMiddleware(PrometheusAfterMiddleware):
    """django-prometheus's per-view request metrics, from the outermost place in the stack.

    The library splits them between a first and a last middleware; the last one never sees what an
    earlier middleware answers itself (the catalog page cache, the admin's lockout). Outermost, it
    sees every response, and its latency is the whole stack's. A response answered before URL
    resolution has no route name yet: it is looked up (and remembered) from the path.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._children: dict[tuple, object] = {}

    def label_metric(self, metric, request, response=None, **labels):
        """The library's hook, with each labelled child kept: ``labels()`` was most of its cost per request
        (about 6 us a call, seven calls). Bounded: route names, methods, status codes, charsets."""
        if not labels:
            return metric
        key = (id(metric), *labels.values())
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(**labels)
        return child

    def process_request(self, request):
        """The library's, reading the request's size from META: building ``request.headers`` for it (and for
        an "AJAX" counter we do not keep) was a third of its cost per request."""
        method = self._method(request)
        self.label_metric(self.metrics.requests_by_method, request, method=method).inc()
        self.label_metric(self.metrics.requests_by_transport, request, transport=self._transport(request)).inc()
        content_length = request.META.get("CONTENT_LENGTH") or 0
        self.metrics.requests_body_bytes.observe(int(content_length) if str(content_length).isdigit() else 0)
        request.prometheus_after_middleware_event = Time()

    def _get_view_name(self, request):
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name:
            return match.view_name
        return route_of(getattr(request, "urlconf", None) or settings.ROOT_URLCONF, request.path_info)


@functools.lru_cache(maxsize=1024)
def route_of(urlconf: str, path: str) -> str:
    try:
        return resolve(path, urlconf).view_name or UNRESOLVED
    except Resolver404:
        return UNRESOLVED


def metrics_view(request):
    """GET /metrics: the text exposition of every gunicorn worker of the service (multiprocess mode)."""
    return ExportToDjangoView(request)


def liveness_view(request):
    """GET /livez: the process answers. It touches no dependency: a database outage must not get
    every pod restarted (that is readiness' business, ``GET /``)."""
    return JsonResponse({"status": "alive"})


def health_view(service):
    """GET / (readiness): 200 while the service reaches what it uses (its database, its broker queue,
    Pub/Sub: shop/observability/health.py, bounded and cached), 503 naming what failed otherwise."""

    class HealthView(APIView):
        renderer_classes = [JSONRenderer]
        access = {"get": Access.PUBLIC}

        @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
        def get(self, request):
            body, status_code = health.report(health.service_checks(service), service=service.service_name)
            return Response(body, status=status_code)

    return HealthView.as_view()
