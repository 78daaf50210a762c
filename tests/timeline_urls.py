"""A URL conf for tests/test_timeline.py: the order service's routes, and every service's
/events/trail under /<service>/ (one live server standing in for eight)."""

from django.urls import path

from shop.observability.api import trail_view
from shop.registry import SERVICES
from shop.urls.order import handler400, handler404, handler500  # noqa: F401
from shop.urls.order import urlpatterns as order_urlpatterns

urlpatterns = [
    *[path(f"{service.name}/events/trail", trail_view(service)) for service in SERVICES.values()],
    *order_urlpatterns,
]
