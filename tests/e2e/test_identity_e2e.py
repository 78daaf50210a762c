"""A whole saga with verified identity: the platform started with AUTH_MODE=jwt, as `AUTH_MODE=jwt make run` does."""

import time
import uuid

import jwt
import pytest

from tests.e2e.conftest import running_platform
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import new_customer, new_product

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret-of-at-least-thirty-two-bytes-long"


def token(subject, *, staff=False) -> str:
    claims = {"sub": str(subject), "exp": int(time.time()) + 900}
    if staff:
        claims["roles"] = ["staff"]
    return jwt.encode(claims, SECRET, "HS256")


STAFF = token(uuid.uuid4(), staff=True)


@pytest.fixture(scope="module")
def jwt_platform(pubsub_emulator, tmp_path_factory):
    with running_platform(
        tmp_path_factory.mktemp("jwt"), pubsub_emulator, AUTH_MODE="jwt", AUTH_JWT_SECRET=SECRET
    ) as running:
        yield running


def test_outsiders_get_only_the_public_routes(jwt_platform):
    anonymous = jwt_platform.request("PUT", "product", "/products/LAP-001", json={"price": "0.00"})
    forged = jwt_platform.get(
        "customer",
        "/customers",
        token=jwt.encode({"sub": "x", "exp": 2**31}, "a-guessed-secret-of-thirty-two-bytes!", "HS256"),
    )

    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert forged.status_code == 401
    assert jwt_platform.get("product", "/products").status_code == 200
    assert jwt_platform.get("order", "/").json()["status"] == "healthy"


def test_a_customer_with_a_token_orders_from_convert_to_push(jwt_platform):
    # given a customer created by staff, and a product in stock
    customer = new_customer(jwt_platform, token=STAFF)
    own = token(customer)
    sku = new_product(jwt_platform, stock=5, token=STAFF)

    # when the customer fills and converts their cart with their token alone
    added = jwt_platform.post("cart", "/cart/items", token=own, json={"product_sku": sku, "quantity": 2})
    assert added.status_code == 201, added.text
    key = {"Idempotency-Key": f"convert-{uuid.uuid4()}"}
    converted = jwt_platform.post("cart", "/cart/convert-to-order", token=own, headers=dict(key))
    assert converted.status_code == 202, converted.text
    cart_id = converted.json()["cart_id"]
    retried = jwt_platform.post("cart", "/cart/convert-to-order", token=own, headers=dict(key))
    assert (retried.status_code, retried.json()) == (202, converted.json())
    assert retried.headers["Idempotent-Replayed"] == "true"

    # then the order is confirmed, theirs to see and to cancel, and no one else's
    def confirmed():
        orders = jwt_platform.get("order", f"/orders?cart_id={cart_id}", token=own).json()["results"]
        return orders and orders[0]

    order = wait_until(confirmed, timeout=30, message="the order confirmed")
    assert order["status"] == "confirmed"
    assert order["customer_id"] == customer
    intruder = token(uuid.uuid4())
    assert jwt_platform.get("order", f"/orders/{order['id']}", token=intruder).status_code == 404
    assert jwt_platform.get("order", "/orders", token=intruder).json()["results"] == []
    assert (
        jwt_platform.request(
            "PUT", "order", f"/orders/{order['id']}", token=own, json={"status": "shipped"}
        ).status_code
        == 403
    )

    # and they are told, by email and push, which they alone can read
    def sent():
        notifications = jwt_platform.get("notification", "/notifications", token=own).json()["results"]
        return len(notifications) == 2 and all(n["status"] == "sent" for n in notifications) and notifications

    notifications = wait_until(sent, timeout=30, message="email and push sent")
    assert sorted(n["channel"] for n in notifications) == ["email", "push"]
    push = jwt_platform.get("push", f"/notifications/{customer}", token=own)
    assert push.status_code == 200
    assert order["id"] in push.json()["results"][0]["message"]
    assert jwt_platform.get("push", f"/notifications/{customer}", token=intruder).status_code == 404
    assert jwt_platform.get("notification", "/notifications", token=intruder).json()["results"] == []

    # and staff may ship it
    shipped = jwt_platform.request("PUT", "order", f"/orders/{order['id']}", token=STAFF, json={"status": "shipped"})
    assert shipped.status_code == 200, shipped.text


def test_a_retried_order_request_with_the_same_key_orders_once(jwt_platform):
    customer = new_customer(jwt_platform, token=STAFF)
    own = token(customer)
    sku = new_product(jwt_platform, stock=5, token=STAFF)
    body = {"items": [{"product_sku": sku, "quantity": 1}]}
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}

    first = jwt_platform.post("order", "/orders", token=own, json=body, headers=dict(key))
    again = jwt_platform.post("order", "/orders", token=own, json=body, headers=dict(key))
    changed = jwt_platform.post("order", "/orders", token=own, json={**body, "items": []}, headers=dict(key))

    assert first.status_code == 202, first.text
    assert again.json() == first.json()
    assert changed.status_code == 422
    request_id = first.json()["cart_id"]
    wait_until(
        lambda: jwt_platform.get("order", f"/orders?cart_id={request_id}", token=own).json()["results"],
        timeout=30,
        message="the order confirmed",
    )
    orders = jwt_platform.get("order", "/orders", token=own).json()["results"]
    assert [o["cart_id"] for o in orders] == [request_id]
    assert jwt_platform.get("inventory", f"/inventory/{sku}", token=STAFF).json()["quantity"] == 4
