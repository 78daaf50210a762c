"""The order service's REST API (port 3000), through its own URL conf only."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from apps.events.contracts import OrderCancelled, OrderRequested
from apps.events.models import OutboxEvent
from apps.orders import services
from apps.orders.enums import ALLOWED_TRANSITIONS, OrderStatus
from apps.orders.handlers import on_stock_available
from apps.orders.models import Order, OrderStatusChange
from apps.orders.tests.factories import (
    CatalogProductFactory,
    OrderFactory,
    OrderItemFactory,
    StockAvailableFactory,
    lines,
    place_order,
)
from testsupport.events import envelope_of

pytestmark = pytest.mark.django_db(databases=["order"])

JOHN = "550e8400-e29b-41d4-a716-446655440000"
JANE = "550e8400-e29b-41d4-a716-446655440001"

# The statuses an order can be in, each with the legal path that gets it there.
PATH_TO = {
    OrderStatus.CONFIRMED: [],
    OrderStatus.SHIPPED: [OrderStatus.SHIPPED],
    OrderStatus.DELIVERED: [OrderStatus.SHIPPED, OrderStatus.DELIVERED],
    OrderStatus.CANCELLED: [OrderStatus.CANCELLED],
}
LEGAL = {(old, new) for old, news in ALLOWED_TRANSITIONS.items() for new in news}
ILLEGAL = sorted((old, new) for old in OrderStatus.values for new in OrderStatus.values if (old, new) not in LEGAL)


@pytest.fixture
def api(service_client):
    return service_client("order")


@pytest.fixture
def catalog():
    CatalogProductFactory(sku="LAP-001", name="Laptop", price=Decimal("999.99"))
    CatalogProductFactory(sku="PHN-001", name="Smartphone", price=Decimal("699.99"))
    CatalogProductFactory(sku="HPH-001", name="Headphones", price=Decimal("199.99"))


@pytest.fixture
def order(catalog):
    """John's confirmed order for 1 laptop and 2 smartphones, made by the stock reservation."""
    return place_order(customer_id=uuid.UUID(JOHN), items=lines(("LAP-001", 1), ("PHN-001", 2)))


def order_in(status, **fields):
    """An order brought to ``status`` along the legal path, as staff would move it."""
    order = place_order(items=lines(("LAP-001", 1)), **fields)
    for step in PATH_TO[status]:
        services.order_change_status(order_id=order.id, status=step)
    order.refresh_from_db()
    return order


def outbox(event_type=None):
    events = OutboxEvent.objects.using("order").order_by("id")
    if event_type:
        events = events.filter(event_type=event_type)
    return list(events)


def snapshot(order):
    """Everything a refused write must leave as it was."""
    order.refresh_from_db()
    return (
        order.status,
        order.cancel_reason,
        order.updated_at,
        list(order.history.values_list("id", flat=True)),
        [e.id for e in outbox()],
    )


def with_created_at(order, minutes_ago):
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return order


# --- Service basics --------------------------------------------------------------------------------


def test_health_names_the_order_service(api):
    response = api.get("/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["service"] == "order-service"


def test_unknown_paths_are_json_404s_and_other_services_routes_are_not_served(api):
    for path in ("/nope", "/products", "/cart"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}


# --- GET /orders -------------------------------------------------------------------------------------


def test_list_shows_orders_with_items_and_money_as_strings(api, order):
    response = api.get("/orders")

    assert response.status_code == 200
    [listed] = response.json()["results"]
    assert listed["id"] == str(order.id)
    assert listed["customer_id"] == JOHN
    assert listed["cart_id"] == str(order.cart_id)
    assert listed["status"] == "confirmed"
    assert listed["total_amount"] == "2399.97"
    assert listed["items"] == [
        {"product_sku": "LAP-001", "quantity": 1, "price": "999.99"},
        {"product_sku": "PHN-001", "quantity": 2, "price": "699.99"},
    ]
    assert {"created_at", "updated_at"} <= listed.keys()
    assert listed["created_at"].endswith("Z")


def test_list_is_cursor_paginated_newest_first(api):
    # given
    oldest = with_created_at(OrderFactory(), minutes_ago=30)
    newest = with_created_at(OrderFactory(), minutes_ago=10)
    middle = with_created_at(OrderFactory(), minutes_ago=20)

    # when
    first = api.get("/orders?limit=2")

    # then
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"next", "previous", "results"}  # no COUNT over a growing table
    assert [o["id"] for o in body["results"]] == [str(newest.id), str(middle.id)]
    assert body["previous"] is None
    assert body["next"] is not None

    second = api.get(body["next"]).json()
    assert [o["id"] for o in second["results"]] == [str(oldest.id)]
    assert second["next"] is None


def test_list_is_bounded(api):
    # given: more orders than the largest page
    Order.objects.bulk_create(
        Order(customer_id=uuid.uuid4(), cart_id=uuid.uuid4(), total_amount=Decimal("1.00")) for _ in range(501)
    )

    # then
    default_page = api.get("/orders").json()
    assert len(default_page["results"]) == 50
    largest_page = api.get("/orders?limit=100000").json()
    assert len(largest_page["results"]) == 500
    assert largest_page["next"] is not None


@pytest.mark.parametrize("limit", ["abc", "0", "-1"])
def test_a_nonsense_page_size_falls_back_to_the_default(api, limit):
    OrderFactory.create_batch(2)

    response = api.get(f"/orders?limit={limit}")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_a_forged_cursor_is_bad_input(api):
    OrderFactory()

    response = api.get("/orders?cursor=garbage")

    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_list_filters_by_customer_cart_and_status(api):
    # given
    johns = OrderFactory(customer_id=JOHN)
    johns_shipped = OrderFactory(customer_id=JOHN, status=OrderStatus.SHIPPED)
    janes = OrderFactory(customer_id=JANE)

    def ids(query):
        response = api.get(f"/orders?{query}")
        assert response.status_code == 200
        return {o["id"] for o in response.json()["results"]}

    # then
    assert ids(f"customer_id={JOHN}") == {str(johns.id), str(johns_shipped.id)}
    assert ids(f"cart_id={janes.cart_id}") == {str(janes.id)}
    assert ids("status=shipped") == {str(johns_shipped.id)}
    assert ids(f"customer_id={JANE}&status=shipped") == set()
    assert ids(f"customer_id={JOHN}&status=confirmed") == {str(johns.id)}
    assert ids(f"cart_id={uuid.uuid4()}") == set()


@pytest.mark.parametrize(
    "query",
    ["customer_id=not-a-uuid", "cart_id=123", "status=returned", "status=CONFIRMED", "customer_id=%00"],
)
def test_list_refuses_bad_filter_values(api, query):
    OrderFactory()

    response = api.get(f"/orders?{query}")

    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_list_with_the_customer_header_shows_only_that_customers_orders(api):
    # given
    johns = OrderFactory(customer_id=JOHN)
    janes = OrderFactory(customer_id=JANE)

    # when
    response = api.get("/orders", HTTP_X_CUSTOMER_ID=JOHN)
    asking_for_janes = api.get(f"/orders?customer_id={JANE}", HTTP_X_CUSTOMER_ID=JOHN)
    by_janes_cart = api.get(f"/orders?cart_id={janes.cart_id}", HTTP_X_CUSTOMER_ID=JOHN)

    # then
    assert [o["id"] for o in response.json()["results"]] == [str(johns.id)]
    assert asking_for_janes.json()["results"] == []
    assert by_janes_cart.json()["results"] == []


@pytest.mark.parametrize("header", ["not-a-uuid", "", "550e8400"])
def test_a_malformed_customer_header_is_400(api, header):
    order = OrderFactory(customer_id=JOHN)

    for method, path in (("get", "/orders"), ("get", f"/orders/{order.id}")):
        response = getattr(api, method)(path, HTTP_X_CUSTOMER_ID=header)
        assert response.status_code == 400, (path, response.content)
        assert "X-Customer-ID" in response.json()


# --- GET /orders/{id} --------------------------------------------------------------------------------


def test_retrieve_shows_items_and_history(api, order):
    response = api.get(f"/orders/{order.id}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(order.id)
    assert body["status"] == "confirmed"
    assert body["total_amount"] == "2399.97"
    assert [(i["product_sku"], i["quantity"], i["price"]) for i in body["items"]] == [
        ("LAP-001", 1, "999.99"),
        ("PHN-001", 2, "699.99"),
    ]
    [created] = body["history"]
    assert created["from_status"] == ""
    assert created["to_status"] == "confirmed"
    assert created["changed_at"]


def test_retrieve_accepts_a_trailing_slash_and_upper_case_ids(api, order):
    assert api.get(f"/orders/{order.id}/").status_code == 200
    assert api.get(f"/orders/{str(order.id).upper()}").json()["id"] == str(order.id)


def test_retrieve_unknown_is_a_json_404(api):
    response = api.get(f"/orders/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "LAP-001", "550e8400-e29b-41d4-a716-44665544000g"])
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_malformed_id_in_the_path_is_a_json_404(api, order, method, bad_id):
    response = getattr(api, method)(f"/orders/{bad_id}", {"status": "shipped"}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert snapshot(order)[0] == OrderStatus.CONFIRMED


def test_retrieve_with_the_customer_header(api, order):
    own = api.get(f"/orders/{order.id}", HTTP_X_CUSTOMER_ID=JOHN)
    other = api.get(f"/orders/{order.id}", HTTP_X_CUSTOMER_ID=JANE)

    assert own.status_code == 200
    assert other.status_code == 404
    assert "detail" in other.json()


# --- PUT /orders/{id} ----------------------------------------------------------------------------------


def test_confirmed_to_shipped_to_delivered(api, order):
    # when
    shipped = api.put(f"/orders/{order.id}", {"status": "shipped"}, format="json")
    delivered = api.put(f"/orders/{order.id}", {"status": "delivered"}, format="json")

    # then
    assert shipped.status_code == 200
    assert shipped.json()["status"] == "shipped"
    assert delivered.status_code == 200
    assert delivered.json()["status"] == "delivered"
    body = api.get(f"/orders/{order.id}").json()
    assert body["status"] == "delivered"
    assert [(h["from_status"], h["to_status"]) for h in body["history"]] == [
        ("", "confirmed"),
        ("confirmed", "shipped"),
        ("shipped", "delivered"),
    ]
    assert [e.event_type for e in outbox()] == ["order.created"]


@pytest.mark.parametrize(("current", "target"), ILLEGAL, ids=[f"{old}->{new}" for old, new in ILLEGAL])
def test_every_other_transition_is_409_and_writes_nothing(api, catalog, current, target):
    # given
    order = order_in(current)
    before = snapshot(order)

    # when
    response = api.put(f"/orders/{order.id}", {"status": target}, format="json")

    # then
    assert response.status_code == 409
    assert "status" in response.json()
    assert snapshot(order) == before


def test_the_illegal_list_covers_every_pair_but_the_three_legal_moves():
    assert len(ILLEGAL) == 16 - 3
    assert {("confirmed", "shipped"), ("shipped", "delivered"), ("confirmed", "cancelled")} == LEGAL


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "returned"},
        {"status": "CONFIRMED"},
        {"status": ""},
        {"status": None},
        {"status": ["shipped"]},
        {},
        {"reason": "no status"},
        {"status": "cancelled", "reason": "r" * 501},
    ],
)
def test_an_unknown_or_missing_status_is_400_and_writes_nothing(api, order, payload):
    before = snapshot(order)

    response = api.put(f"/orders/{order.id}", payload, format="json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert snapshot(order) == before


@pytest.mark.parametrize("body", ["[1, 2]", '"shipped"', "42", "null", "{not json"])
def test_put_with_malformed_or_non_object_json_is_400(api, order, body):
    before = snapshot(order)

    response = api.generic("PUT", f"/orders/{order.id}", body, content_type="application/json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert snapshot(order) == before


def test_put_unknown_order_is_404(api):
    response = api.put(f"/orders/{uuid.uuid4()}", {"status": "shipped"}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert outbox() == []


def test_put_another_customers_order_is_404_and_writes_nothing(api, order):
    before = snapshot(order)

    response = api.put(f"/orders/{order.id}", {"status": "cancelled"}, format="json", HTTP_X_CUSTOMER_ID=JANE)

    assert response.status_code == 404
    assert snapshot(order) == before
    own = api.put(f"/orders/{order.id}", {"status": "shipped"}, format="json", HTTP_X_CUSTOMER_ID=JOHN)
    assert own.status_code == 200


# --- Cancelling: PUT status cancelled, or DELETE ----------------------------------------------------


def cancel(api, order, how, **headers):
    if how == "put":
        return api.put(f"/orders/{order.id}", {"status": "cancelled"}, format="json", **headers)
    return api.delete(f"/orders/{order.id}", **headers)


@pytest.mark.parametrize("how", ["put", "delete"])
def test_cancelling_keeps_the_order_readable_and_records_one_order_cancelled(api, order, how):
    # when
    response = cancel(api, order, how)

    # then
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    readable = api.get(f"/orders/{order.id}")
    assert readable.status_code == 200
    assert readable.json()["status"] == "cancelled"
    assert readable.json()["history"][-1]["to_status"] == "cancelled"
    assert Order.objects.filter(id=order.id, status=OrderStatus.CANCELLED).exists()
    assert {o["id"] for o in api.get("/orders?status=cancelled").json()["results"]} == {str(order.id)}
    [cancelled] = outbox("order.cancelled")
    assert cancelled.payload == {
        "order_id": str(order.id),
        "cart_id": str(order.cart_id),
        "customer_id": JOHN,
        "reason": "cancelled",
        "items": [{"product_sku": "LAP-001", "quantity": 1}, {"product_sku": "PHN-001", "quantity": 2}],
    }
    OrderCancelled.model_validate(cancelled.payload)
    assert cancelled.published_at is None


def test_cancelling_with_put_keeps_the_reason_given(api, order):
    response = api.put(f"/orders/{order.id}", {"status": "cancelled", "reason": "found it cheaper"}, format="json")

    assert response.json()["cancel_reason"] == "found it cheaper"
    [cancelled] = outbox("order.cancelled")
    assert cancelled.payload["reason"] == "found it cheaper"


@pytest.mark.parametrize("first", ["put", "delete"])
@pytest.mark.parametrize("second", ["put", "delete"])
def test_cancelling_twice_is_409_with_still_one_event(api, order, first, second):
    assert cancel(api, order, first).status_code == 200
    before = snapshot(order)

    response = cancel(api, order, second)

    assert response.status_code == 409
    assert snapshot(order) == before
    assert len(outbox("order.cancelled")) == 1


@pytest.mark.parametrize("status", [OrderStatus.SHIPPED, OrderStatus.DELIVERED])
def test_delete_after_shipping_is_409_and_publishes_nothing(api, catalog, status):
    order = order_in(status)
    before = snapshot(order)

    response = api.delete(f"/orders/{order.id}")

    assert response.status_code == 409
    assert snapshot(order) == before
    assert outbox("order.cancelled") == []


def test_delete_unknown_is_404(api):
    response = api.delete(f"/orders/{uuid.uuid4()}")

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("how", ["put", "delete"])
def test_another_customer_cannot_cancel(api, order, how):
    before = snapshot(order)

    response = cancel(api, order, how, HTTP_X_CUSTOMER_ID=JANE)

    assert response.status_code == 404
    assert snapshot(order) == before
    assert cancel(api, order, how, HTTP_X_CUSTOMER_ID=JOHN).status_code == 200


# --- POST /orders: a request, answered by the stock reservation ---------------------------------


def test_post_answers_202_with_a_cart_id_and_records_order_requested_only(api, catalog):
    # when
    response = api.post(
        "/orders",
        {"items": [{"product_sku": "LAP-001", "quantity": 2}, {"product_sku": "HPH-001", "quantity": 1}]},
        format="json",
        HTTP_X_CUSTOMER_ID=JOHN,
    )

    # then
    assert response.status_code == 202
    body = response.json()
    cart_id = uuid.UUID(body["cart_id"])
    assert body["customer_id"] == JOHN
    assert body["status"] == "processing"
    assert not Order.objects.exists()
    [requested] = outbox()
    assert requested.event_type == OrderRequested.topic == "order-requested"
    assert requested.payload == {
        "cart_id": str(cart_id),
        "customer_id": JOHN,
        "items": [{"product_sku": "LAP-001", "quantity": 2}, {"product_sku": "HPH-001", "quantity": 1}],
    }
    assert requested.correlation_id == cart_id
    assert requested.published_at is None


def test_post_takes_the_customer_from_the_body_without_the_header(api, catalog):
    response = api.post(
        "/orders", {"customer_id": JANE, "items": [{"product_sku": "LAP-001", "quantity": 1}]}, format="json"
    )

    assert response.status_code == 202
    assert response.json()["customer_id"] == JANE
    [requested] = outbox("order-requested")
    assert requested.payload["customer_id"] == JANE


def test_post_prefers_the_callers_header_to_a_customer_id_in_the_body(api, catalog):
    response = api.post(
        "/orders",
        {"customer_id": JANE, "items": [{"product_sku": "LAP-001", "quantity": 1}]},
        format="json",
        HTTP_X_CUSTOMER_ID=JOHN,
    )

    assert response.status_code == 202
    [requested] = outbox("order-requested")
    assert requested.payload["customer_id"] == JOHN


def test_each_post_is_a_separate_request(api, catalog):
    payload = {"items": [{"product_sku": "LAP-001", "quantity": 1}]}

    first = api.post("/orders", payload, format="json", HTTP_X_CUSTOMER_ID=JOHN).json()
    second = api.post("/orders", payload, format="json", HTTP_X_CUSTOMER_ID=JOHN).json()

    assert first["cart_id"] != second["cart_id"]
    assert len(outbox("order-requested")) == 2


def test_a_posted_request_becomes_an_order_once_stock_is_reserved(api, catalog):
    # given
    response = api.post(
        "/orders", {"items": [{"product_sku": "PHN-001", "quantity": 2}]}, format="json", HTTP_X_CUSTOMER_ID=JOHN
    )
    cart_id = response.json()["cart_id"]

    # when: inventory reserves the stock and answers with stock-available
    event = StockAvailableFactory(cart_id=cart_id, customer_id=JOHN, items=lines(("PHN-001", 2)))
    with transaction.atomic(using="order"):
        on_stock_available(event, envelope_of(event))

    # then
    [found] = api.get(f"/orders?cart_id={cart_id}", HTTP_X_CUSTOMER_ID=JOHN).json()["results"]
    assert found["status"] == "confirmed"
    assert found["total_amount"] == "1399.98"


@pytest.mark.parametrize("deleted", [False, True], ids=["never-seen", "deleted"])
def test_post_with_an_unknown_sku_is_404_and_writes_nothing(api, catalog, deleted):
    if deleted:
        CatalogProductFactory(sku="OLD-001", deleted=True)

    response = api.post(
        "/orders",
        {"items": [{"product_sku": "LAP-001", "quantity": 1}, {"product_sku": "OLD-001", "quantity": 1}]},
        format="json",
        HTTP_X_CUSTOMER_ID=JOHN,
    )

    assert response.status_code == 404
    assert "OLD-001" in str(response.json())
    assert outbox() == []


@pytest.mark.parametrize(
    "payload",
    [
        {"items": []},
        {},
        {"items": None},
        {"items": "LAP-001"},
        {"items": {"product_sku": "LAP-001", "quantity": 1}},
        {"items": [{"product_sku": "LAP-001", "quantity": 1}, {"product_sku": "LAP-001", "quantity": 2}]},
        {"items": [{"product_sku": "LAP-001", "quantity": 0}]},
        {"items": [{"product_sku": "LAP-001", "quantity": -1}]},
        {"items": [{"product_sku": "LAP-001", "quantity": 1.5}]},
        {"items": [{"product_sku": "LAP-001", "quantity": "many"}]},
        {"items": [{"product_sku": "LAP-001", "quantity": None}]},
        {"items": [{"product_sku": "LAP-001", "quantity": 10_001}]},
        {"items": [{"product_sku": "LAP-001"}]},
        {"items": [{"quantity": 1}]},
        {"items": [{"product_sku": "", "quantity": 1}]},
        {"items": [{"product_sku": "has space", "quantity": 1}]},
        {"items": [{"product_sku": "X" * 65, "quantity": 1}]},
        {"items": [{"product_sku": f"SKU-{n}", "quantity": 1} for n in range(101)]},
        {"items": [{"product_sku": "LAP-001", "quantity": 1}], "customer_id": "not-a-uuid"},
    ],
)
def test_post_with_invalid_items_is_400_and_writes_nothing(api, catalog, payload):
    response = api.post("/orders", payload, format="json", HTTP_X_CUSTOMER_ID=JOHN)

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert outbox() == []
    assert not Order.objects.exists()


def test_post_errors_name_the_offending_line_and_field(api, catalog):
    response = api.post(
        "/orders",
        {"items": [{"product_sku": "LAP-001", "quantity": 1}, {"product_sku": "PHN-001", "quantity": 0}]},
        format="json",
        HTTP_X_CUSTOMER_ID=JOHN,
    )

    assert response.status_code == 400
    assert response.json() == {"items": {"1": {"quantity": ["Ensure this value is greater than or equal to 1."]}}}


def test_post_without_a_customer_is_400(api, catalog):
    response = api.post("/orders", {"items": [{"product_sku": "LAP-001", "quantity": 1}]}, format="json")

    assert response.status_code == 400
    assert "customer_id" in response.json()
    assert outbox() == []


@pytest.mark.parametrize("header", ["not-a-uuid", "550e8400"])
def test_post_with_a_malformed_customer_header_is_400(api, catalog, header):
    response = api.post(
        "/orders",
        {"customer_id": JOHN, "items": [{"product_sku": "LAP-001", "quantity": 1}]},
        format="json",
        HTTP_X_CUSTOMER_ID=header,
    )

    assert response.status_code == 400
    assert "X-Customer-ID" in response.json()
    assert outbox() == []


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "{not json"])
def test_post_with_malformed_or_non_object_json_is_400(api, catalog, body):
    response = api.generic("POST", "/orders", body, content_type="application/json", HTTP_X_CUSTOMER_ID=JOHN)

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert outbox() == []


# --- Factories for read tests ------------------------------------------------------------------------


def test_factory_built_orders_render_like_real_ones(api):
    order = OrderFactory(customer_id=JOHN, total_amount=Decimal("20.00"))
    OrderItemFactory(order=order, product_sku="HPH-001", quantity=2, price=Decimal("10.00"))

    body = api.get(f"/orders/{order.id}").json()

    assert body["items"] == [{"product_sku": "HPH-001", "quantity": 2, "price": "10.00"}]
    assert body["history"] == []
    assert OrderStatusChange.objects.count() == 0
