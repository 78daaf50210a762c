"""Traces (shop/observability/tracing.py): off and free by default, and the context each hop carries on.

The whole chain, through the real relay, Pub/Sub, bridge and a Celery worker, is proved in
tests/integration/test_trace_chain.py.
"""

import uuid

import pytest
from django.db import transaction
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from apps.carts.tasks import consumer as cart_consumer
from apps.carts.tests.factories import CartFactory
from apps.events.consumer import Delivery, Outcome
from apps.events.contracts import Line, OrderCreated, OrderRequested, PricedLine
from shop.observability import tracing
from testsupport.events import message, recorded
from testsupport.tracing import recording_spans
from workers.relay import pubsub_message

pytestmark = pytest.mark.django_db(databases=["cart"])

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def ids(traceparent: str) -> tuple[int, int]:
    """(trace id, parent span id) of a W3C traceparent."""
    _, trace_id, span_id, _ = traceparent.split("-")
    return int(trace_id, 16), int(span_id, 16)


def order_requested() -> OrderRequested:
    return OrderRequested(
        cart_id=uuid.uuid4(), customer_id=uuid.uuid4(), items=[Line(product_sku="LAP-001", quantity=1)]
    )


def order_created(cart_id) -> OrderCreated:
    return OrderCreated(
        order_id=uuid.uuid4(),
        cart_id=cart_id,
        customer_id=uuid.uuid4(),
        total_amount="9.99",
        items=[PricedLine(product_sku="LAP-001", quantity=1, price="9.99")],
    )


def record(event):
    with transaction.atomic(using="cart"):
        return recorded(event, using="cart")


# --- off --------------------------------------------------------------------------------------------


def test_without_an_otlp_endpoint_nothing_is_configured_installed_or_recorded(monkeypatch):
    for name in tracing.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    assert tracing.configure("cart-service") is False

    assert tracing.ENABLED is False
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # nothing installed
    with trace.get_tracer(__name__).start_as_current_span("someone else's span"):
        row = record(order_requested())
    assert (row.traceparent, row.tracestate) == ("", "")
    assert not {"traceparent", "tracestate"} & set(pubsub_message(row, "cart-service").attributes)


def test_either_endpoint_variable_turns_tracing_on():
    assert tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert not tracing.endpoint_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})


def test_with_tracing_off_a_message_carrying_a_traceparent_is_handled_as_any_other():
    cart = CartFactory(processing=True)

    [result] = cart_consumer.handle([Delivery.of(message(order_created(cart.id), traceparent="not a traceparent"))])

    assert result.outcome is Outcome.PROCESSED


def test_with_tracing_off_the_relay_passes_a_recorded_context_on_unchanged():
    row = record(order_requested())
    row.traceparent, row.tracestate = TRACEPARENT, "vendor=1"

    attributes = pubsub_message(row, "cart-service", tracing.start_publish(row.topic, row.event_id, *_context(row))[1])

    assert attributes.attributes["traceparent"] == TRACEPARENT
    assert attributes.attributes["tracestate"] == "vendor=1"


def _context(row):
    return row.traceparent, row.tracestate


# --- on ---------------------------------------------------------------------------------------------


@pytest.fixture
def spans():
    with recording_spans() as exporter:
        yield exporter


def test_an_event_recorded_in_a_span_keeps_its_context_and_one_recorded_outside_keeps_none(spans):
    with spans.tracer.start_as_current_span("convert") as span:
        inside = record(order_requested())
    outside = record(order_requested())

    context = span.get_span_context()
    assert ids(inside.traceparent) == (context.trace_id, context.span_id)
    assert outside.traceparent == ""
    # the statements of the change are spans of that trace; those outside any trace are not recorded
    inserts = [s for s in spans.spans() if s.kind is SpanKind.CLIENT]
    assert inserts
    assert {s.context.trace_id for s in inserts} == {context.trace_id}


def test_the_relay_publishes_in_a_producer_span_of_the_rows_trace_and_passes_that_span_on(spans):
    row = record(order_requested())
    row.traceparent = TRACEPARENT

    span, carried = tracing.start_publish(row.topic, row.event_id, row.traceparent, row.tracestate)
    attributes = pubsub_message(row, "cart-service", carried).attributes
    tracing.end_publish(span)

    [published] = [s for s in spans.spans() if s.name == "publish order-requested"]
    assert published.kind is SpanKind.PRODUCER
    assert (published.context.trace_id, published.parent.span_id) == ids(TRACEPARENT)
    assert ids(attributes["traceparent"]) == (published.context.trace_id, published.context.span_id)
    assert attributes["event_id"] == str(row.event_id)  # the envelope is all there beside it


def test_a_handler_runs_in_its_events_own_trace_linked_to_the_task_that_carried_it(spans):
    cart = CartFactory(processing=True)
    delivery = Delivery.of(message(order_created(cart.id), traceparent=TRACEPARENT))

    # when: a task of another trace (a batch of several orders) runs it
    with spans.tracer.start_as_current_span("run/cart.handle_events") as task:
        [result] = cart_consumer.handle([delivery])

    assert result.outcome is Outcome.PROCESSED
    [handled] = [s for s in spans.spans() if s.name == "handle order.created"]
    assert (handled.context.trace_id, handled.parent.span_id) == ids(TRACEPARENT)
    assert [link.context.span_id for link in handled.links] == [task.get_span_context().span_id]
    # the cart's UPDATE belongs to the order's trace, under its handler
    [update] = [s for s in spans.spans() if s.name.startswith("UPDATE")]
    assert update.parent.span_id == handled.context.span_id


def test_a_handler_nests_in_the_task_span_when_the_task_carried_its_own_trace(spans):
    cart = CartFactory(processing=True)

    with spans.tracer.start_as_current_span("run/cart.handle_events") as task:
        context = task.get_span_context()
        traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-01"
        cart_consumer.handle([Delivery.of(message(order_created(cart.id), traceparent=traceparent))])

    [handled] = [s for s in spans.spans() if s.name == "handle order.created"]
    assert handled.parent.span_id == context.span_id
    assert handled.links == ()
