"""The invariant audit against a real platform: after orders succeed, are rejected and are cancelled,
and the platform has drained, `manage.py audit_invariants --grace 0` finds nothing to report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shop.registry import SERVICES
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, all_sent, convert, new_customer, new_product, orders_of, outcome, stock

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def drained(platform) -> bool:
    """Nothing in flight anywhere: every event published, no consumer retrying, every cart decided,
    every notification delivered. (Whatever other tests left in this shared platform counts too.)"""
    for service in SERVICES:
        if platform.scalar(service, "SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            return False
        if platform.scalar(service, "SELECT count(*) FROM processed_messages WHERE status = 'failed'"):
            return False
    if platform.scalar("cart", "SELECT count(*) FROM carts_cart WHERE status = 'processing'"):
        return False
    return not platform.scalar(
        "notification", "SELECT count(*) FROM notifications_notification WHERE status = 'pending'"
    )


def set_stock_behind_the_services_back(platform, sku: str, quantity: int) -> None:
    platform.rows(
        "inventory",
        "UPDATE inventory_inventoryitem SET quantity = %s WHERE product_sku = %s RETURNING product_sku",
        (quantity, sku),
    )


def audit(platform, *args) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and command
        [sys.executable, "manage.py", "audit_invariants", *args],
        cwd=ROOT,
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_after_orders_rejections_and_cancellations_the_drained_platform_passes_the_audit(platform):
    # given: one order that stands, one cart rejected, one order cancelled
    buyer, rejected, canceller = new_customer(platform), new_customer(platform), new_customer(platform)
    sku = new_product(platform, stock=4, price="25.00")
    add(platform, buyer, sku, 2)
    add(platform, rejected, sku, 5)
    add(platform, canceller, sku, 1)
    assert outcome(platform, convert(platform, buyer)) == "ordered"
    assert outcome(platform, convert(platform, rejected)) == "stock-unavailable"
    assert outcome(platform, convert(platform, canceller)) == "ordered"
    [order] = orders_of(platform, canceller)
    assert platform.request("DELETE", "order", f"/orders/{order['id']}").status_code == 200
    wait_until(lambda: stock(platform, sku) == 2, message="the cancelled order's stock to come back")
    for customer, count in ((buyer, 2), (rejected, 2), (canceller, 4)):
        wait_until(lambda c=customer, n=count: all_sent(platform, c, n), timeout=30, message="notifications sent")
    wait_until(lambda: drained(platform), timeout=60, message="the platform to drain")

    # when
    result = audit(platform, "--grace", "0")

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("audit: OK (")

    # and the machine-readable report says the same, having seen what happened
    report = json.loads(audit(platform, "--grace", "0", "--json").stdout)
    assert report["ok"] is True
    examined = {check["name"]: check["examined"] for check in report["checks"]}
    assert examined["cart-outcomes"]["ordered"] >= 2
    assert examined["cart-outcomes"]["re-editable after a rejection"] >= 1
    assert examined["event-notifications"]["stock.rejected events"] >= 1
    assert examined["cancellations-returned"]["stock returned"] >= 1


def test_the_audit_names_a_broken_invariant_on_the_real_platform(platform):
    # given: a stock level changed behind the inventory service's back (no movement recorded)
    sku = new_product(platform, stock=3)
    wait_until(lambda: drained(platform), timeout=60, message="the platform to drain")
    set_stock_behind_the_services_back(platform, sku, 2)
    try:
        # when
        result = audit(platform, "--grace", "0")

        # then
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"sku {sku}: 2 on hand + 0 in confirmed orders = 2, but 3 put in: 1 unit(s) missing" in result.stdout
        assert result.stdout.strip().splitlines()[-1] == "audit: 2 violations"
    finally:  # leave the shared platform consistent for the tests after this one
        set_stock_behind_the_services_back(platform, sku, 3)
