import pytest

from apps.events.models import OutboxEvent
from apps.products.models import Product
from apps.products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(databases=["product"])


@pytest.fixture
def api(service_client):
    return service_client("product")


def product_events():
    return list(OutboxEvent.objects.using("product").filter(event_type="product.changed").order_by("id"))


def test_create_answers_201_with_money_as_a_string_and_records_the_event(api):
    response = api.post("/products", {"sku": "CAM-001", "name": "Camera", "price": "349.5"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["sku"] == "CAM-001"
    assert body["price"] == "349.50"
    assert body["description"] == ""
    assert {"created_at", "updated_at"} <= body.keys()
    [event] = product_events()
    assert event.payload["sku"] == "CAM-001"
    assert event.payload["price"] == "349.50"
    assert event.ordering_key == "CAM-001"
    assert event.published_at is None


def test_duplicate_sku_is_409_and_writes_nothing(api):
    ProductFactory(sku="CAM-001")

    response = api.post("/products", {"sku": "CAM-001", "name": "Camera", "price": "1.00"}, format="json")

    assert response.status_code == 409
    assert "sku" in response.json()
    assert product_events() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"sku": "CAM-001", "name": "Camera", "price": "-0.01"},
        {"sku": "CAM-001", "name": "Camera", "price": "1.234"},
        {"sku": "CAM-001", "name": "Camera", "price": "1e20"},
        {"sku": "CAM-001", "name": "Camera", "price": "NaN"},
        {"sku": "CAM-001", "name": "Camera", "price": "cheap"},
        {"sku": "CAM-001", "name": "Camera"},
        {"sku": "", "name": "Camera", "price": "1.00"},
        {"sku": "has space", "name": "Camera", "price": "1.00"},
        {"sku": "X" * 65, "name": "Camera", "price": "1.00"},
        {"sku": "CAM-001", "name": "N" * 201, "price": "1.00"},
        {"sku": "CAM-001", "name": "Cam\x00era", "price": "1.00"},
        {"sku": ["CAM-001"], "name": "Camera", "price": "1.00"},
    ],
)
def test_invalid_product_is_400_and_writes_nothing(api, payload):
    response = api.post("/products", payload, format="json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert not Product.objects.exists()
    assert product_events() == []


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "{not json"])
def test_malformed_or_non_object_json_is_400(api, body):
    response = api.generic("POST", "/products", body, content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.json() or "non_field_errors" in response.json()


def test_list_is_paginated_and_ordered_by_sku(api):
    for sku in ("B-1", "A-1", "C-1"):
        ProductFactory(sku=sku)

    response = api.get("/products?limit=2")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [p["sku"] for p in body["results"]] == ["A-1", "B-1"]
    assert body["next"] is not None


def test_list_limit_is_capped(api):
    ProductFactory.create_batch(3)

    response = api.get("/products?limit=100000")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def test_retrieve_and_unknown_sku(api):
    ProductFactory(sku="LAP-001", price="999.99")

    assert api.get("/products/LAP-001").json()["price"] == "999.99"
    missing = api.get("/products/NOPE-1")
    assert missing.status_code == 404
    assert "detail" in missing.json()


def test_trailing_slash_is_accepted(api):
    ProductFactory(sku="LAP-001")

    assert api.get("/products/").status_code == 200
    assert api.get("/products/LAP-001/").status_code == 200


def test_update_is_partial_bumps_the_version_and_records_the_event(api):
    product = ProductFactory(sku="LAP-001", price="999.99", version=1)

    response = api.put("/products/LAP-001", {"price": "899.00"}, format="json")

    assert response.status_code == 200
    assert response.json()["price"] == "899.00"
    assert response.json()["name"] == product.name
    [event] = product_events()
    assert event.payload["price"] == "899.00"
    assert event.payload["version"] > 1


def test_update_unknown_is_404_and_invalid_is_400(api):
    ProductFactory(sku="LAP-001")

    assert api.put("/products/NOPE", {"price": "1.00"}, format="json").status_code == 404
    assert api.put("/products/LAP-001", {"price": "-1"}, format="json").status_code == 400
    assert product_events() == []


def test_delete_removes_and_publishes_a_tombstone(api):
    ProductFactory(sku="LAP-001")

    response = api.delete("/products/LAP-001")

    assert response.status_code == 204
    assert not Product.objects.filter(sku="LAP-001").exists()
    [event] = product_events()
    assert event.payload["deleted"] is True
    assert api.delete("/products/LAP-001").status_code == 404


def test_versions_grow_across_delete_and_recreate(api):
    api.post("/products", {"sku": "LAP-001", "name": "Laptop", "price": "1.00"}, format="json")
    api.delete("/products/LAP-001")
    api.post("/products", {"sku": "LAP-001", "name": "Laptop", "price": "2.00"}, format="json")

    versions = [e.payload["version"] for e in product_events()]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3


def test_the_list_shows_every_change_at_once_though_pages_are_cached(api):
    api.post("/products", {"sku": "LAP-001", "name": "Laptop", "price": "999.99"}, format="json")
    assert [p["price"] for p in api.get("/products").json()["results"]] == ["999.99"]

    api.put("/products/LAP-001", {"price": "899.00"}, format="json")
    assert [p["price"] for p in api.get("/products").json()["results"]] == ["899.00"]

    api.post("/products", {"sku": "PHN-001", "name": "Phone", "price": "1.00"}, format="json")
    assert [p["sku"] for p in api.get("/products").json()["results"]] == ["LAP-001", "PHN-001"]

    api.delete("/products/PHN-001")
    assert [p["sku"] for p in api.get("/products").json()["results"]] == ["LAP-001"]
    api.delete("/products/LAP-001")
    assert api.get("/products").json()["results"] == []


def test_a_repeated_list_is_replayed_without_the_view_until_the_catalog_changes(api, monkeypatch):
    from apps.products.api import views

    api.post("/products", {"sku": "LAP-001", "name": "Laptop", "price": "999.99"}, format="json")
    rendered = []
    render = views.ProductViewSet.list
    monkeypatch.setattr(views.ProductViewSet, "list", lambda self, request: rendered.append(1) or render(self, request))

    first, second = api.get("/products?limit=10"), api.get("/products?limit=10")
    api.put("/products/LAP-001", {"price": "899.00"}, format="json")
    third = api.get("/products?limit=10")

    assert len(rendered) == 2  # the second request was a replay, the third saw a new catalog state
    assert second.content == first.content
    assert second.headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert [p["price"] for p in third.json()["results"]] == ["899.00"]


def test_the_list_answers_503_as_json_while_the_database_is_down_and_never_replays_it(api, monkeypatch):
    from django.db import OperationalError

    from apps.products import middleware

    def database_down():
        raise OperationalError("the database system is shutting down")

    ProductFactory(sku="LAP-001")
    with monkeypatch.context() as outage:
        outage.setattr(middleware, "catalog_state", database_down)
        outage.setattr("apps.products.selectors.product_list", database_down)
        response = api.get("/products")

    assert response.status_code == 503
    assert "detail" in response.json()
    assert [p["sku"] for p in api.get("/products").json()["results"]] == ["LAP-001"]
