"""Flower, as `make run` starts it: it sees the workers and every task they ran for an order."""

import pytest
import requests

from runner.processes import FLOWER_PORT
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, convert, new_customer, new_product, outcome

pytestmark = pytest.mark.e2e


def flower(platform, path: str):
    return requests.get(f"http://127.0.0.1:{FLOWER_PORT + platform.port_offset}{path}", timeout=5)


def test_flower_shows_the_tasks_that_ran_an_order(platform):
    # given: an order the saga confirmed
    customer = new_customer(platform)
    add(platform, customer, new_product(platform, stock=3), 1)
    cart_id = convert(platform, customer)
    assert outcome(platform, cart_id) == "ordered"

    # then: the workers reported each step of it to Flower (task events), by task name and state
    def succeeded_tasks():
        tasks = flower(platform, "/api/tasks").json().values()
        names = {task["name"] for task in tasks if task["state"] == "SUCCESS"}
        wanted = {"inventory.handle_events", "order.handle_events", "notification.handle_events", "push.handle_events"}
        return wanted <= names

    wait_until(succeeded_tasks, timeout=30, message="the order's tasks in Flower")
    workers = flower(platform, "/api/workers?refresh=1").json()
    assert any(name.startswith(f"{platform.queue_prefix}cart-inventory-order@") for name in workers), workers
