"""The three routes that start something honour Idempotency-Key, and their schemas say so."""

import json

import pytest

from apps.events.models import OutboxEvent
from apps.idempotency.models import IdempotencyKey

CUSTOMER = "550e8400-e29b-41d4-a716-446655440000"

# service, path, a body for it
ROUTES = [
    ("cart", "/cart/convert-to-order", None),
    ("order", "/orders", {"items": [{"product_sku": "LAP-001", "quantity": 1}]}),
    ("notification", "/notifications", {"customer_id": CUSTOMER, "channel": "push", "message": "Hello"}),
]


def operation(service_client, service, path):
    schema = service_client(service).get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return json.loads(schema.content)["paths"][path]["post"]


@pytest.mark.django_db(databases=["cart", "order", "notification"])
@pytest.mark.parametrize(("service", "path", "body"), ROUTES)
def test_the_schema_documents_the_header_and_the_422(service_client, service, path, body):
    documented = operation(service_client, service, path)

    [parameter] = [p for p in documented["parameters"] if p["name"] == "Idempotency-Key"]
    assert parameter["in"] == "header"
    assert not parameter.get("required", False)
    assert parameter["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
    assert "422" in documented["responses"]
    assert "400" in documented["responses"]


@pytest.mark.django_db(databases=["cart"])
def test_other_writes_do_not_document_the_header(service_client):
    documented = operation(service_client, "cart", "/cart/items")

    assert "Idempotency-Key" not in {p["name"] for p in documented.get("parameters", [])}
    assert "422" not in documented["responses"]


@pytest.mark.django_db(databases=["cart", "order", "notification"])
@pytest.mark.parametrize(("service", "path", "body"), ROUTES)
@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_empty_or_over_255_characters_is_400_naming_the_header(service_client, service, path, body, key):
    client = service_client(service, HTTP_X_CUSTOMER_ID=CUSTOMER)

    response = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not OutboxEvent.objects.using(service).exists()
    assert not IdempotencyKey.objects.using(service).exists()
