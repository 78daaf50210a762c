"""The life of one order over real processes: GET /orders/{id}/timeline on a platform in AUTH_MODE=jwt.

The order service asks the seven others for their part over HTTP (their ports moved by the
launcher's offset: <SERVICE>_SERVICE_URL), passing the staff token on; `manage.py trace`, run
against the same databases, prints the same entries.
"""

import json
import subprocess
import sys
import time
import uuid

import jwt
import pytest

from runner.launcher import ROOT
from tests.e2e.conftest import running_platform
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import new_customer, new_product
from tests.test_timeline import THE_LIFE_OF_AN_ORDER as ALL_STEPS

pytestmark = pytest.mark.e2e

SECRET = "e2e-timeline-secret-of-at-least-thirty-two-bytes"


def token(subject, *, staff=False) -> str:
    claims = {"sub": str(subject), "exp": int(time.time()) + 900, **({"roles": ["staff"]} if staff else {})}
    return jwt.encode(claims, SECRET, "HS256")


STAFF = token("ops", staff=True)

# The unit test's steps, up to the push message: on a real platform under way, the delivery report
# may cover several carts' messages, and then belongs to no one cart's timeline.
THE_LIFE_OF_AN_ORDER = ALL_STEPS[: ALL_STEPS.index(("push", "state", "push message stored")) + 1]


@pytest.fixture(scope="module")
def jwt_platform(pubsub_emulator, tmp_path_factory):
    with running_platform(
        tmp_path_factory.mktemp("timeline"), pubsub_emulator, AUTH_MODE="jwt", AUTH_JWT_SECRET=SECRET
    ) as running:
        yield running


def test_staff_follow_one_order_from_its_convert_to_its_push_message(jwt_platform):
    # given: an order, from a customer's convert to the push message
    customer = new_customer(jwt_platform, token=STAFF)
    own = token(customer)
    sku = new_product(jwt_platform, stock=5, token=STAFF)
    added = jwt_platform.post("cart", "/cart/items", token=own, json={"product_sku": sku, "quantity": 2})
    assert added.status_code == 201, added.text
    cart_id = jwt_platform.post("cart", "/cart/convert-to-order", token=own).json()["cart_id"]

    def notified():
        notifications = jwt_platform.get("notification", "/notifications", token=own).json()["results"]
        return len(notifications) == 2 and all(n["status"] == "sent" for n in notifications)

    wait_until(notified, timeout=30, message="email and push sent")
    [order] = jwt_platform.get("order", f"/orders?cart_id={cart_id}", token=own).json()["results"]

    # when
    response = jwt_platform.get("order", f"/orders/{order['id']}/timeline", token=STAFF)

    # then: every service answered (the token was passed on), everything is there, in time order
    assert response.status_code == 200, response.text
    timeline = response.json()
    assert timeline["missing"] == []
    assert timeline["correlation_id"] == cart_id
    entries = timeline["entries"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    steps = iter([(e["service"], e["kind"], e["what"]) for e in entries])
    assert all(step in steps for step in THE_LIFE_OF_AN_ORDER), json.dumps(entries, indent=1)
    assert {e["outcome"] for e in entries if e["kind"] == "consumed"} == {"done"}

    # and staff only
    assert jwt_platform.get("order", f"/orders/{order['id']}/timeline", token=own).status_code == 403
    assert jwt_platform.get("order", f"/orders/{order['id']}/timeline").status_code == 401
    trail = jwt_platform.get("push", f"/events/trail?correlation_id={cart_id}", token=own)
    assert trail.status_code == 403

    # and manage.py trace, reading the databases itself, prints the same entries for the order and the cart
    for identifier in (order["id"], cart_id):
        traced = subprocess.run(  # noqa: S603 - our own interpreter and command
            [sys.executable, "manage.py", "trace", identifier, "--json"],
            cwd=ROOT,
            env=jwt_platform.env,
            check=True,
            capture_output=True,
            text=True,
        )
        assert json.loads(traced.stdout)["entries"] == entries


def test_a_service_that_is_down_is_named_and_the_rest_of_the_timeline_returned(jwt_platform):
    # given: an order, and then the push service's web process stopped
    customer = new_customer(jwt_platform, token=STAFF)
    sku = new_product(jwt_platform, stock=5, token=STAFF)
    own = token(customer)
    jwt_platform.post("cart", "/cart/items", token=own, json={"product_sku": sku, "quantity": 1})
    cart_id = jwt_platform.post("cart", "/cart/convert-to-order", token=own).json()["cart_id"]
    order = wait_until(
        lambda: jwt_platform.get("order", f"/orders?cart_id={cart_id}", token=own).json()["results"],
        timeout=30,
        message="the order confirmed",
    )[0]
    jwt_platform.kill("push-web")
    try:
        # when
        response = jwt_platform.get("order", f"/orders/{order['id']}/timeline", token=STAFF)

        # then
        assert response.status_code == 200, response.text
        timeline = response.json()
        assert [m["service"] for m in timeline["missing"]] == ["push"]
        assert {e["service"] for e in timeline["entries"]} >= {"cart", "inventory", "order"}
        assert "push" not in {e["service"] for e in timeline["entries"]}
    finally:
        jwt_platform.start("push-web")
        wait_until(lambda: jwt_platform._healthy("push"), timeout=60, message="push health")


def test_a_customer_cannot_see_a_timeline_even_of_their_own_order(jwt_platform):
    other = token(uuid.uuid4())

    assert jwt_platform.get("order", f"/orders/{uuid.uuid4()}/timeline", token=other).status_code == 403
    assert jwt_platform.get("order", f"/orders/{uuid.uuid4()}/timeline", token=STAFF).status_code == 404
