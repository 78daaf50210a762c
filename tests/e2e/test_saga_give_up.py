"""A step of the saga given up on, on real processes: the order service cannot price an order (the
product's price copy never reached it), retries, dead-letters stock-available, and the saga still
ends: the stock comes back, the cart is unlocked with the reason, the customer is told once, and
replaying the dead letter after the cause is fixed has no second effect."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import running_platform
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, all_sent, convert, new_customer, new_product, orders_of, outcome, stock

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def impatient_platform(pubsub_emulator, tmp_path_factory):
    """A platform whose handlers give up after one retry, a second or so apart."""
    overrides = {"HANDLER_MAX_RETRIES": "1", "HANDLER_RETRY_BACKOFF_MAX": "1"}
    with running_platform(tmp_path_factory.mktemp("impatient"), pubsub_emulator, **overrides) as running:
        yield running


def manage(platform, *args) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "manage.py", *args], cwd=ROOT, env=platform.env, capture_output=True, text=True, timeout=120
    )


def rows_about(platform, service: str, table: str, cart_id: str, **where) -> list[tuple]:
    """Rows of a messaging table (outbox, dead_letters) whose payload names the cart."""
    conditions = "".join(f" AND {column} = %s" for column in where)
    return platform.rows(
        service,
        f"SELECT event_id FROM {table} WHERE payload->>'cart_id' = %s{conditions}",  # noqa: S608 - our own names
        (cart_id, *where.values()),
    )


def test_an_order_step_given_up_on_returns_the_stock_unlocks_the_cart_and_tells_the_customer_once(
    impatient_platform,
):
    platform = impatient_platform
    # given: a product whose price copy the order service has lost
    customer = new_customer(platform)
    sku = new_product(platform, stock=5, price="10.00")
    platform.rows("order", "DELETE FROM orders_catalogproduct WHERE sku = %s RETURNING sku", (sku,))
    add(platform, customer, sku, 2)

    # when
    cart_id = convert(platform, customer)

    # then: the cart is unlocked with the reason, the stock is back, no order exists
    assert outcome(platform, cart_id) == "stock-unavailable"
    cart = platform.get("cart", "/cart", customer=customer).json()
    assert (cart["id"], cart["cart_locked"], cart["status_reason"]) == (cart_id, False, "order_failed")
    wait_until(lambda: stock(platform, sku) == 5, message="the reserved stock to come back")
    assert orders_of(platform, customer) == []
    [(dead_letter,)] = rows_about(platform, "order", "dead_letters", cart_id, event_type="stock-available")
    assert platform.scalar("order", "SELECT count(*) FROM orders_orderfailure WHERE cart_id = %s", (cart_id,)) == 1
    # and the customer is told, once: one email and one push
    told = wait_until(lambda: all_sent(platform, customer, 2), timeout=30, message="the customer told")
    assert sorted(n["channel"] for n in told) == ["email", "push"]
    assert {(n["event_type"], n["title"]) for n in told} == {("stock.rejected", "We could not take your order")}
    assert len(platform.get("push", f"/notifications/{customer}").json()["results"]) == 1

    # when: the cause is fixed (the price reaches the order service again) and the dead letter replayed
    assert platform.request("PUT", "product", f"/products/{sku}", json={"price": "11.00"}).status_code == 200
    wait_until(
        lambda: platform.rows("order", "SELECT 1 FROM orders_catalogproduct WHERE sku = %s", (sku,)),
        message="the price copied to the order service",
    )
    replayed = manage(platform, "replay_dead_letters", "--service", "order", "--event-id", str(dead_letter))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replayed 1 dead letter(s)" in replayed.stdout
    wait_until(
        lambda: platform.rows(
            "order",
            "SELECT 1 FROM processed_messages WHERE message_id = %s AND service_name = 'order-service'"
            " AND status = 'success'",
            (str(dead_letter),),
        ),
        message="the replayed stock-available handled",
    )

    # then: it had no second effect
    assert orders_of(platform, customer) == []
    assert rows_about(platform, "order", "outbox", cart_id, event_type="order.created") == []
    assert len(rows_about(platform, "order", "outbox", cart_id, event_type="order.failed")) == 1
    assert len(rows_about(platform, "inventory", "outbox", cart_id, event_type="stock.rejected")) == 1
    assert stock(platform, sku) == 5
    assert platform.get("cart", "/cart", customer=customer).json()["status"] == "stock-unavailable"
    assert all_sent(platform, customer, 2)

    # and the cart may ask again: this time it is ordered, at the price the order service now has
    assert convert(platform, customer) == cart_id
    assert outcome(platform, cart_id) == "ordered"
    [order] = orders_of(platform, customer)
    assert order["total_amount"] == "22.00"
    assert stock(platform, sku) == 3
    wait_until(lambda: all_sent(platform, customer, 4), timeout=30, message="the order's notifications")
