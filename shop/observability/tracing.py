"""OpenTelemetry traces: one trace per order, from its HTTP request to its push message.

Off, and free, unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is
set: then each process calls ``configure`` once (gunicorn per worker after the fork, the relay, the
bridge, each Celery worker process), which exports over OTLP/HTTP in batches and instruments Django,
Celery and the database. The hot paths ask ``ENABLED`` before anything else, so that with tracing
off an event costs one attribute lookup more.

The context crosses the asynchronous hops in W3C form: ``record_event`` keeps the current
``traceparent``/``tracestate`` in the outbox row, the relay publishes each row in a producer span of
that trace and puts the span's context in the message attributes, the bridge hands a pulled batch
to Celery inside a span of the first event's context (Celery's instrumentation carries it in the
task headers), and the consumer runs each event's handler in a span whose parent is that event's
own context, so the events it records carry the same trace on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# Whether this process traces: read first by every hot path.
ENABLED = False

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# Prometheus scrapes and probes (the health check is GET /) are no story worth a trace each: regexes
# searched in the request's URL; OTEL_PYTHON_DJANGO_EXCLUDED_URLS replaces them.
DEFAULT_EXCLUDED_URLS = "://[^/]+/$,/metrics$,/healthz$,/livez$,/readyz$"
MESSAGING_SYSTEM = "gcp_pubsub"
MAX_TRACESTATE = 512  # the outbox column's length

_NO_CONTEXT = ("", "")
_NOOP = contextlib.nullcontext()
# W3C trace context only: baggage could carry anything, and it would travel into every message.
_propagator = TraceContextTextMapPropagator()
_tracer: trace.Tracer = trace.NoOpTracer()


def endpoint_configured(environ: Mapping[str, str] = os.environ) -> bool:
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def configure(process_name: str) -> bool:
    """Export this process's traces over OTLP when an endpoint is configured; whether it now traces.

    ``process_name`` is the resource's ``service.name`` ("cart-service", "relay", "bridge",
    "order-inventory-worker"); ``OTEL_SERVICE_NAME`` overrides it. Call it once per process, after
    any fork (the exporter's batch thread does not survive one) and before the WSGI application is
    loaded (Django's instrumentation adds a middleware).
    """
    import shop.settings.environment  # noqa: F401 - reads the root .env into os.environ, where the SDK looks too

    if ENABLED or not endpoint_configured():
        return ENABLED
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or process_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # reads the OTEL_EXPORTER_OTLP_* variables
    trace.set_tracer_provider(provider)
    install(provider)
    return True


def configure_worker(process_name: str, pool: str) -> None:
    """``configure`` for a Celery worker: now for a pool of threads, in each child for prefork."""
    if pool != "prefork":
        configure(process_name)
        return
    from celery import signals

    def on_process_init(**_) -> None:
        configure(process_name)

    signals.worker_process_init.connect(on_process_init, weak=False)


def install(provider: trace.TracerProvider) -> None:
    """Instrument Django, Celery and the database with ``provider``; the hot paths start tracing.

    ``configure`` calls it with the OTLP provider; a test may call it with one of its own (an
    in-memory exporter) and ``uninstall`` afterwards.
    """
    global ENABLED, _tracer
    from django.db import connections
    from django.db.backends.signals import connection_created
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    _tracer = provider.get_tracer(__name__)
    excluded = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=excluded)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    connection_created.connect(_trace_connection, dispatch_uid=__name__)
    for connection in connections.all(initialized_only=True):  # this thread's, opened already
        _trace_connection(None, connection)
    ENABLED = True


def uninstall() -> None:
    """Undo ``install`` (tests). The wrappers left on other threads' connections pass straight through."""
    global ENABLED, _tracer
    from django.db import connections
    from django.db.backends.signals import connection_created
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    ENABLED = False
    _tracer = trace.NoOpTracer()
    DjangoInstrumentor().uninstrument()
    CeleryInstrumentor().uninstrument()
    connection_created.disconnect(dispatch_uid=__name__)
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(ValueError):
            connection.execute_wrappers.remove(_trace_statement)


# --- the database ---------------------------------------------------------------------------------
# A span per statement, through Django's own execute wrapper (every statement of the platform goes
# through a Django connection). opentelemetry-instrumentation-psycopg would do the same from below,
# but its release matching our SDK is not published (see NOTES-trace.md).


def _trace_connection(sender, connection, **_) -> None:
    if _trace_statement not in connection.execute_wrappers:  # connection_created fires on each reconnect
        # First, the outermost: connection.execute_wrapper() blocks pop the last one on leaving.
        connection.execute_wrappers.insert(0, _trace_statement)


def _trace_statement(execute, sql, params, many, context):
    """A client span for one statement, inside a trace only: a relay's poll is no trace of its own."""
    if not ENABLED or not trace.get_current_span().get_span_context().is_valid:
        return execute(sql, params, many, context)
    settings = context["connection"].settings_dict
    operation = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
    attributes = {
        "db.system.name": "postgresql",
        "db.namespace": settings.get("NAME") or "",
        "db.operation.name": operation,
        "db.query.text": sql,  # the statement, never its parameters
        "server.address": settings.get("HOST") or "",
    }
    if settings.get("PORT"):
        attributes["server.port"] = int(settings["PORT"])
    with _tracer.start_as_current_span(f"{operation} {attributes['db.namespace']}", kind=SpanKind.CLIENT) as span:
        span.set_attributes(attributes)
        return execute(sql, params, many, context)


# --- across the outbox, Pub/Sub and Celery --------------------------------------------------------


def outbox_context() -> tuple[str, str]:
    """(traceparent, tracestate) of the current span, for an outbox row; empty when there is none."""
    if not ENABLED:
        return _NO_CONTEXT
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    tracestate = carrier.get("tracestate", "")
    # The column keeps 512 characters, what W3C asks every hop to pass on; a longer one is dropped whole.
    return carrier.get("traceparent", ""), tracestate if len(tracestate) <= MAX_TRACESTATE else ""


def _carrier(traceparent: str, tracestate: str) -> dict[str, str]:
    return {"traceparent": traceparent, "tracestate": tracestate} if tracestate else {"traceparent": traceparent}


def start_publish(topic: str, event_id, traceparent: str, tracestate: str) -> tuple[Span | None, dict[str, str] | None]:
    """A producer span "publish <topic>" in the row's trace, and the message attributes that carry it on.

    A row recorded with no trace gets neither. With tracing off here, the row's own context is passed
    through unchanged, so a trace begun elsewhere goes on past an untraced relay.
    """
    if not traceparent:
        return None, None
    if not ENABLED:
        return None, _carrier(traceparent, tracestate)
    span = _tracer.start_span(
        f"publish {topic}",
        context=_propagator.extract(_carrier(traceparent, tracestate)),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.id": str(event_id),
        },
    )
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return span, carrier


def end_publish(span: Span, error: Exception | None = None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(trace.StatusCode.ERROR, f"{type(error).__name__}: {error}")
    span.end()


def _span_context(attributes) -> SpanContext | None:
    """The context an event's message attributes carry, if any (a traceparent that does not parse: none)."""
    if not isinstance(attributes, Mapping) or not attributes.get("traceparent"):
        return None
    carrier = _carrier(str(attributes["traceparent"]), str(attributes.get("tracestate") or ""))
    context = trace.get_current_span(_propagator.extract(carrier)).get_span_context()
    return context if context.is_valid else None


def handing_over(subscription: str, messages: Sequence[Sequence]) -> contextlib.AbstractContextManager:
    """The bridge's span around sending one task for a pulled batch (Celery carries it in the headers).

    Its parent is the first event's context, the batch's other events are links: one task cannot have
    several parents. The consumer gives every event its own parent again (``handling``).
    """
    if not ENABLED:
        return _NOOP
    contexts = [context for context in (_span_context(message[2]) for message in messages) if context is not None]
    parent = trace.set_span_in_context(NonRecordingSpan(contexts[0])) if contexts else None
    return _tracer.start_as_current_span(
        f"hand over {subscription}",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=[Link(context) for context in contexts[1:]],
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "receive",
            "messaging.destination.subscription.name": subscription,
            "messaging.batch.message_count": len(messages),
        },
    )


def handling(event_type: str, attributes) -> contextlib.AbstractContextManager:
    """The span "handle <event_type>" around one event's handler (see ``_handler_span``)."""
    if not ENABLED:
        return _NOOP
    return _handling_all(event_type, [attributes])


def handling_together(event_type: str, attributes: Sequence) -> contextlib.AbstractContextManager:
    """Spans "handle <event_type>" around a batch handler: one per event, each in its own trace."""
    if not ENABLED:
        return _NOOP
    return _handling_all(event_type, attributes)


@contextlib.contextmanager
def _handling_all(event_type: str, attributes: Sequence) -> Iterator[None]:
    """One span per event, each a child of its event's own context; the first is the current one.

    A task carries a batch of events of different orders, so its span cannot be every event's
    parent: each event's span takes the parent its message carries (the relay's publish span), with a
    link to the task's span, and is nested in the task's span instead when both are of one trace (an
    idle platform: one event per task, one tree). What runs meanwhile (the statements, the events
    recorded) belongs to the first event: a batch handler does one piece of work for all of them.
    """
    task = trace.get_current_span().get_span_context()
    spans = [_handler_span(event_type, one, task) for one in attributes]
    try:
        with trace.use_span(spans[0], record_exception=False, set_status_on_exception=False):
            yield
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for span in spans:
            span.end()


def _handler_span(event_type: str, attributes, task: SpanContext) -> Span:
    own = _span_context(attributes)
    if own is None or (task.is_valid and own.trace_id == task.trace_id):
        parent, links = None, []  # the current (task's) span, in the same trace
    else:
        parent = trace.set_span_in_context(NonRecordingSpan(own))
        links = [Link(task)] if task.is_valid else []
    event_id = attributes.get("event_id", "") if isinstance(attributes, Mapping) else ""
    return _tracer.start_span(
        f"handle {event_type}",
        context=parent,
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={
            "messaging.system": MESSAGING_SYSTEM,
            "messaging.operation.type": "process",
            "messaging.destination.name": event_type,
            "messaging.message.id": str(event_id),
        },
    )
