"""Every order the APIs let through fits the order service's columns (see apps.events.contracts)."""

import uuid
from decimal import Decimal

import pytest
from django.db import connections

from apps.events.contracts import MAX_LINES, MAX_PRICE, MAX_QUANTITY, OrderCreated, StockAvailable
from apps.events.models import OutboxEvent
from apps.orders.models import CatalogProduct, Order, OrderItem
from apps.orders.tests.factories import CatalogProductFactory, lines, place_order

pytestmark = pytest.mark.django_db(databases=["order"])

JOHN = "550e8400-e29b-41d4-a716-446655440000"


def largest_amount(model, name) -> Decimal:
    """The largest amount a DecimalField holds: 14 digits with 2 places -> 999,999,999,999.99."""
    field = model._meta.get_field(name)
    return Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(1).scaleb(-field.decimal_places)


def largest_integer(model, name) -> int:
    field = model._meta.get_field(name)
    return connections["order"].ops.integer_field_range(field.get_internal_type())[1]


def test_the_largest_order_the_bounds_allow_fits_every_column(settings):
    assert settings.CART_MAX_LINES <= MAX_LINES
    assert largest_amount(Order, "total_amount") >= MAX_LINES * MAX_QUANTITY * MAX_PRICE
    assert largest_amount(OrderItem, "price") >= MAX_PRICE
    assert largest_amount(CatalogProduct, "price") >= MAX_PRICE
    assert largest_integer(OrderItem, "quantity") >= MAX_QUANTITY


def test_the_largest_order_is_stored_and_announced():
    skus = [f"SKU-{n:03d}" for n in range(MAX_LINES)]
    CatalogProduct.objects.bulk_create(
        CatalogProduct(sku=sku, name=sku, price=MAX_PRICE, version=1, deleted=False) for sku in skus
    )

    order = place_order(items=lines(*((sku, MAX_QUANTITY) for sku in skus)))

    order.refresh_from_db()
    assert order.total_amount == MAX_LINES * MAX_QUANTITY * MAX_PRICE == Decimal("999999990000.00")
    assert order.items.count() == MAX_LINES
    [created] = OutboxEvent.objects.using("order").filter(event_type=OrderCreated.topic)
    assert created.payload["total_amount"] == "999999990000.00"


@pytest.mark.parametrize(
    "items",
    [
        [{"product_sku": f"SKU-{n:03d}", "quantity": 1} for n in range(MAX_LINES + 1)],
        [{"product_sku": "LAP-001", "quantity": MAX_QUANTITY + 1}],
    ],
    ids=["one-line-too-many", "one-unit-too-many"],
)
def test_stock_available_beyond_the_bounds_is_refused_by_the_contract(items):
    # The order step is never handed what the APIs refuse: the event itself is invalid.
    with pytest.raises(ValueError, match="items"):
        StockAvailable(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=items)


# --- POST /orders takes items directly: the same bounds as a cart -------------------------------------


@pytest.fixture
def api(service_client):
    return service_client("order", HTTP_X_CUSTOMER_ID=JOHN)


@pytest.fixture
def big_catalog(settings):
    skus = [f"SKU-{n:03d}" for n in range(settings.CART_MAX_LINES + 1)]
    for sku in skus:
        CatalogProductFactory(sku=sku, price=MAX_PRICE)
    return skus


def requested_events():
    return list(OutboxEvent.objects.using("order").filter(event_type="order-requested"))


def test_post_with_the_most_lines_and_units_is_accepted(api, big_catalog, settings):
    items = [{"product_sku": sku, "quantity": MAX_QUANTITY} for sku in big_catalog[: settings.CART_MAX_LINES]]

    response = api.post("/orders", {"items": items}, format="json")

    assert response.status_code == 202
    [event] = requested_events()
    assert len(event.payload["items"]) == settings.CART_MAX_LINES


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": 1}, "items"),
        ({"quantity": 1}, "quantity"),
    ],
    ids=["one-line-too-many", "one-unit-too-many"],
)
def test_post_one_past_a_bound_is_400_naming_it_and_writes_nothing(api, big_catalog, settings, change, field):
    count = settings.CART_MAX_LINES + change.get("lines", 0)
    quantity = MAX_QUANTITY + change.get("quantity", 0)
    items = [{"product_sku": sku, "quantity": quantity} for sku in big_catalog[:count]]

    response = api.post("/orders", {"items": items}, format="json")

    assert response.status_code == 400
    assert field in str(response.json())
    assert requested_events() == []
