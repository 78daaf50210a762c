"""Readiness and liveness: GET / of the web services, and the probe server of the relay, the bridge and
the workers, against the real PostgreSQL, RabbitMQ and Pub/Sub emulator (and closed ports for outages)."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.events.contracts import Line, OrderRequested
from apps.events.models import DeadLetter, OutboxEvent
from shop.celery import app as celery_app
from shop.observability import health
from shop.observability.liveness import Heartbeats
from shop.observability.metrics import OutboxCollector
from shop.observability.server import ProbeServer
from shop.registry import METRICS_PORTS, SERVICES
from shop.settings.celery import task_queue_declaration
from testsupport.events import recorded

pytestmark = pytest.mark.integration

CLOSED = "127.0.0.1:1"  # nothing listens there: refused at once


@pytest.fixture(autouse=True)
def _every_check_never_cached(settings):
    settings.HEALTH_CHECKS = ["database", "broker", "pubsub"]  # the test settings check the database only
    settings.HEALTH_CHECK_CACHE_SECONDS = 0  # each request checks again: what it says is this test's


@pytest.fixture
def queues(queue_prefix):
    """Every service's task queue declared on the real broker (the test's own names), as its worker does."""
    with celery_app.connection_for_write() as connection:
        for service in SERVICES.values():
            task_queue_declaration(service.queue).bind(connection.default_channel).declare()
    return queue_prefix


@pytest.mark.django_db(databases=["cart", "product"])
def test_health_names_each_dependency_a_service_uses(service_client, pubsub_emulator, queues, settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 10  # a first Pub/Sub call opens its channel; a busy machine is slow
    cart = service_client("cart").get("/")
    product = service_client("product").get("/")

    assert cart.status_code == 200, cart.json()
    assert cart.json() == {
        "status": "healthy",
        "service": "cart-service",
        "checks": {"database": "ok", "broker": "ok", "pubsub": "ok"},
    }
    # the product service consumes no event: no queue of its own to check
    assert product.json()["checks"] == {"database": "ok", "pubsub": "ok"}


@pytest.mark.django_db(databases=["cart"])
def test_health_is_503_naming_the_broker_when_it_is_unreachable(service_client, settings, pubsub_emulator, queues):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 10  # ok or refused: either comes long before
    broker_url, settings.CELERY_BROKER_URL = settings.CELERY_BROKER_URL, f"amqp://guest:guest@{CLOSED}//"
    try:
        response = service_client("cart").get("/")
    finally:
        settings.CELERY_BROKER_URL = broker_url  # before the fixture deletes the test's queues with it

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["pubsub"] == "ok"
    assert body["checks"]["broker"].startswith("unavailable: ")
    assert "127.0.0.1" not in json.dumps(body)  # GET / is public: what failed, never where


@pytest.mark.django_db(databases=["cart"])
def test_health_is_503_naming_pub_sub_when_it_is_unreachable(service_client, settings, queues):
    settings.PUBSUB_EMULATOR_HOST = CLOSED

    response = service_client("cart").get("/")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["database"], checks["broker"]) == ("ok", "ok")
    assert checks["pubsub"].startswith("unavailable: ")


@pytest.mark.django_db(databases=["cart"])
def test_a_queue_missing_at_the_broker_is_named(service_client, pubsub_emulator, queue_prefix, settings):
    settings.HEALTH_CHECKS = ["broker"]

    response = service_client("cart").get("/")

    assert response.status_code == 503
    assert response.json()["checks"] == {"broker": f"unavailable: queue {queue_prefix}cart is not declared"}


def black_hole() -> socket.socket:
    """A port that accepts connections and never says a word (a dependency that hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener


def test_a_dependency_that_hangs_is_reported_within_the_timeout(settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.5
    with black_hole() as listener:
        settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}//"
        started = time.monotonic()

        body, status = health.report([health.broker_check(["anything"])])

    assert time.monotonic() - started < 1.5
    assert status == 503
    assert body["checks"]["broker"].startswith("unavailable: ")


def test_a_result_is_kept_for_the_cache_period_and_checked_again_after(settings):
    settings.HEALTH_CHECK_CACHE_SECONDS = 0.3
    calls = []
    check = health.Check("counting", f"target-{time.monotonic()}", lambda: calls.append(1))
    checker = health.Checker()

    assert checker.run([check]) == {"counting": "ok"}
    assert checker.run([check]) == {"counting": "ok"}
    assert len(calls) == 1
    time.sleep(0.35)
    checker.run([check])
    assert len(calls) == 2


def test_a_hung_check_is_not_started_twice(settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.1
    release, calls = threading.Event(), []
    check = health.Check("slow", f"target-{time.monotonic()}", lambda: (calls.append(1), release.wait(5)))
    checker = health.Checker()
    try:
        first = checker.run([check])
        second = checker.run([check])
    finally:
        release.set()

    assert first == second == {"slow": "unavailable: timed out after 0.1s"}
    assert len(calls) == 1


def order_requests(count: int) -> list[OrderRequested]:
    return [
        OrderRequested(cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=1)])
        for _ in range(count)
    ]


# --- The probe server of the relay, the bridge and the workers -----------------------------------------


def get(server: ProbeServer, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def probe_server():
    servers = []

    def start(**options) -> ProbeServer:
        server = ProbeServer(process="test", port=0, host="127.0.0.1", **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.django_db(databases=["cart"])
def test_the_probe_server_serves_metrics_liveness_and_readiness(probe_server, pubsub_emulator, queues):
    checks = [*health.database_checks(["cart"]), health.broker_check([SERVICES["cart"].queue])]
    heartbeats = Heartbeats()
    server = probe_server(checks=lambda: checks, heartbeats=heartbeats)
    heartbeats.beat("test-loop")

    metrics_status, metrics = get(server, "/metrics")
    live = get(server, "/livez")
    ready = get(server, "/readyz")

    assert metrics_status == 200
    names = {family.name for family in text_string_to_metric_families(metrics)}
    assert {"shop_events_consumed", "shop_events_published", "process_cpu_seconds"} <= names
    assert live[0] == 200
    assert json.loads(live[1])["status"] == "alive"
    assert "test-loop" in json.loads(live[1])["loops"]
    assert ready[0] == 200
    assert json.loads(ready[1]) == {
        "status": "healthy",
        "process": "test",
        "checks": {"database:cart": "ok", "broker": "ok"},
    }
    assert get(server, "/nothing")[0] == 404


def test_readiness_is_503_with_the_error_when_a_dependency_is_down(probe_server, settings):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@{CLOSED}//"
    server = probe_server(checks=lambda: [health.broker_check(["cart"])])

    status, body = get(server, "/readyz")

    assert status == 503
    document = json.loads(body)
    assert document["status"] == "unhealthy"
    assert document["checks"]["broker"].startswith("unavailable: ")


def test_liveness_is_503_naming_a_loop_that_stopped_beating(probe_server, settings):
    heartbeats = Heartbeats()  # this test's own: other tests' loops beat in the process's
    server = probe_server(heartbeats=heartbeats)
    settings.LIVENESS_STALE_SECONDS = 0.5
    heartbeats.beat("stuck-loop")
    time.sleep(0.6)
    heartbeats.beat("busy-loop")

    status, body = get(server, "/livez")

    assert status == 503
    document = json.loads(body)
    assert document["status"] == "stalled"
    assert list(document["loops"]) == ["stuck-loop"]
    heartbeats.forget("stuck-loop")  # a loop stopped on purpose (a worker reconnecting to its broker)
    assert get(server, "/livez")[0] == 200


@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_the_relay_scrape_reads_backlog_oldest_age_parked_rows_and_dead_letters_from_the_outbox(probe_server):
    # given: four committed events in the cart's outbox, one of them 90 s old, one parked, one published;
    # and a dead letter waiting, one replayed
    with transaction.atomic(using="cart"):
        rows = [recorded(event, using="cart") for event in order_requests(4)]
    OutboxEvent.objects.using("cart").filter(pk=rows[0].pk).update(occurred_at=timezone.now() - timedelta(seconds=90))
    OutboxEvent.objects.using("cart").filter(pk=rows[1].pk).update(parked_at=timezone.now())
    OutboxEvent.objects.using("cart").filter(pk=rows[2].pk).update(published_at=timezone.now())
    for replayed_at in (None, timezone.now()):
        DeadLetter.objects.using("cart").create(
            event_id=uuid.uuid4(), event_type="stock.rejected", error_message="boom", replayed_at=replayed_at
        )
    server = probe_server(collectors=[OutboxCollector(["cart"])])

    # when: Prometheus scrapes the relay
    status, body = get(server, "/metrics")

    # then
    assert status == 200
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.labels.get("service") == "cart" and "bucket" not in sample.name
    }
    assert samples["shop_relay_database_up"] == 1
    assert samples["shop_outbox_backlog"] == 2
    assert 90 <= samples["shop_outbox_oldest_age_seconds"] < 120
    assert samples["shop_outbox_parked"] == 1
    assert samples["shop_dead_letters_waiting"] == 1


@pytest.mark.django_db(databases=["cart"], transaction=True)
def test_an_empty_outbox_has_no_age_and_a_database_that_does_not_answer_is_down(probe_server, settings):
    collector = OutboxCollector(["cart"], timeout=0.5)
    [*_, up] = collector.collect()
    backlog, age, *_ = collector.collect()
    assert [s.value for s in up.samples] == [1]
    assert ([s.value for s in backlog.samples], [s.value for s in age.samples]) == ([0], [0])

    settings.DATABASES["cart"]["PORT"] = "1"  # what the collector's own connection reads
    try:
        families = {family.name: family for family in collector.collect()}
    finally:
        settings.DATABASES["cart"]["PORT"] = "5432"
    assert [s.value for s in families["shop_relay_database_up"].samples] == [0]
    assert families["shop_outbox_backlog"].samples == []  # unknown, not zero


def test_every_process_that_is_not_a_web_service_gets_its_probe_port_moved_by_the_platform_offset():
    from runner.processes import FLOWER_PORT, platform_processes

    processes = platform_processes("python", port_offset=10000)

    ports = {name: int(env["METRICS_PORT"]) for name, (_, env) in processes.items() if "METRICS_PORT" in env}
    # every process of ours; Flower (Celery's monitor) serves its own pages and /metrics on its own port
    assert set(ports) == {name for name in processes if not name.endswith("-web")} - {"flower"}
    assert f"--port={FLOWER_PORT + 10000} " in processes["flower"][0]
    assert ports == {name: port + 10000 for name, port in METRICS_PORTS.items()}
    web_ports = {int(env["PORT"]) for name, (_, env) in processes.items() if name.endswith("-web")}
    assert not web_ports & set(ports.values())
