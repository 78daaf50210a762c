"""Traces from the real processes: a platform started with OTEL_EXPORTER_OTLP_ENDPOINT, as an operator would.

tests/integration/test_trace_chain.py proves the chain in one process; this proves each process
turns tracing on for itself (gunicorn's workers after the fork, the relay, the bridge, the Celery
workers) and exports to the collector under its own service name, all in the one trace of an order.
"""

import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.conftest import running_platform
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, convert, new_customer, new_product, outcome

pytestmark = pytest.mark.e2e


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver (protobuf): every span exported, as (service.name, span), by trace id."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Receive)
        self.traces: dict[bytes, list] = defaultdict(list)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans_of(self, trace_id: bytes) -> list:
        with self.lock:
            return list(self.traces[trace_id])

    def find(self, service: str, name: str) -> list:
        with self.lock:
            return [span for spans in self.traces.values() for s, span in spans if s == service and span.name == name]


class _Receive(BaseHTTPRequestHandler):
    def do_POST(self):
        request = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["content-length"])))
        with self.server.lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.server.traces[span.trace_id].append((attributes["service.name"], span))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def collector():
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def traced_platform(pubsub_emulator, tmp_path_factory, collector):
    with running_platform(
        tmp_path_factory.mktemp("traced"),
        pubsub_emulator,
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="200",  # export every 0.2 s, not every 5 s
    ) as running:
        yield running


def test_an_order_is_one_trace_across_the_processes_each_under_its_own_name(traced_platform, collector):
    platform = traced_platform
    customer = new_customer(platform)
    sku = new_product(platform, stock=5)
    add(platform, customer, sku, 1)

    cart_id = convert(platform, customer)

    assert outcome(platform, cart_id) == "ordered"
    [request] = wait_until(
        lambda: collector.find("cart-service", "POST ^cart/convert-to-order/?$"), message="the convert request's span"
    )
    expected = {
        "publish order-requested",
        "publish push.requested",
        "hand over push-service-push-requested",
        "apply_async/push.handle_events",
        "handle order-requested",
        "handle push.requested",
    }

    def names_by_service() -> dict[str, set[str]]:
        names = defaultdict(set)
        for service, span in collector.spans_of(request.trace_id):
            names[service].add(span.name)
        return names

    # each process exports on its own schedule: wait for the last of them
    wait_until(lambda: expected <= set().union(*names_by_service().values()), timeout=30, message="the order's spans")
    by_service = names_by_service()
    spans = collector.spans_of(request.trace_id)

    assert {"publish order-requested", "publish push.requested"} <= by_service["relay"]
    # the bridge sends tasks by name, and Celery's publish span is its child
    assert {"hand over push-service-push-requested", "apply_async/push.handle_events"} <= by_service["bridge"]
    assert any("handle push.requested" in names for service, names in by_service.items() if service.endswith("-worker"))
    assert any(
        "handle order-requested" in names for service, names in by_service.items() if service.endswith("-worker")
    )
    statements = [a.value.string_value for _, span in spans for a in span.attributes if a.key == "db.query.text"]
    assert any("push_pushmessage" in statement for statement in statements), "the push message's INSERT"
    # every process kind took part, each under its own name
    assert {"cart-service", "relay", "bridge"} <= set(by_service)
    assert sum(service.endswith("-worker") for service in by_service) == 2  # make run's two worker processes
