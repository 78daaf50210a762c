"""The small HTTP server of the processes that are not web services: /metrics, /livez, /readyz.

The relay, the bridge and the Celery workers each start one on a port of their own (shop/registry.py
METRICS_PORTS, METRICS_PORT overrides, 0 turns it off), in a daemon thread beside their loop:

- ``GET /metrics``: Prometheus' text exposition of the process (of its pool's processes too, under
  PROMETHEUS_MULTIPROC_DIR), plus the collectors it was given (the relay's outbox state);
- ``GET /livez``: 200 while every loop of the process has beaten within LIVENESS_STALE_SECONDS
  (shop/observability/liveness.py), 503 naming the stalled loop otherwise; it touches no dependency;
- ``GET /readyz``: the same checks and document as a web service's ``GET /``, of what this process
  uses (shop/observability/health.py), 200 or 503.

Not authenticated: meant for the cluster network only (the Kubernetes NetworkPolicies of another
issue keep it there).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.registry import Collector

from shop.observability import health
from shop.observability.liveness import HEARTBEATS, Heartbeats

logger = logging.getLogger(__name__)


class _Everything(Collector):
    """The process's default registry, as one collector of another registry."""

    def collect(self):
        return REGISTRY.collect()


def metrics_registry(collectors: list[Collector] = ()) -> CollectorRegistry:
    """The process's metrics (every pool process's under PROMETHEUS_MULTIPROC_DIR), and ``collectors``."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Everything())
    for collector in collectors:
        registry.register(collector)
    return registry


class ProbeServer:
    """``ProbeServer(process="relay", port=9100, checks=...)``; ``start()`` serves from a daemon thread."""

    def __init__(
        self,
        *,
        process: str,
        port: int,
        host: str | None = None,
        checks: Callable[[], list[health.Check]] = list,
        collectors: list[Collector] = (),
        heartbeats: Heartbeats = HEARTBEATS,
    ):
        self.process = process
        self.checks = checks
        self.heartbeats = heartbeats
        self.registry = metrics_registry(list(collectors))
        self.httpd = ThreadingHTTPServer((host or settings.METRICS_HOST, port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"{process}-probes", daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> ProbeServer:
        self.thread.start()
        logger.info("%s: /metrics, /livez and /readyz on port %d", self.process, self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def liveness(self) -> tuple[dict, int]:
        stalled = self.heartbeats.stalled(settings.LIVENESS_STALE_SECONDS)
        if stalled:
            detail = {loop: f"no progress for {age:.0f}s" for loop, age in sorted(stalled.items())}
            return {"status": "stalled", "process": self.process, "loops": detail}, 503
        return {"status": "alive", "process": self.process, "loops": sorted(self.heartbeats.loops())}, 200

    def readiness(self) -> tuple[dict, int]:
        return health.report(self.checks(), process=self.process)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?", 1)[0].rstrip("/")
                try:
                    if path == "/metrics":
                        self._send(200, CONTENT_TYPE_LATEST, generate_latest(server.registry))
                    elif path == "/livez":
                        self._json(*server.liveness())
                    elif path == "/readyz":
                        self._json(*server.readiness())
                    else:
                        self._json({"detail": "Not found."}, 404)
                except Exception:
                    logger.exception("%s: %s failed", server.process, path)
                    self._json({"detail": "Internal server error."}, 500)

            def _json(self, body: dict, status: int) -> None:
                self._send(status, "application/json", json.dumps(body).encode())

            def _send(self, status: int, content_type: str, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format, *args):
                pass  # a scrape every few seconds is not news

        return Handler


def metrics_port(process: str) -> int:
    """The port of a process: METRICS_PORT, else its own in the registry (a worker's when not listed)."""
    from shop.registry import METRICS_PORTS, WORKER_METRICS_PORT

    if settings.METRICS_PORT is not None:
        return settings.METRICS_PORT
    return METRICS_PORTS.get(process, WORKER_METRICS_PORT)


def serve_probes(process: str, **options) -> ProbeServer | None:
    """Start the process's probe server on its port; None when turned off (port 0) or the port is taken.

    A port that is taken does not stop the process (its work matters more than its metrics); the
    error is logged, and an orchestrator's probes will say the rest.
    """
    port = metrics_port(process)
    if not port:
        return None
    try:
        return ProbeServer(process=process, port=port, **options).start()
    except OSError as exc:
        logger.error("%s: cannot serve /metrics, /livez and /readyz on port %d: %s", process, port, exc)
        return None
