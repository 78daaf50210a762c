"""A price is at most MAX_PRICE: what an order of the most lines and units can be priced at (apps.events.contracts)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.events.contracts import MAX_PRICE, ProductChanged
from apps.events.models import OutboxEvent
from apps.products import services
from apps.products.models import Product
from apps.products.tests.factories import ProductFactory
from shop.errors import InvalidRequest

pytestmark = pytest.mark.django_db(databases=["product"])

ONE_CENT_TOO_MUCH = MAX_PRICE + Decimal("0.01")


@pytest.fixture
def api(service_client):
    return service_client("product")


def product_events():
    return list(OutboxEvent.objects.using("product").filter(event_type="product.changed"))


def test_the_largest_price_fits_the_column():
    field = Product._meta.get_field("price")
    assert Decimal(10) ** (field.max_digits - field.decimal_places) > MAX_PRICE


def test_a_product_at_the_largest_price_is_accepted(api):
    created = api.post("/products", {"sku": "CAM-001", "name": "Camera", "price": "999999.99"}, format="json")
    updated = api.put("/products/CAM-001", {"price": str(MAX_PRICE)}, format="json")

    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["price"] == updated.json()["price"] == "999999.99"
    assert [e.payload["price"] for e in product_events()] == ["999999.99", "999999.99"]


@pytest.mark.parametrize("price", [str(ONE_CENT_TOO_MUCH), "1000000", "9999999999.99"])
def test_a_price_past_the_largest_is_400_naming_it_and_writes_nothing(api, price):
    ProductFactory(sku="LAP-001", price=Decimal("999.99"))

    created = api.post("/products", {"sku": "CAM-001", "name": "Camera", "price": price}, format="json")
    updated = api.put("/products/LAP-001", {"price": price}, format="json")

    for response in (created, updated):
        assert response.status_code == 400
        assert response.json() == {"price": ["Ensure this value is less than or equal to 999999.99."]}
    assert list(Product.objects.values_list("sku", "price")) == [("LAP-001", Decimal("999.99"))]
    assert product_events() == []


def test_the_service_and_the_table_refuse_it_too():
    # The admin and the seed call the services; the admin's forms also check the table's constraint.
    with pytest.raises(InvalidRequest):
        services.product_create(sku="CAM-001", name="Camera", price=ONE_CENT_TOO_MUCH)
    product = ProductFactory(sku="LAP-001")
    with pytest.raises(InvalidRequest):
        services.product_update(sku="LAP-001", price=ONE_CENT_TOO_MUCH)
    product.price = ONE_CENT_TOO_MUCH
    with pytest.raises(ValidationError, match=r"at most 999999\.99"):
        product.validate_constraints()
    assert product_events() == []


def test_the_event_refuses_it_when_recorded_and_consumed():
    with pytest.raises(ValueError, match="price"):
        ProductChanged(sku="CAM-001", name="Camera", description="", price=ONE_CENT_TOO_MUCH, version=1)
