"""A platform logging as production does (LOG_FORMAT=json), at DEBUG for the event plumbing: every
line of every process is a JSON object of the same shape, one cart's correlation id leads through
the processes that took part in its saga, and no customer's name or address is in any line."""

import json
import uuid

import pytest

from runner.launcher import process_kind
from runner.processes import WORKER_GROUPS
from tests.e2e.conftest import running_platform
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, all_sent, new_customer, new_product, outcome

pytestmark = pytest.mark.e2e

REQUIRED = {"timestamp", "level", "logger", "message", "process"}


@pytest.fixture(scope="module")
def json_platform(pubsub_emulator, tmp_path_factory):
    with running_platform(
        tmp_path_factory.mktemp("json-logs"), pubsub_emulator, LOG_FORMAT="json", WORKERS_LOG_LEVEL="DEBUG"
    ) as running:
        yield running


def lines_of(platform, name: str) -> list[dict]:
    return [json.loads(line) for line in platform.log(name).splitlines()]


def test_one_carts_lines_across_the_platform(json_platform):
    platform = json_platform
    customer = new_customer(platform)
    [(customer_name, email)] = platform.rows(
        "customer", "SELECT name, email FROM customers_customer WHERE id = %s", (customer,)
    )
    sku = new_product(platform, stock=5)
    add(platform, customer, sku, 1)
    request_id = uuid.uuid4().hex

    response = platform.post("cart", "/cart/convert-to-order", customer=customer, headers={"X-Request-ID": request_id})

    assert response.status_code == 202
    assert response.headers["X-Request-ID"] == request_id
    cart_id = response.json()["cart_id"]
    assert outcome(platform, cart_id) == "ordered"
    wait_until(lambda: all_sent(platform, customer, 2), message="notifications sent")

    logs = {name: lines_of(platform, name) for name in platform.commands}  # each line parses as JSON
    for name, lines in logs.items():
        assert lines, f"{name} logged nothing"
        for line in lines:
            assert set(line) >= REQUIRED, (name, line)
            # Flower, a Celery command of the local platform only, logs as the commands do
            assert line["process"] == ("command" if name == "flower" else process_kind(name)), (name, line)
    assert {line.get("service") for line in logs["cart-web"]} == {"cart"}
    assert {line.get("service") for line in logs["relay"]} == {None}  # every service's
    saga_services = {line.get("service") for line in logs["saga-worker"]}
    assert ",".join(WORKER_GROUPS["saga"]) in saga_services  # the process's; an event's own while handled
    assert {"cart", "inventory", "order"} <= saga_services

    # the cart's correlation id: born in the convert request, then published, handed over and handled
    saga = {name: [line for line in lines if line.get("correlation_id") == cart_id] for name, lines in logs.items()}
    [recorded] = [line for line in saga["cart-web"] if line["message"].startswith("recorded")]
    assert (recorded["request_id"], recorded["topic"]) == (request_id, "order-requested")
    for name in ("relay", "bridge", "saga-worker", "delivery-worker"):
        assert saga[name], f"{name} has no line for cart {cart_id}"
    handled = {(line["service"], line["event_type"]) for line in saga["saga-worker"] + saga["delivery-worker"]}
    assert {
        ("inventory", "order-requested"),
        ("order", "stock-available"),
        ("notification", "order.created"),
        ("email", "email.requested"),  # the notification service passes the cart's id on
        ("push", "push.requested"),
    } <= handled

    everything = "".join(platform.log(name) for name in platform.commands)
    assert email not in everything
    assert customer_name not in everything
