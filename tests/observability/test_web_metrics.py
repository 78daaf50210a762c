"""GET /metrics and GET /livez of the web services, and what their counters count, through the test client."""

import uuid

import pytest
from django.db import transaction
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from apps.events.consumer import Delivery, Outcome
from apps.events.contracts import Line, OrderRequested, PushRequested
from apps.events.outbox import record_event
from apps.inventory.tests.factories import InventoryItemFactory
from apps.products.demo import seed as seed_products
from apps.push.tasks import consumer as push_consumer
from shop.registry import SERVICES
from testsupport.events import message

RESPONSES = "django_http_responses_total_by_status_view_method_total"


def scrape(service_client, service: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, labels) -> value, from the service's own GET /metrics."""
    response = service_client(service).get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")  # the text exposition format
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def responses(samples, **labels) -> float:
    return samples.get((RESPONSES, frozenset(labels.items())), 0.0)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_serves_metrics_without_credentials_and_outside_its_schema(service_client, settings, service):
    settings.AUTH_MODE = "jwt"  # where the API asks for a token, /metrics does not
    settings.AUTH_JWT_SECRET = "x" * 32

    samples = scrape(service_client, service)

    assert any(name.startswith("django_http_") for name, _ in samples)
    schema = service_client(service).get("/schema", HTTP_ACCEPT="application/json").json()
    assert not any(path.startswith(("/metrics", "/livez")) for path in schema["paths"])


@pytest.mark.django_db(databases=["product"])
def test_requests_are_counted_per_route_name_and_status_never_per_raw_path(service_client):
    seed_products()
    client = service_client("product")
    before = scrape(service_client, "product")

    for _ in range(3):
        assert client.get("/products").status_code == 200  # the 2nd and 3rd from the catalog page cache
    assert client.get("/products/LAP-001").status_code == 200
    assert client.get(f"/products/NO-{uuid.uuid4().hex[:8]}").status_code == 404
    assert client.get(f"/no-such-path/{uuid.uuid4()}").status_code == 404

    after = scrape(service_client, "product")
    delta = {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}
    assert (
        responses(after, status="200", view="product-list", method="GET")
        - responses(before, status="200", view="product-list", method="GET")
        == 3
    )
    assert (
        responses(after, status="200", view="product-detail", method="GET")
        - responses(before, status="200", view="product-detail", method="GET")
        == 1
    )
    assert (
        responses(after, status="404", view="product-detail", method="GET")
        - responses(before, status="404", view="product-detail", method="GET")
        == 1
    )
    assert (
        responses(after, status="404", view="<unresolved>", method="GET")
        - responses(before, status="404", view="<unresolved>", method="GET")
        == 1
    )
    labels = {value for _, labelset in delta for _, value in labelset}
    assert not any("/" in value for value in labels)  # no raw path ever becomes a label
    latency = (
        "django_http_requests_latency_seconds_by_view_method_count",
        frozenset({"view": "product-list", "method": "GET"}.items()),
    )
    assert delta[latency] == 3


def test_livez_answers_without_touching_any_dependency(service_client):
    # no django_db mark: a database access would fail this test
    response = service_client("cart").get("/livez")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db(databases=["push"])
def test_the_consumer_counts_each_event_by_topic_and_outcome_and_times_its_handler():
    event = PushRequested(notification_id=uuid.uuid4(), customer_id=uuid.uuid4(), title="t", message="m")
    delivery = Delivery.of(message(event, event_id=uuid.uuid4()))
    labels = {"service": "push", "topic": "push.requested"}
    processed, duplicate = (
        sample("shop_events_consumed_total", **labels, outcome=outcome) for outcome in ("processed", "duplicate")
    )
    handled = sample("shop_event_handler_seconds_count", **labels)
    batches = sample("shop_consumer_batch_seconds_count", service="push")

    [first] = push_consumer.handle([delivery])
    [again] = push_consumer.handle([delivery])

    assert (first.outcome, again.outcome) == (Outcome.PROCESSED, Outcome.DUPLICATE)
    assert sample("shop_events_consumed_total", **labels, outcome="processed") == processed + 1
    assert sample("shop_events_consumed_total", **labels, outcome="duplicate") == duplicate + 1
    assert sample("shop_event_handler_seconds_count", **labels) == handled + 1  # the duplicate ran no handler
    assert sample("shop_consumer_batch_seconds_count", service="push") == batches + 2


@pytest.mark.django_db(databases=["push"])
def test_what_a_consumer_has_no_handler_for_is_counted_under_one_label():
    dead = sample("shop_events_consumed_total", service="push", topic="unknown", outcome="dead_lettered")

    [result] = push_consumer.handle([Delivery(f"made-up-{uuid.uuid4().hex}", {}, {"event_id": str(uuid.uuid4())})])

    assert result.outcome is Outcome.DEAD_LETTERED
    assert sample("shop_events_consumed_total", service="push", topic="unknown", outcome="dead_lettered") == dead + 1


def record_in_a_transaction(event, *, fail: bool = False) -> None:
    with transaction.atomic(using="inventory"):
        record_event(event, using="inventory")
        if fail:
            raise RuntimeError("rolled back")


@pytest.mark.django_db(databases=["inventory"])
def test_events_recorded_in_the_outbox_are_counted_once_committed_never_when_rolled_back(
    django_capture_on_commit_callbacks,
):
    InventoryItemFactory(product_sku="LAP-001", quantity=5)
    event = OrderRequested(
        cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=1)]
    )
    before = sample("shop_events_recorded_total", service="inventory", topic="order-requested")

    with django_capture_on_commit_callbacks(using="inventory", execute=True):
        record_in_a_transaction(event)
    with django_capture_on_commit_callbacks(using="inventory", execute=True), pytest.raises(RuntimeError):
        record_in_a_transaction(event, fail=True)

    assert sample("shop_events_recorded_total", service="inventory", topic="order-requested") == before + 1
