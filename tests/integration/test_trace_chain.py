"""One order, one trace: from the convert request to the push message, through the real workers.

The cart's convert endpoint (the Django test client), the real relay publishing to the Pub/Sub
emulator, the real bridge pulling and sending Celery tasks to RabbitMQ, and a real Celery worker
(in a thread) running every service's handlers, all in this process, with every span kept in
memory. Every span must belong to the trace the HTTP request began, in one tree under it.
"""

import io
import json
import threading
import time
import uuid
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core.management import call_command
from django.db import connections
from opentelemetry.trace import SpanKind

from apps.carts.tests.factories import CartFactory, CartItemFactory
from apps.carts.tests.factories import CatalogProductFactory as CartCatalogFactory
from apps.email.tests.factories import CustomerContactFactory
from apps.events.pubsub import publisher, topic_path
from apps.events.queues import ensure_task_queue
from apps.inventory.tests.factories import InventoryItemFactory
from apps.notifications.models import Notification
from apps.orders.tests.factories import CatalogProductFactory as OrderCatalogFactory
from apps.push.models import PushMessage
from shop import registry
from shop.celery import app as celery_app
from shop.settings.celery import task_queue_declaration
from shop.topology import Subscription, subscriptions
from tests.integration.test_event_workers import broker_messages, pull
from testsupport.tracing import recording_spans
from workers.bridge import Bridge, PulledMessage
from workers.relay import OutboxRelay

SERVICES = ["cart", "inventory", "order", "notification", "email", "push"]

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=SERVICES, transaction=True)]


@pytest.fixture
def project(pubsub_emulator, settings):
    """A Pub/Sub project of the test's own, provisioned."""
    settings.GOOGLE_CLOUD_PROJECT = f"test-{uuid.uuid4().hex[:12]}"
    settings.REDRIVE_INTERVAL_SECONDS = 0  # nothing is lost here: no re-drive sweeps
    settings.OUTBOX_POLL_SECONDS = 0.2
    call_command("provision_pubsub", stdout=io.StringIO())
    return settings.GOOGLE_CLOUD_PROJECT


def close_connections(**_) -> None:
    connections.close_all()  # a worker thread's connections must not outlive the test databases


@pytest.fixture
def worker(queue_prefix):
    """A Celery worker (a pool of threads) on the test's own queues of every service."""
    services = [registry.SERVICES[name] for name in SERVICES]
    configured = celery_app.conf.task_queues
    declared = [task_queue_declaration(service.queue) for service in services]
    celery_app.conf.task_queues = declared
    # and in the app's own map of queues (built once, when first asked): the worker and the bridge
    # look names up there, and one missing would be declared anew on a direct exchange, which the
    # broker refuses beside our topic exchange of the same name, killing the worker as it starts
    for queue in declared:
        celery_app.amqp.queues.add(queue)
    for service in services:
        ensure_task_queue(service)
    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(
            celery_app,
            pool="threads",
            concurrency=4,
            perform_ping_check=False,
            queues=[service.queue for service in services],
            loglevel="WARNING",
        ) as running:
            yield running
    finally:
        task_postrun.disconnect(close_connections)
        celery_app.conf.task_queues = configured
        for queue in declared:
            celery_app.amqp.queues.pop(queue.name, None)


def in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def spans():
    with recording_spans() as recording:
        yield recording


@pytest.fixture
def relay_and_bridge(project, worker, spans):
    """The relay and the bridge (long-polling Pull), running until the test ends; made after tracing is on."""
    relay = OutboxRelay([registry.SERVICES[name].database for name in SERVICES])
    bridge = Bridge([s for name in SERVICES for s in subscriptions(registry.SERVICES[name])])
    threads = [in_thread(relay.run), in_thread(bridge.run_unary)]
    yield
    relay.stop()
    bridge.stop()
    for thread in threads:
        thread.join(15)


def wait_until(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_one_convert_is_one_trace_from_the_http_request_to_the_push_message(spans, relay_and_bridge, service_client):
    # given: a customer with a laptop in the cart, the laptop in stock and priced
    customer = uuid.uuid4()
    CartCatalogFactory(sku="LAP-001", price=Decimal("999.99"))
    CartItemFactory(cart=CartFactory(customer_id=customer), product_sku="LAP-001")
    InventoryItemFactory(product_sku="LAP-001", quantity=5)
    OrderCatalogFactory(sku="LAP-001", price=Decimal("999.99"))
    CustomerContactFactory(customer_id=customer)

    # when: the cart is converted, and the saga runs its course through the workers
    response = service_client("cart", HTTP_X_CUSTOMER_ID=str(customer)).post("/cart/convert-to-order")
    assert response.status_code == 202
    assert wait_until(
        lambda: (
            PushMessage.objects.using("push").filter(customer_id=customer).exists()
            and Notification.objects.using("notification").filter(customer_id=customer, status="sent").count() == 2
        )
    ), "the saga did not reach the push message and both notifications sent"
    handled = {"order-requested", "stock-available", "email.requested", "push.requested", "notification.delivered"}
    # the last spans end as their tasks finish, a moment after the commits seen above
    assert wait_until(lambda: {f"handle {t}" for t in handled} <= {s.name for s in spans.spans()}, 15)
    time.sleep(0.5)
    finished = spans.spans()

    # then: one trace, one tree, rooted in the convert request
    [request] = [s for s in finished if s.kind is SpanKind.SERVER]
    assert "convert-to-order" in request.attributes["http.route"]  # Django's span, with the route
    assert {s.context.trace_id for s in finished} == {request.context.trace_id}
    by_id = {s.context.span_id: s for s in finished}
    assert [s.name for s in finished if s.parent is None] == [request.name]
    assert all(s.parent.span_id in by_id for s in finished if s.parent is not None), "a span's parent is missing"

    names = [s.name for s in finished]
    for topic in ["order-requested", "stock-available", "order.created", "email.requested", "push.requested"]:
        assert f"publish {topic}" in names
    assert names.count("publish notification.delivered") == 2  # from email and from push
    assert names.count("handle order.created") == 2  # the cart and the notification service
    assert names.count("handle notification.delivered") == 2
    for event_type in ["order-requested", "stock-available", "email.requested", "push.requested"]:
        assert f"handle {event_type}" in names
    assert "hand over push-service-push-requested" in names
    assert "apply_async/push.handle_events" in names
    assert "run/push.handle_events" in names
    kinds = {s.name: s.kind for s in finished}
    assert kinds["publish push.requested"] is SpanKind.PRODUCER
    assert kinds["hand over push-service-push-requested"] is SpanKind.CONSUMER
    assert kinds["apply_async/push.handle_events"] is SpanKind.PRODUCER
    assert kinds["run/push.handle_events"] is SpanKind.CONSUMER
    assert kinds["handle push.requested"] is SpanKind.CONSUMER

    # the push message's INSERT, under its handler, under the hops from the request
    [store] = [s for s in finished if "push_pushmessage" in s.attributes.get("db.query.text", "")]
    assert store.kind is SpanKind.CLIENT
    path = []
    span = store
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        path.append(span.name)
    assert path[:5] == [
        "handle push.requested",
        "run/push.handle_events",
        "apply_async/push.handle_events",
        "hand over push-service-push-requested",
        "publish push.requested",
    ]
    assert "handle order-requested" in path
    assert "publish order-requested" in path
    assert path[-1] == request.name


def traceparent(trace_id: int, span_id: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-01"


def test_the_bridge_sends_a_batch_in_its_first_events_trace_and_celery_carries_it_in_the_task_headers(
    project, queue_prefix, spans
):
    # given: two events of two orders, each published in a trace of its own
    subscription = Subscription(registry.SERVICES["cart"], "stock.rejected")
    contexts = {}
    for trace_id, span_id in [(0xA1, 0xA2), (0xB1, 0xB2)]:
        event_id = str(uuid.uuid4())
        contexts[event_id] = (trace_id, span_id)
        payload = {"cart_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()), "details": []}
        publisher().publish(
            topic_path("stock.rejected"),
            json.dumps(payload).encode(),
            event_id=event_id,
            event_type="stock.rejected",
            producer="inventory-service",
            traceparent=traceparent(trace_id, span_id),
        ).result(timeout=30)
    received = pull(subscription.name, 2, ack=False)

    # when: the bridge hands them over as one task, as it sends it (send_task, by name)
    acks, nacks = [], []
    Bridge([subscription]).hand_over(subscription, [PulledMessage(m, acks, nacks) for m in received])

    # then: the bridge's span is in the first event's trace, linked to the other's
    [task] = broker_messages(f"{queue_prefix}cart")
    first, second = [contexts[attributes["event_id"]] for _, _, attributes in json.loads(task.body)[0][0]]
    [hand_over] = spans.spans("hand over cart-service-stock-rejected")
    assert (hand_over.context.trace_id, hand_over.parent.span_id) == first
    assert [(link.context.trace_id, link.context.span_id) for link in hand_over.links] == [second]
    # and Celery's publish span, under it and ended, is what the task's headers carry to the worker
    [publish] = spans.spans("apply_async/cart.handle_events")
    assert publish.kind is SpanKind.PRODUCER
    assert publish.parent.span_id == hand_over.context.span_id
    assert task.headers["traceparent"].startswith(traceparent(publish.context.trace_id, publish.context.span_id)[:-2])
