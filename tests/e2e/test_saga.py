"""The saga end to end, against the real thing: PostgreSQL, the Pub/Sub emulator, RabbitMQ,
gunicorn, the relay, the bridge and Celery workers, all started as separate processes."""

import json
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from runner.processes import worker_of
from tests.e2e.harness import wait_until

pytestmark = pytest.mark.e2e


def new_customer(platform, token=None) -> str:
    """A customer, created as staff (``token``, when the platform verifies tokens)."""
    body = {"name": "Test Customer", "email": f"{uuid.uuid4().hex[:12]}@example.com"}
    response = platform.post("customer", "/customers", json=body, token=token)
    assert response.status_code == 201, response.text
    customer_id = response.json()["id"]
    # the email service learns the address from customer.changed
    wait_until(
        lambda: platform.rows("email", "SELECT 1 FROM email_customercontact WHERE customer_id = %s", (customer_id,)),
        message="customer copied to the email service",
    )
    return customer_id


def new_product(platform, *, stock: int, price: str = "10.00", token=None) -> str:
    sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    product = {"sku": sku, "name": sku, "price": price}
    assert platform.post("product", "/products", json=product, token=token).status_code == 201
    inventory = {"product_sku": sku, "quantity": stock}
    assert platform.post("inventory", "/inventory", json=inventory, token=token).status_code == 201
    for service, table in (("cart", "carts_catalogproduct"), ("order", "orders_catalogproduct")):
        wait_until(
            lambda s=service, t=table: platform.rows(s, f"SELECT 1 FROM {t} WHERE sku = %s", (sku,)),  # noqa: S608
            message=f"{sku} copied to the {service} service",
        )
    return sku


def add(platform, customer, sku, quantity):
    response = platform.post("cart", "/cart/items", customer=customer, json={"product_sku": sku, "quantity": quantity})
    assert response.status_code == 201, response.text
    return response.json()


def convert(platform, customer) -> str:
    response = platform.post("cart", "/cart/convert-to-order", customer=customer)
    assert response.status_code == 202, response.text
    return response.json()["cart_id"]


def outcome(platform, cart_id) -> str:
    """The cart's final status, once it has one."""

    def final():
        [(status,)] = platform.rows("cart", "SELECT status FROM carts_cart WHERE id = %s", (cart_id,))
        return status if status in ("ordered", "stock-unavailable") else None

    return wait_until(final, timeout=30, message=f"an outcome for cart {cart_id}")


def stock(platform, sku) -> int:
    return platform.get("inventory", f"/inventory/{sku}").json()["quantity"]


def orders_of(platform, customer) -> list[dict]:
    return platform.get("order", "/orders", customer=customer).json()["results"]


def notifications_of(platform, customer) -> list[dict]:
    return platform.get("notification", f"/notifications?customer_id={customer}").json()["results"]


def all_sent(platform, customer, count):
    notifications = notifications_of(platform, customer)
    return len(notifications) == count and all(n["status"] == "sent" for n in notifications) and notifications


def test_a_converted_cart_becomes_a_confirmed_order_with_its_notifications(platform):
    # given
    customer = new_customer(platform)
    laptop, phone = new_product(platform, stock=10, price="999.99"), new_product(platform, stock=10, price="699.99")
    add(platform, customer, laptop, 1)
    add(platform, customer, phone, 2)

    # when
    cart_id = convert(platform, customer)

    # then
    assert outcome(platform, cart_id) == "ordered"
    [order] = orders_of(platform, customer)
    assert order["status"] == "confirmed"
    assert order["cart_id"] == cart_id
    assert Decimal(order["total_amount"]) == Decimal("999.99") + 2 * Decimal("699.99")
    assert (stock(platform, laptop), stock(platform, phone)) == (9, 8)
    notifications = wait_until(lambda: all_sent(platform, customer, 2), message="notifications sent")
    assert sorted(n["channel"] for n in notifications) == ["email", "push"]
    assert {n["event_type"] for n in notifications} == {"order.created"}
    push = platform.get("push", f"/notifications/{customer}").json()["results"]
    assert len(push) == 1
    assert order["id"] in push[0]["message"]
    [recipient] = platform.rows(
        "email", "SELECT to_address FROM email_emailmessage WHERE customer_id = %s", (customer,)
    )[0]
    assert recipient.endswith("@example.com")
    assert any(recipient in path.read_text() for path in platform.mail_dir.iterdir())


def test_a_rejected_cart_is_unlocked_and_can_be_edited_and_converted_again(platform):
    # given: more than the stock
    customer = new_customer(platform)
    sku = new_product(platform, stock=2)
    add(platform, customer, sku, 3)

    # when
    cart_id = convert(platform, customer)

    # then
    assert outcome(platform, cart_id) == "stock-unavailable"
    cart = platform.get("cart", "/cart", customer=customer).json()
    assert (cart["id"], cart["cart_locked"]) == (cart_id, False)
    assert stock(platform, sku) == 2
    assert orders_of(platform, customer) == []
    rejected = wait_until(lambda: all_sent(platform, customer, 2), message="rejection notifications")
    assert {n["event_type"] for n in rejected} == {"stock.rejected"}
    stock_manager = platform.get(
        "notification", f"/notifications?audience=stock_manager&event_id={rejected[0]['event_id']}"
    ).json()["results"]
    assert len(stock_manager) == 1

    # when: the customer takes fewer and tries again
    assert platform.request("DELETE", "cart", f"/cart/items/{sku}", customer=customer).status_code == 200
    add(platform, customer, sku, 2)
    assert convert(platform, customer) == cart_id

    # then
    assert outcome(platform, cart_id) == "ordered"
    assert stock(platform, sku) == 0
    assert len(orders_of(platform, customer)) == 1


def test_customers_racing_for_scarce_stock_get_exactly_what_there_is(platform):
    # given: 6 customers, 3 units
    sku = new_product(platform, stock=3)
    customers = [new_customer(platform) for _ in range(6)]
    for customer in customers:
        add(platform, customer, sku, 1)

    # when: all convert at once
    with ThreadPoolExecutor(max_workers=6) as pool:
        cart_ids = list(pool.map(lambda c: convert(platform, c), customers))

    # then
    outcomes = [outcome(platform, cart_id) for cart_id in cart_ids]
    assert sorted(outcomes) == ["ordered"] * 3 + ["stock-unavailable"] * 3
    assert stock(platform, sku) == 0
    confirmed = [o for c in customers for o in orders_of(platform, c) if o["status"] == "confirmed"]
    assert len(confirmed) == 3


def test_an_event_published_twice_has_one_effect(platform):
    # given: a cart that has its order
    customer = new_customer(platform)
    sku = new_product(platform, stock=5)
    add(platform, customer, sku, 2)
    cart_id = convert(platform, customer)
    assert outcome(platform, cart_id) == "ordered"

    # when: its order-requested is published again with the same event_id (a relay killed
    # between publishing and marking its batch does exactly this)
    attributes = platform.republish("cart", "order-requested", "payload->>'cart_id' = %s", (cart_id,))

    # then: inventory sees it, recognises it, and does nothing more
    wait_until(lambda: duplicates_seen(platform, "inventory") >= 1, message="the duplicate to be seen")
    assert stock(platform, sku) == 3
    assert len(orders_of(platform, customer)) == 1
    rows = platform.rows(
        "inventory", "SELECT status FROM processed_messages WHERE message_id = %s", (attributes["event_id"],)
    )
    assert rows == [("success",)]


def duplicates_seen(platform, service: str) -> int:
    """Tasks of the service that its worker logged as finding an event done already."""
    lines = platform.log(worker_of(service)).splitlines()
    return sum(f"{service}.handle_event" in line and "'duplicate'" in line for line in lines)


def test_a_worker_killed_mid_task_finishes_the_work_once_after_restart(platform):
    # given: the inventory worker holds each task open for a while before committing
    inventory_worker = worker_of("inventory")
    platform.kill(inventory_worker, signal.SIGTERM)
    platform.start(inventory_worker, HANDLER_FAULT_DELAY_SECONDS="30", HANDLER_FAULT_DELAY_SERVICES="inventory")
    customer = new_customer(platform)
    sku = new_product(platform, stock=4)
    add(platform, customer, sku, 3)
    cart_id = convert(platform, customer)

    # when: it is killed with SIGKILL in the middle of reserving the stock
    wait_until(
        lambda: platform.scalar(
            "inventory",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction' AND pid <> pg_backend_pid()",
        ),
        timeout=30,
        message="the reservation to be in progress",
    )
    platform.kill(inventory_worker, signal.SIGKILL)
    assert stock(platform, sku) == 4  # nothing of the killed attempt survived
    platform.start(inventory_worker)

    # then: the task is redelivered and done exactly once
    assert outcome(platform, cart_id) == "ordered"
    assert stock(platform, sku) == 1
    assert len(orders_of(platform, customer)) == 1
    moves = platform.scalar(
        "inventory", "SELECT count(*) FROM inventory_stockmovement WHERE reference = %s", (f"cart:{cart_id}",)
    )
    assert moves == 1


def test_a_malformed_message_is_dead_lettered_and_the_flow_goes_on(platform):
    # when: garbage arrives on order-requested
    platform.publish("order-requested", b"this is not json", event_type="order-requested", event_id=str(uuid.uuid4()))

    # then: it lands in the subscription's dead-letter topic with the reason
    [message] = platform.pull_dead_letters("inventory-service-order-requested")
    assert message.data == b"this is not json"
    assert "not JSON" in message.attributes["bridge_error"]

    # and orders still go through
    customer = new_customer(platform)
    sku = new_product(platform, stock=1)
    add(platform, customer, sku, 1)
    assert outcome(platform, convert(platform, customer)) == "ordered"


def test_a_cancelled_order_returns_its_stock_once(platform):
    # given
    customer = new_customer(platform)
    sku = new_product(platform, stock=5)
    add(platform, customer, sku, 2)
    assert outcome(platform, convert(platform, customer)) == "ordered"
    [order] = orders_of(platform, customer)
    assert stock(platform, sku) == 3

    # when
    response = platform.request("DELETE", "order", f"/orders/{order['id']}")

    # then
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    wait_until(lambda: stock(platform, sku) == 5, message="stock to come back")
    notifications = wait_until(lambda: all_sent(platform, customer, 4), message="cancellation notifications")
    assert sorted(n["event_type"] for n in notifications).count("order.cancelled") == 2

    # when: the cancellation is delivered again
    platform.republish("order", "order.cancelled", "payload->>'order_id' = %s", (order["id"],))
    wait_until(lambda: duplicates_seen(platform, "inventory") >= 1, message="the duplicate")

    # then
    assert stock(platform, sku) == 5
    assert platform.get("order", f"/orders/{order['id']}").json()["status"] == "cancelled"
    assert json.loads(json.dumps(notifications))  # notifications stay readable
