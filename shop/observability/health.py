"""Readiness: can this process reach what it depends on? Bounded, cached checks of each dependency.

The web services' ``GET /`` and the relay's, the bridge's and the workers' ``/readyz`` answer with
the same document: ``{"status": "healthy" | "unhealthy", ..., "checks": {<dependency>: "ok" | error}}``,
200 or 503. Each check runs in a thread of its own dependency and is waited for at most
HEALTH_CHECK_TIMEOUT_SECONDS (a dependency that hangs answers "timed out", and holds up no other
check); its result is kept HEALTH_CHECK_CACHE_SECONDS, so that probes every second cost each
dependency one check per interval and process. An error says what failed, never where (host
names and addresses stay in the log): ``GET /`` is public.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connections
from kombu import Connection

from shop.registry import Service

logger = logging.getLogger(__name__)

OK = "ok"


@dataclass(frozen=True)
class Check:
    """One dependency to check: ``name`` is its key in the document, ``probe`` raises when it is down.

    ``target`` says which one (a database alias, a queue, a topic): checks of the same target share
    their thread and their cached result, whatever process asks (a test process serves every service).
    """

    name: str
    target: str
    probe: Callable[[], None]

    @property
    def key(self) -> str:
        return f"{self.name}:{self.target}"


# --- The probes ------------------------------------------------------------------------------------


def bounded_connection(alias: str, timeout: float) -> psycopg.Connection:
    """A short-lived connection of its own to a database of ours (never a request's or a loop's), bounded
    by ``timeout`` to connect and per statement, for what must answer even when the process is stuck."""
    params = connections[alias].get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["connect_timeout"] = max(2, int(timeout + 0.999))  # libpq's minimum is 2 s
    params["options"] = f"-c statement_timeout={int(timeout * 1000)}"
    return psycopg.connect(**params, autocommit=True)


def database_probe(alias: str) -> Callable[[], None]:
    """Connect to a database of ours and SELECT 1, on a connection of the check's own (bounded connect)."""

    def probe() -> None:
        with bounded_connection(alias, settings.HEALTH_CHECK_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")

    return probe


def broker_probe(queues: list[str]) -> Callable[[], None]:
    """Connect to the broker and find each queue there (a passive declare: nothing is created)."""

    def probe() -> None:
        timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
        # kombu's own connection, as Celery's app would open it (the app imports this package's logging)
        transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        with Connection(
            settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=transport_options
        ) as connection:
            connection.ensure_connection(max_retries=0)  # one attempt: the probe says, it does not wait
            for queue in queues:
                channel = connection.channel()
                try:
                    channel.queue_declare(queue=queue, passive=True)
                except connection.channel_errors as exc:
                    raise QueueMissing(f"queue {queue} is not declared") from exc
                finally:
                    channel.close()

    return probe


def pubsub_probe(topic: str) -> Callable[[], None]:
    """Ask Pub/Sub for a topic. Any answer from the service counts as reachable (a topic not found or
    not ours to read: the relay and the bridge create what is missing; least-privilege accounts may
    not read topics); only no answer in time, or a refusal to talk to us, is a failure."""

    def probe() -> None:
        from google.api_core import exceptions

        from apps.events.pubsub import topic_path

        try:
            pubsub_admin_client().get_topic(
                request={"topic": topic_path(topic)}, timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS, retry=None
            )
        except (exceptions.NotFound, exceptions.PermissionDenied):
            return

    return probe


def pubsub_admin_client():
    """A Publisher API client for the checks, for the emulator of the settings when there is one."""
    return _pubsub_admin_client(settings.PUBSUB_EMULATOR_HOST)


@functools.cache
def _pubsub_admin_client(emulator_host: str):
    from google import pubsub_v1 as gapic

    if not emulator_host:
        return gapic.PublisherClient()
    import grpc
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    return gapic.PublisherClient(transport=PublisherGrpcTransport(channel=grpc.insecure_channel(emulator_host)))


class QueueMissing(Exception):
    """The broker answers, but a queue the process works with is not there."""


# --- What each process checks --------------------------------------------------------------------


def service_checks(service: Service, enabled: list[str] | None = None) -> list[Check]:
    """A web service's checks, of what its service uses: its database, its Celery queue if it consumes
    events, Pub/Sub (a topic it publishes, else one it consumes) if it takes part in messaging."""
    from shop.topology import handlers_of, published_by

    enabled = settings.HEALTH_CHECKS if enabled is None else enabled
    checks = []
    if "database" in enabled:
        checks.append(Check("database", service.database, database_probe(service.database)))
    consumes = sorted(handlers_of(service))
    if "broker" in enabled and consumes:
        checks.append(Check("broker", service.queue, broker_probe([service.queue])))
    topics = [*published_by(service), *consumes]
    if "pubsub" in enabled and topics:
        checks.append(Check("pubsub", topics[0], pubsub_probe(topics[0])))
    return checks


def database_checks(databases: list[str]) -> list[Check]:
    """One check per database, named ``database:<alias>`` (the relay and the workers use several)."""
    return [Check(f"database:{alias}", alias, database_probe(alias)) for alias in databases]


def broker_check(queues: list[str]) -> Check:
    return Check("broker", ",".join(queues), broker_probe(queues))


def pubsub_check(topic: str) -> Check:
    return Check("pubsub", topic, pubsub_probe(topic))


# --- Running them: bounded and cached --------------------------------------------------------------


class Checker:
    """Runs checks concurrently, each in its own dependency's thread, bounded and cached.

    One thread per dependency (by check key): a dependency that hangs holds only its own thread,
    and while its check is still running a new probe waits for that same check instead of starting
    another, so that a dead dependency never piles up threads or connections.
    """

    def __init__(self, *, timeout: float | None = None, cache_seconds: float | None = None):
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._running: dict[str, Future] = {}
        self._results: dict[str, tuple[float, str]] = {}  # name -> (monotonic time, result)

    @property
    def timeout(self) -> float:
        return settings.HEALTH_CHECK_TIMEOUT_SECONDS if self._timeout is None else self._timeout

    @property
    def cache_seconds(self) -> float:
        return settings.HEALTH_CHECK_CACHE_SECONDS if self._cache_seconds is None else self._cache_seconds

    def run(self, checks: list[Check]) -> dict[str, str]:
        """name -> "ok" or what failed, for each check."""
        now = time.monotonic()
        results: dict[str, str] = {}
        waiting: dict[str, Future] = {}
        with self._lock:
            for check in checks:
                cached = self._results.get(check.key)
                if cached is not None and now - cached[0] < self.cache_seconds:
                    results[check.key] = cached[1]
                    continue
                future = self._running.get(check.key)
                if future is None or future.done():
                    executor = self._executors.get(check.key)
                    if executor is None:
                        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"check-{check.key}")
                        self._executors[check.key] = executor
                    future = self._running[check.key] = executor.submit(check.probe)
                waiting[check.key] = future
        deadline = time.monotonic() + self.timeout
        for name, future in waiting.items():
            try:
                future.result(timeout=max(deadline - time.monotonic(), 0.0))
                result = OK
            except FutureTimeout:
                result = f"unavailable: timed out after {self.timeout:g}s"
            except Exception as exc:
                result = describe_failure(exc)
                previous = self._results.get(name)
                if previous is None or previous[1] == OK:
                    logger.warning("readiness: %s failed: %s: %s", name, type(exc).__name__, exc)
            with self._lock:
                self._results[name] = (time.monotonic(), result)
            results[name] = result
        return {check.name: results[check.key] for check in checks}


def describe_failure(exc: Exception) -> str:
    """What failed, without the addresses a driver's message carries (the full error is logged)."""
    if isinstance(exc, QueueMissing):
        return f"unavailable: {exc}"
    return f"unavailable: {type(exc).__name__}"


CHECKER = Checker()


def report(checks: list[Check], **identity: str) -> tuple[dict, int]:
    """The health document and its status code: 200 when every check is ok, 503 otherwise."""
    results = CHECKER.run(checks)
    healthy = all(result == OK for result in results.values())
    body = {"status": "healthy" if healthy else "unhealthy", **identity, "checks": results}
    return body, 200 if healthy else 503
