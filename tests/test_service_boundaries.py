"""Every service answers its own routes only, with JSON errors, health, schema and docs."""

import json
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.db import connections

from shop.registry import SERVICES

ALL_DATABASES = ["default", *SERVICES]

# One route of each service that clients know it by.
OWN_ROUTE = {
    "order": "/orders",
    "product": "/products",
    "inventory": "/inventory",
    "notification": "/notifications",
    "cart": "/cart",
    "customer": "/customers",
    "push": "/notifications/550e8400-e29b-41d4-a716-446655440000",
}


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize("name", list(SERVICES))
def test_health_names_the_service(service_client, name):
    response = service_client(name).get("/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["service"] == f"{name}-service"


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize("name", list(SERVICES))
def test_health_is_503_when_the_database_is_unreachable(service_client, name, settings, monkeypatch):
    client = service_client(name)
    settings.HEALTH_CHECK_CACHE_SECONDS = 0
    # The check connects on its own (bounded): a port where nothing listens is a database down.
    monkeypatch.setitem(connections[SERVICES[name].database].settings_dict, "PORT", "1")

    response = client.get("/")

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["checks"]["database"] == "unavailable: OperationalError"


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize("name", list(SERVICES))
def test_a_service_does_not_answer_another_services_routes(service_client, name):
    client = service_client(name, HTTP_X_CUSTOMER_ID="550e8400-e29b-41d4-a716-446655440000")
    own = OWN_ROUTE.get(name)
    others = {route for service, route in OWN_ROUTE.items() if route != own and service != name}
    if name == "notification":
        others.discard(OWN_ROUTE["push"])  # /notifications/{id} is the notification detail route here
    if name == "push":
        others.discard(OWN_ROUTE["notification"])

    for route in sorted(others):
        response = client.get(route)
        assert response.status_code == 404, route
        assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize("name", [n for n in SERVICES if n in OWN_ROUTE])
def test_a_service_answers_its_own_route(service_client, name):
    client = service_client(name, HTTP_X_CUSTOMER_ID="550e8400-e29b-41d4-a716-446655440000")

    assert client.get(OWN_ROUTE[name]).status_code == 200


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize("name", list(SERVICES))
def test_unknown_paths_and_wrong_methods_answer_json(service_client, name):
    client = service_client(name)

    unknown = client.get("/no/such/path")
    assert unknown.status_code == 404
    assert unknown["Content-Type"].startswith("application/json")
    assert client.patch("/", {}, format="json").status_code in (404, 405)


@pytest.mark.django_db(databases=ALL_DATABASES)
@pytest.mark.parametrize("name", list(SERVICES))
def test_each_service_serves_its_own_openapi_schema_and_docs(service_client, name):
    client = service_client(name)

    schema = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["info"]["title"] == f"{name}-service API"
    paths = set(document["paths"])
    if name in OWN_ROUTE and name != "push":
        assert any(p.rstrip("/").startswith(OWN_ROUTE[name]) for p in paths), paths
    foreign = {OWN_ROUTE[s] for s in OWN_ROUTE if s != name and OWN_ROUTE[s] != OWN_ROUTE.get(name)}
    assert not any(p.rstrip("/") in foreign for p in paths)
    assert client.get("/docs").status_code == 200


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_admin_of_a_service_shows_its_own_models_only(service_client):
    staff = User.objects.create_superuser("staff", "staff@example.com", "pw")
    product_admin = service_client("product")
    product_admin.force_login(staff)

    index = product_admin.get("/admin/")
    assert index.status_code == 200
    html = index.content.decode()
    assert "/admin/products/product/" in html
    assert "/admin/events/outboxevent/" in html
    assert "/admin/inventory/" not in html
    assert "/admin/orders/" not in html

    inventory_admin = service_client("inventory")
    inventory_admin.force_login(staff)
    html = inventory_admin.get("/admin/").content.decode()
    assert "/admin/inventory/inventoryitem/" in html
    assert "/admin/products/" not in html


def test_a_service_process_only_knows_its_own_database():
    """SHOP_SERVICE=cart: the cart process has no connection settings for any other service."""
    probe = (
        "import django; django.setup();"
        "from django.conf import settings;"
        "print(sorted(settings.DATABASES), settings.ROOT_URLCONF)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "shop.settings.test", "SHOP_SERVICE": "cart", "PATH": ""}
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "['cart', 'default'] shop.urls.cart"
