"""Tracing on, into memory, for the length of a test (never imported by the platform itself)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shop.observability import tracing


@dataclass(frozen=True)
class Recording:
    exporter: InMemorySpanExporter
    tracer: trace.Tracer  # for a test's own spans (a task's, a request's), from the same provider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """The finished spans, in the order they ended; those of one name only if given."""
        return [span for span in self.exporter.get_finished_spans() if name is None or span.name == name]


@contextlib.contextmanager
def recording_spans() -> Iterator[Recording]:
    """Django, Celery and the database instrumented as ``configure`` does, every span kept in memory.

    The provider is not made the global one (that can be done once per process): the instrumentations
    are handed it, and ``tracing.uninstall`` takes them off again afterwards.
    """
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield Recording(exporter, provider.get_tracer(__name__))
    finally:
        tracing.uninstall()
        provider.shutdown()
