"""Every route that takes a JSON body answers a body it cannot parse with a 400 JSON error, never a 500."""

import re

import pytest
from django.urls import resolve
from drf_spectacular.generators import EndpointEnumerator

from shop.registry import SERVICES

ALL_DATABASES = ["default", *SERVICES]
CUSTOMER_ID = "550e8400-e29b-41d4-a716-446655440000"
BODY_METHODS = {"POST", "PUT", "PATCH"}


def path_value(name: str) -> str:
    """A valid-looking value for a path parameter: a SKU for SKUs, a UUID for every id."""
    return "LAP-001" if "sku" in name else CUSTOMER_ID


def routes_with_a_body() -> list[tuple[str, str, str]]:
    """(service, method, concrete path) of every DRF route of every service's URL conf that takes a body."""
    routes = []
    for service in SERVICES.values():
        for path, _regex, method, callback in EndpointEnumerator(urlconf=service.urlconf).get_api_endpoints():
            if method not in BODY_METHODS:
                continue
            concrete = re.sub(r"\{(\w+)\}", lambda match: path_value(match.group(1)), path)
            assert resolve(concrete, urlconf=service.urlconf).func.cls is callback.cls, concrete
            routes.append((service.name, method, concrete))
    return routes


ROUTES = routes_with_a_body()


def test_the_routes_are_found():
    # A sample that must be among them, so an enumerator that found nothing cannot pass silently.
    assert {("product", "POST", "/products"), ("order", "PUT", f"/orders/{CUSTOMER_ID}")} <= set(ROUTES)
    assert {service for service, _, _ in ROUTES} >= {"order", "product", "inventory", "cart", "customer"}


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize(("service", "method", "path"), ROUTES)
@pytest.mark.parametrize("depth", [3_000, 100_000])
def test_deeply_nested_json_is_a_400_json_error(service_client, service, method, path, depth):
    client = service_client(service, HTTP_X_CUSTOMER_ID=CUSTOMER_ID)
    body = "[" * depth + "]" * depth

    response = client.generic(method, path, body, content_type="application/json")

    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"] == "application/json"
    assert response.json()
