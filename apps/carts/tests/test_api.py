import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from apps.carts.events import DATABASE
from apps.carts.handlers import on_order_created, on_stock_rejected
from apps.carts.models import Cart, CartItem
from apps.carts.services import MAX_LINE_QUANTITY
from apps.carts.tests.factories import CartFactory, CartItemFactory, CatalogProductFactory
from apps.events.contracts import OrderCreated, PricedLine, ShortfallLine, StockRejected
from apps.events.models import OutboxEvent
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["cart"])

CUSTOMER_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
OTHER_CUSTOMER_ID = uuid.UUID("550e8400-e29b-41d4-a716-446655440001")


@pytest.fixture
def catalog():
    return {
        "LAP-001": CatalogProductFactory(sku="LAP-001", name="Laptop", price=Decimal("999.99")),
        "PHN-001": CatalogProductFactory(sku="PHN-001", name="Smartphone", price=Decimal("699.99")),
        "HPH-001": CatalogProductFactory(sku="HPH-001", name="Headphones", price=Decimal("199.99")),
    }


@pytest.fixture
def api(service_client):
    return service_client("cart", HTTP_X_CUSTOMER_ID=str(CUSTOMER_ID))


@pytest.fixture
def other_api(service_client):
    return service_client("cart", HTTP_X_CUSTOMER_ID=str(OTHER_CUSTOMER_ID))


def add(api, sku, quantity=1):
    return api.post("/cart/items", {"product_sku": sku, "quantity": quantity}, format="json")


def convert(api):
    return api.post("/cart/convert-to-order")


def outbox():
    return list(OutboxEvent.objects.using("cart").order_by("id"))


def order_requested_events():
    return list(OutboxEvent.objects.using("cart").filter(event_type="order-requested").order_by("id"))


def items_of(cart_id):
    return {i.product_sku: i.quantity for i in CartItem.objects.filter(cart_id=cart_id)}


def reject_stock(cart_id, customer_id=CUSTOMER_ID):
    event = StockRejected(
        cart_id=cart_id,
        customer_id=customer_id,
        details=[ShortfallLine(product_sku="LAP-001", requested=2, available=1)],
    )
    on_stock_rejected(event, envelope_of(StockRejected))


def create_order(cart_id, customer_id=CUSTOMER_ID):
    event = OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=cart_id,
        customer_id=customer_id,
        total_amount=Decimal("999.99"),
        items=[PricedLine(product_sku="LAP-001", quantity=1, price=Decimal("999.99"))],
    )
    on_order_created(event, envelope_of(OrderCreated))


def snapshot():
    """Everything the cart service stores, to prove a failed request wrote nothing."""
    return (
        sorted(Cart.objects.values_list("id", "customer_id", "status", "cart_locked", "updated_at")),
        sorted(CartItem.objects.values_list("cart_id", "product_sku", "quantity")),
        sorted(OutboxEvent.objects.using("cart").values_list("event_id", flat=True)),
    )


# --- X-Customer-ID -------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/cart", None),
    ("post", "/cart/items", {"product_sku": "LAP-001", "quantity": 1}),
    ("delete", "/cart/items/LAP-001", None),
    ("post", "/cart/convert-to-order", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "not-a-uuid",
        "550e8400-e29b-41d4-a716-44665544000",  # one digit short
        "550e8400-e29b-41d4-a716-446655440000-1",
        "550e8400-e29b-41d4-a716-44665544000g",
        "1",
    ],
)
def test_missing_or_malformed_customer_header_is_400_json_and_writes_nothing(
    service_client, catalog, method, path, body, header
):
    # given a customer with a cart that would otherwise be affected
    cart = CartFactory(customer_id=CUSTOMER_ID)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=1)
    client = service_client("cart") if header is None else service_client("cart", HTTP_X_CUSTOMER_ID=header)
    before = snapshot()

    # when
    response = getattr(client, method)(path, body, format="json")

    # then
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "X-Customer-ID" in response.json()
    assert snapshot() == before


def test_customer_header_is_case_insensitive_and_trimmed(service_client, catalog):
    client = service_client("cart", HTTP_X_CUSTOMER_ID=f"  {str(CUSTOMER_ID).upper()} ")

    response = add(client, "LAP-001")

    assert response.status_code == 201
    assert response.json()["customer_id"] == str(CUSTOMER_ID)
    assert Cart.objects.get().customer_id == CUSTOMER_ID


# --- POST /cart/items ----------------------------------------------------------------------------


def test_first_add_creates_the_active_cart(api, catalog):
    response = add(api, "LAP-001", 2)

    assert response.status_code == 201
    body = response.json()
    cart = Cart.objects.get()
    assert body["id"] == str(cart.id)
    assert body["customer_id"] == str(CUSTOMER_ID)
    assert body["status"] == "active"
    assert body["cart_locked"] is False
    assert body["items"] == [{"product_sku": "LAP-001", "quantity": 2}]
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)
    assert cart.customer_id == CUSTOMER_ID
    assert cart.status == "active"
    assert cart.cart_locked is False
    assert items_of(cart.id) == {"LAP-001": 2}
    assert outbox() == [], "editing a cart publishes nothing"


def test_same_sku_again_adds_to_its_quantity(api, catalog):
    first = add(api, "LAP-001", 2)

    second = add(api, "LAP-001", 3)

    assert second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["items"] == [{"product_sku": "LAP-001", "quantity": 5}]
    assert Cart.objects.count() == 1
    assert CartItem.objects.count() == 1
    assert items_of(first.json()["id"]) == {"LAP-001": 5}


def test_different_skus_are_separate_lines_in_the_order_added(api, catalog):
    add(api, "PHN-001", 1)
    add(api, "LAP-001", 2)

    response = add(api, "HPH-001", 3)

    assert [i["product_sku"] for i in response.json()["items"]] == ["PHN-001", "LAP-001", "HPH-001"]
    assert Cart.objects.count() == 1


def test_customers_have_separate_carts(api, other_api, catalog):
    mine = add(api, "LAP-001", 1).json()
    theirs = add(other_api, "LAP-001", 4).json()

    assert mine["id"] != theirs["id"]
    assert items_of(mine["id"]) == {"LAP-001": 1}
    assert items_of(theirs["id"]) == {"LAP-001": 4}
    assert api.get("/cart").json()["items"] == [{"product_sku": "LAP-001", "quantity": 1}]


@pytest.mark.parametrize("sku", ["NOPE-001", "lap-001"])
def test_unknown_sku_is_404_and_creates_no_cart(api, catalog, sku):
    response = add(api, sku)

    assert response.status_code == 404
    assert "product_sku" in response.json()
    assert not Cart.objects.exists()
    assert outbox() == []


def test_deleted_product_is_unknown(api, catalog):
    CatalogProductFactory(sku="OLD-001", deleted=True, version=2)

    response = add(api, "OLD-001")

    assert response.status_code == 404
    assert not Cart.objects.exists()


def test_unknown_sku_leaves_an_existing_cart_untouched(api, catalog):
    add(api, "LAP-001", 1)
    before = snapshot()

    response = add(api, "NOPE-001")

    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    "quantity",
    [0, -1, -100, 1.5, 2.0, "2", "two", "", None, True, [1], {"n": 1}, MAX_LINE_QUANTITY + 1, 10**30],
)
def test_invalid_quantity_is_400_and_writes_nothing(api, catalog, quantity):
    response = add(api, "LAP-001", quantity)

    assert response.status_code == 400
    assert "quantity" in response.json()
    assert not Cart.objects.exists()
    assert outbox() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"quantity": 1},
        {"product_sku": "LAP-001"},
        {},
        {"product_sku": "", "quantity": 1},
        {"product_sku": None, "quantity": 1},
        {"product_sku": "LAP 001", "quantity": 1},
        {"product_sku": "LAP-001\x00", "quantity": 1},
        {"product_sku": "X" * 65, "quantity": 1},
        {"product_sku": ["LAP-001"], "quantity": 1},
        {"product_sku": {"sku": "LAP-001"}, "quantity": 1},
    ],
)
def test_invalid_item_is_400_and_writes_nothing(api, catalog, payload):
    response = api.post("/cart/items", payload, format="json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert not Cart.objects.exists()


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "true", "{not json", "", '{"product_sku": '])
def test_malformed_or_non_object_json_is_400_and_writes_nothing(api, catalog, body):
    response = api.generic("POST", "/cart/items", body, content_type="application/json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert not Cart.objects.exists()


def test_non_json_body_is_rejected_as_a_4xx(api, catalog):
    form = "product_sku=LAP-001&quantity=1"

    response = api.post("/cart/items", form, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert "detail" in response.json()
    assert not Cart.objects.exists()


def test_line_quantity_is_capped_across_adds_and_the_refused_add_writes_nothing(api, catalog):
    add(api, "LAP-001", MAX_LINE_QUANTITY - 1)
    before = snapshot()

    refused = add(api, "LAP-001", 2)

    assert refused.status_code == 400
    assert "quantity" in refused.json()
    assert snapshot() == before
    accepted = add(api, "LAP-001", 1)
    assert accepted.status_code == 201
    assert accepted.json()["items"] == [{"product_sku": "LAP-001", "quantity": MAX_LINE_QUANTITY}]


def test_trailing_slashes_are_accepted(api, catalog):
    assert api.post("/cart/items/", {"product_sku": "LAP-001", "quantity": 1}, format="json").status_code == 201
    assert api.get("/cart/").status_code == 200
    assert api.delete("/cart/items/LAP-001/").status_code == 200
    add(api, "LAP-001")
    assert api.post("/cart/convert-to-order/").status_code == 202


# --- DELETE /cart/items/{sku} --------------------------------------------------------------------


def test_delete_removes_only_that_line(api, catalog):
    add(api, "LAP-001", 2)
    add(api, "PHN-001", 1)

    response = api.delete("/cart/items/LAP-001")

    assert response.status_code == 200
    assert response.json()["items"] == [{"product_sku": "PHN-001", "quantity": 1}]
    assert items_of(response.json()["id"]) == {"PHN-001": 1}


def test_delete_the_last_line_keeps_an_empty_active_cart(api, catalog):
    cart_id = add(api, "LAP-001", 2).json()["id"]

    response = api.delete("/cart/items/LAP-001")

    assert response.status_code == 200
    assert response.json()["items"] == []
    assert api.get("/cart").json()["id"] == cart_id


def test_delete_sku_not_in_the_cart_is_404_and_writes_nothing(api, catalog):
    add(api, "LAP-001", 2)
    before = snapshot()

    response = api.delete("/cart/items/PHN-001")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert snapshot() == before


def test_delete_without_a_cart_is_404_and_creates_none(api, catalog):
    response = api.delete("/cart/items/LAP-001")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert not Cart.objects.exists()


def test_delete_does_not_reach_another_customers_cart(api, other_api, catalog):
    add(other_api, "LAP-001", 2)

    response = api.delete("/cart/items/LAP-001")

    assert response.status_code == 404
    assert other_api.get("/cart").json()["items"] == [{"product_sku": "LAP-001", "quantity": 2}]


@pytest.mark.parametrize("path_sku", ["A%00B", "%00", "X" * 300, "has%20space", "%C3%A9t%C3%A9", "..", "-LAP"])
def test_delete_with_a_malformed_sku_in_the_path_is_404_json(api, catalog, path_sku):
    add(api, "LAP-001", 1)
    before = snapshot()

    response = api.delete(f"/cart/items/{path_sku}")

    assert response.status_code == 404
    assert isinstance(response.json(), dict)
    assert snapshot() == before


# --- GET /cart -----------------------------------------------------------------------------------


def test_get_without_any_cart_is_an_empty_cart_with_null_id(api):
    response = api.get("/cart")

    assert response.status_code == 200
    assert response.json() == {
        "id": None,
        "customer_id": str(CUSTOMER_ID),
        "status": "active",
        "cart_locked": False,
        "items": [],
    }
    assert not Cart.objects.exists(), "reading never creates a cart"


def test_get_returns_the_unlocked_cart_with_its_items(api, catalog):
    cart_id = add(api, "LAP-001", 2).json()["id"]
    add(api, "PHN-001", 1)

    body = api.get("/cart").json()

    assert body["id"] == cart_id
    assert body["customer_id"] == str(CUSTOMER_ID)
    assert body["status"] == "active"
    assert body["cart_locked"] is False
    assert body["items"] == [{"product_sku": "LAP-001", "quantity": 2}, {"product_sku": "PHN-001", "quantity": 1}]


def test_get_returns_the_processing_cart_when_there_is_no_unlocked_one(api):
    CartFactory(customer_id=CUSTOMER_ID, ordered=True)
    processing = CartFactory(customer_id=CUSTOMER_ID, processing=True)
    CartItemFactory(cart=processing, product_sku="LAP-001", quantity=3)

    body = api.get("/cart").json()

    assert body["id"] == str(processing.id)
    assert body["status"] == "processing"
    assert body["cart_locked"] is True
    assert body["items"] == [{"product_sku": "LAP-001", "quantity": 3}]


def test_get_prefers_the_unlocked_cart_over_older_ordered_ones(api):
    CartFactory(customer_id=CUSTOMER_ID, ordered=True)
    active = CartFactory(customer_id=CUSTOMER_ID)
    CartFactory(customer_id=CUSTOMER_ID, ordered=True)

    assert api.get("/cart").json()["id"] == str(active.id)


def test_get_returns_a_stock_unavailable_cart(api):
    cart = CartFactory(customer_id=CUSTOMER_ID, stock_unavailable=True)
    CartItemFactory(cart=cart, product_sku="LAP-001", quantity=2)

    body = api.get("/cart").json()

    assert body["id"] == str(cart.id)
    assert body["status"] == "stock-unavailable"
    assert body["cart_locked"] is False


def test_get_with_only_ordered_carts_is_an_empty_cart(api):
    ordered = CartFactory(customer_id=CUSTOMER_ID, ordered=True)
    CartItemFactory(cart=ordered, product_sku="LAP-001")

    body = api.get("/cart").json()

    assert body["id"] is None
    assert body["items"] == []
    assert body["cart_locked"] is False


def test_get_never_shows_another_customers_cart(api):
    CartItemFactory(cart=CartFactory(customer_id=OTHER_CUSTOMER_ID), product_sku="LAP-001")

    assert api.get("/cart").json()["id"] is None


# --- POST /cart/convert-to-order -----------------------------------------------------------------


def test_convert_locks_the_cart_and_records_exactly_one_order_requested(api, catalog):
    # given
    cart_id = add(api, "LAP-001", 2).json()["id"]
    add(api, "PHN-001", 1)

    # when
    response = convert(api)

    # then the answer
    assert response.status_code == 202
    body = response.json()
    assert body["cart_id"] == cart_id
    assert body["id"] == cart_id
    assert body["cart_locked"] is True
    assert body["status"] == "processing"
    assert body["items"] == [{"product_sku": "LAP-001", "quantity": 2}, {"product_sku": "PHN-001", "quantity": 1}]
    # and the stored cart
    cart = Cart.objects.get(pk=cart_id)
    assert cart.cart_locked is True
    assert cart.status == "processing"
    assert cart.converted_at is not None
    # and the outbox
    [event] = outbox()
    assert event.event_type == "order-requested"
    assert event.topic == "order-requested"
    assert event.payload == {
        "cart_id": cart_id,
        "customer_id": str(CUSTOMER_ID),
        "items": [{"product_sku": "LAP-001", "quantity": 2}, {"product_sku": "PHN-001", "quantity": 1}],
        "attempt": 1,
    }
    assert event.ordering_key == cart_id
    assert str(event.correlation_id) == cart_id
    assert event.schema_version == 1
    assert event.published_at is None


def test_get_after_convert_shows_the_processing_cart(api, catalog):
    cart_id = add(api, "LAP-001", 1).json()["id"]
    convert(api)

    body = api.get("/cart").json()

    assert body["id"] == cart_id
    assert body["status"] == "processing"
    assert body["cart_locked"] is True


def test_convert_without_a_cart_is_400_and_writes_nothing(api):
    response = convert(api)

    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Cart.objects.exists()
    assert outbox() == []


def test_convert_an_emptied_cart_is_400_and_leaves_it_active(api, catalog):
    cart_id = add(api, "LAP-001", 1).json()["id"]
    api.delete("/cart/items/LAP-001")
    before = snapshot()

    response = convert(api)

    assert response.status_code == 400
    assert snapshot() == before
    cart = Cart.objects.get(pk=cart_id)
    assert (cart.status, cart.cart_locked) == ("active", False)


def test_convert_with_only_an_ordered_cart_is_400(api):
    ordered = CartFactory(customer_id=CUSTOMER_ID, ordered=True)
    CartItemFactory(cart=ordered, product_sku="LAP-001")

    response = convert(api)

    assert response.status_code == 400
    assert outbox() == []
    assert Cart.objects.count() == 1


def test_convert_again_while_processing_is_409_and_writes_nothing(api, catalog):
    add(api, "LAP-001", 1)
    convert(api)
    before = snapshot()

    response = convert(api)

    assert response.status_code == 409
    assert "detail" in response.json()
    assert snapshot() == before
    assert len(order_requested_events()) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda api: add(api, "PHN-001", 1),
        lambda api: add(api, "LAP-001", 1),
        lambda api: api.delete("/cart/items/LAP-001"),
    ],
    ids=["add-new-sku", "add-same-sku", "delete"],
)
def test_changing_items_while_processing_is_409_and_writes_nothing(api, catalog, change):
    cart_id = add(api, "LAP-001", 1).json()["id"]
    convert(api)
    before = snapshot()

    response = change(api)

    assert response.status_code == 409
    assert "detail" in response.json()
    assert snapshot() == before
    assert items_of(cart_id) == {"LAP-001": 1}
    assert Cart.objects.count() == 1, "no second cart while one is processing"


def test_converting_one_customers_cart_leaves_others_editable(api, other_api, catalog):
    add(api, "LAP-001", 1)
    add(other_api, "PHN-001", 1)
    convert(api)

    assert add(other_api, "PHN-001", 1).status_code == 201
    assert other_api.get("/cart").json()["status"] == "active"
    [event] = outbox()
    assert event.payload["customer_id"] == str(CUSTOMER_ID)


# --- The saga's outcomes, as the customer sees them ----------------------------------------------


def test_after_stock_rejected_the_cart_is_editable_and_convertible_again(api, catalog):
    # given a converted cart whose stock was rejected
    cart_id = add(api, "LAP-001", 2).json()["id"]
    convert(api)
    reject_stock(uuid.UUID(cart_id))

    # then it is the customer's cart again, unlocked
    body = api.get("/cart").json()
    assert body["id"] == cart_id
    assert body["status"] == "stock-unavailable"
    assert body["cart_locked"] is False
    assert body["items"] == [{"product_sku": "LAP-001", "quantity": 2}]

    # when the customer edits it
    assert api.delete("/cart/items/LAP-001").status_code == 200
    edited = add(api, "PHN-001", 1)
    assert edited.status_code == 201
    assert edited.json()["id"] == cart_id, "the same cart, not a new one"
    assert edited.json()["status"] == "active"

    # and converts it again
    response = convert(api)

    # then a second order-requested, for the same cart with its new items
    assert response.status_code == 202
    assert response.json()["cart_id"] == cart_id
    assert Cart.objects.count() == 1
    first, second = order_requested_events()
    assert first.event_id != second.event_id
    assert first.payload["items"] == [{"product_sku": "LAP-001", "quantity": 2}]
    assert second.payload == {
        "cart_id": cart_id,
        "customer_id": str(CUSTOMER_ID),
        "items": [{"product_sku": "PHN-001", "quantity": 1}],
        "attempt": 2,
    }


def test_a_stock_unavailable_cart_can_be_converted_again_unchanged(api, catalog):
    cart_id = add(api, "LAP-001", 2).json()["id"]
    convert(api)
    reject_stock(uuid.UUID(cart_id))

    response = convert(api)

    assert response.status_code == 202
    assert response.json()["status"] == "processing"
    assert [e.payload["cart_id"] for e in order_requested_events()] == [cart_id, cart_id]


def test_after_order_created_the_next_added_item_starts_a_new_cart(api, catalog):
    # given an ordered cart
    old_id = add(api, "LAP-001", 2).json()["id"]
    convert(api)
    create_order(uuid.UUID(old_id))
    assert api.get("/cart").json()["id"] is None

    # when
    response = add(api, "PHN-001", 1)

    # then
    assert response.status_code == 201
    new_id = response.json()["id"]
    assert new_id != old_id
    assert response.json()["status"] == "active"
    assert response.json()["items"] == [{"product_sku": "PHN-001", "quantity": 1}]
    old = Cart.objects.get(pk=old_id)
    assert (old.status, old.cart_locked) == ("ordered", True)
    assert items_of(old_id) == {"LAP-001": 2}, "the ordered cart is final"
    assert api.get("/cart").json()["id"] == new_id


def test_an_ordered_cart_cannot_be_changed_through_the_api(api, catalog):
    old_id = add(api, "LAP-001", 2).json()["id"]
    convert(api)
    create_order(uuid.UUID(old_id))

    assert api.delete("/cart/items/LAP-001").status_code == 404
    assert convert(api).status_code == 400
    assert items_of(old_id) == {"LAP-001": 2}
    assert len(order_requested_events()) == 1


def test_the_new_cart_after_an_order_converts_with_its_own_id(api, catalog):
    old_id = add(api, "LAP-001", 1).json()["id"]
    convert(api)
    create_order(uuid.UUID(old_id))
    new_id = add(api, "HPH-001", 3).json()["id"]

    response = convert(api)

    assert response.status_code == 202
    assert response.json()["cart_id"] == new_id
    assert [e.payload["cart_id"] for e in order_requested_events()] == [old_id, new_id]
    assert order_requested_events()[1].payload["items"] == [{"product_sku": "HPH-001", "quantity": 3}]


# --- Everything else answers JSON ----------------------------------------------------------------


def test_unknown_path_is_404_json(api):
    response = api.get("/cart/nope")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    ("method", "path"),
    [("put", "/cart"), ("post", "/cart"), ("get", "/cart/convert-to-order"), ("get", "/cart/items/LAP-001")],
)
def test_wrong_method_is_405_json(api, method, path):
    response = getattr(api, method)(path)

    assert response.status_code == 405
    assert "detail" in response.json()


def test_health(api):
    response = api.get("/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["service"] == "cart-service"


def test_openapi_schema_describes_the_cart_routes(api):
    response = api.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = {path.rstrip("/") for path in response.json()["paths"]}  # routes take both forms
    assert {"/cart", "/cart/items", "/cart/items/{product_sku}", "/cart/convert-to-order"} <= paths


def test_adding_and_converting_take_a_handful_of_queries(api, catalog, django_assert_num_queries):
    """The write path is the platform's busiest: nothing written is read back, nothing is read twice."""
    # the product check, no cart found, a new one inserted, the line upserted, the answer's lines
    with django_assert_num_queries(7, using=DATABASE):
        add(api, "LAP-001", 1)

    # the product check, the cart locked, the line upserted, the cart touched, the answer's lines
    # (plus the transaction's savepoint and release)
    with django_assert_num_queries(7, using=DATABASE):
        assert add(api, "LAP-001", 1).json()["items"] == [{"product_sku": "LAP-001", "quantity": 2}]
    # the cart locked, its lines (for the event and the answer), the cart updated, the outbox row
    with django_assert_num_queries(6, using=DATABASE):
        assert convert(api).json()["items"] == [{"product_sku": "LAP-001", "quantity": 2}]
