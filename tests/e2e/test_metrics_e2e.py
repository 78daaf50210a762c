"""Every process of a running platform answers its probes and /metrics, and the saga moves the counters."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from runner.processes import worker_of
from shop.registry import METRICS_PORTS, SERVICES
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, convert, new_customer, new_product, outcome

pytestmark = pytest.mark.e2e


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape_all(platform) -> dict[str, dict]:
    """process -> its samples, of every web service and every other process of the platform."""
    scraped = {}
    for service in SERVICES:
        response = platform.get(service, "/metrics")
        assert response.status_code == 200, service
        scraped[f"{service}-web"] = samples(response.text)
    for process in METRICS_PORTS:
        response = requests.get(platform.probe_url(process, "/metrics"), timeout=10)
        assert response.status_code == 200, process
        scraped[process] = samples(response.text)
    return scraped


def test_every_process_answers_its_probes(platform):
    for service in SERVICES:
        assert platform.get(service, "/livez").json() == {"status": "alive"}
        health = platform.get(service, "/")
        assert health.status_code == 200, health.text
        assert set(health.json()["checks"]) <= {"database", "broker", "pubsub"}
        assert all(result == "ok" for result in health.json()["checks"].values())
    loops = {
        "relay": "relay",
        "bridge": "inventory-service-order-requested",  # one pull loop per subscription
        "saga-worker": "celery-consumer",
        "delivery-worker": "celery-consumer",
    }
    for process in METRICS_PORTS:
        live = requests.get(platform.probe_url(process, "/livez"), timeout=10)
        ready = requests.get(platform.probe_url(process, "/readyz"), timeout=10)
        assert live.status_code == 200, (process, live.text)
        assert loops[process] in live.json()["loops"], (process, live.text)  # its loop beats
        assert ready.status_code == 200, (process, ready.text)
        assert all(result == "ok" for result in ready.json()["checks"].values())


def test_an_order_moves_the_counters_of_every_stage(platform):
    # given
    customer = new_customer(platform)
    sku = new_product(platform, stock=5)
    add(platform, customer, sku, 1)
    before = scrape_all(platform)

    # when
    cart_id = convert(platform, customer)
    assert outcome(platform, cart_id) == "ordered"

    # then: the cart recorded it, the relay published it, the bridge handed it over, inventory processed it
    def moved():
        after = scrape_all(platform)
        stages = {
            "recorded": ("cart-web", "shop_events_recorded_total", {"service": "cart", "topic": "order-requested"}),
            "published": ("relay", "shop_events_published_total", {"service": "cart", "topic": "order-requested"}),
            "handed over": (
                "bridge",
                "shop_bridge_handed_over_total",
                {"service": "inventory", "topic": "order-requested"},
            ),
            "consumed": (
                worker_of("inventory"),
                "shop_events_consumed_total",
                {"service": "inventory", "topic": "order-requested", "outcome": "processed"},
            ),
            "order confirmed": (
                worker_of("order"),
                "shop_events_consumed_total",
                {"service": "order", "topic": "stock-available", "outcome": "processed"},
            ),
        }
        late = [
            stage
            for stage, (process, name, labels) in stages.items()
            if value(after[process], name, **labels) < value(before[process], name, **labels) + 1
        ]
        return (after, late) if not late else None

    after, _ = wait_until(moved, timeout=30, message="every stage's counter to move")
    convert_requests = value(
        after["cart-web"],
        "django_http_responses_total_by_status_view_method_total",
        status="202",
        view="cart-convert",
        method="POST",
    )
    assert convert_requests >= 1
    relay = after["relay"]
    assert value(relay, "shop_relay_database_up", service="cart") == 1
    assert ("shop_outbox_backlog", frozenset({"service": "cart"}.items())) in relay
    assert value(after["bridge"], "shop_bridge_pull_latency_seconds_count", service="inventory") >= 1
