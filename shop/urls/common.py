"""What every service's URL conf has besides its own routes: health, schema, docs, admin."""

from importlib import import_module

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from shop.admin_sites import ServiceAdminSite
from shop.observability.api import trail_view
from shop.observability.http import health_view, liveness_view, metrics_view
from shop.registry import get_service


def service_urlpatterns(service_name: str, api_urls: str) -> list:
    service = get_service(service_name)
    admin_site = ServiceAdminSite(service)
    schema_name = f"{service.name}-schema"
    # The service's own routes, and its part of a cart's timeline (staff only), both in its schema.
    api = [*import_module(api_urls).urlpatterns, re_path(r"^events/trail/?$", trail_view(service), name="events-trail")]
    return [
        path("", health_view(service), name="health"),
        # Prometheus and the liveness probe: plain Django views, no authentication, no throttle, not in
        # the schema; for the cluster network only (README, "Metrics and probes").
        path("metrics", metrics_view, name="metrics"),
        path("livez", liveness_view, name="livez"),
        path(
            "schema",
            SpectacularAPIView.as_view(
                urlconf=api,
                custom_settings={"TITLE": f"{service.service_name} API"},
            ),
            name=schema_name,
        ),
        path("docs", SpectacularSwaggerView.as_view(url_name=schema_name), name="swagger-ui"),
        path("redoc", SpectacularRedocView.as_view(url_name=schema_name), name="redoc"),
        path("admin/", admin_site.urls),
        path("", include(api)),
    ]
