"""Every Prometheus metric of the platform's own, in one place (the HTTP ones are django-prometheus's).

Names follow Prometheus' conventions: prefix ``shop_``, base units (seconds), ``_total`` on
counters. Labels are bounded: ``service`` is a registry name ("cart"), ``topic`` one of the
contract's topics, ``outcome`` a consumer Outcome, ``error`` an exception class name. Nothing here
costs a database statement per event: the processes count what they do in memory (a counter
increment, a histogram observation), and what only the databases know (outbox backlog, dead letters)
is read at scrape time by ``OutboxCollector``, in the relay.

Under gunicorn the web services count in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set up by
shop/gunicorn_conf.py); the relay, the bridge and a threads-pool worker are one process each.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shop.observability import health

logger = logging.getLogger(__name__)

# From a few milliseconds (a handler, a Publish call) to minutes (an event waiting out an outage).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

# --- Outbox and relay ------------------------------------------------------------------------

EVENTS_RECORDED = Counter(
    "shop_events_recorded_total",
    "Events a service committed to its outbox (web requests and handlers), by topic.",
    ["service", "topic"],
)
EVENTS_PUBLISHED = Counter(
    "shop_events_published_total",
    "Events the relay published to Pub/Sub (Pub/Sub accepted them), by producing service and topic.",
    ["service", "topic"],
)
PUBLISH_FAILURES = Counter(
    "shop_publish_failures_total",
    "Outbox rows whose publication failed (each failed attempt), by producing service, topic and error class.",
    ["service", "topic", "error"],
)
PUBLISH_LAG = Histogram(
    "shop_relay_publish_lag_seconds",
    "From an event's recording in the outbox to its publication by the relay.",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
PUBLISH_REQUEST = Histogram(
    "shop_pubsub_publish_request_seconds",
    "Duration of one Publish call of the relay (a batch of one topic), failed ones included.",
    ["topic"],
    buckets=LATENCY_BUCKETS,
)
REDRIVEN = Counter(
    "shop_redriven_events_total",
    "Outbox rows the relay's re-drive marked to be published again (a subscriber never received them).",
    ["service"],
)
REDRIVE_GIVEN_UP = Counter(
    "shop_redrive_given_up_total",
    "Outbox rows the re-drive gave up on after REDRIVE_MAX_PER_EVENT re-publications.",
    ["service"],
)

# --- Bridge ----------------------------------------------------------------------------------

PULL_LATENCY = Histogram(
    "shop_bridge_pull_latency_seconds",
    "From Pub/Sub's publish time of a message to the bridge receiving it, by consuming service.",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
HANDOVER_LATENCY = Histogram(
    "shop_bridge_handover_seconds",
    "From the bridge receiving messages to the broker confirming their task, per task.",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
HANDED_OVER = Counter(
    "shop_bridge_handed_over_total",
    "Messages the bridge handed to the consuming service's Celery queue (confirmed by the broker).",
    ["service", "topic"],
)
BRIDGE_DEAD_LETTERED = Counter(
    "shop_bridge_dead_lettered_total",
    "Messages the bridge could not route (or believe) and published to the subscription's dead-letter topic.",
    ["service", "topic"],
)
HANDOVER_FAILURES = Counter(
    "shop_bridge_handover_failures_total",
    "Messages the bridge handed back to Pub/Sub because the broker refused their task.",
    ["service", "topic"],
)

# --- Consumers (the Celery workers) ------------------------------------------------------------

EVENTS_CONSUMED = Counter(
    "shop_events_consumed_total",
    "Events a service's consumer took, by topic and outcome (processed, duplicate, retry, dead_lettered, "
    "unrecordable; requeued: its database was unreachable, the broker keeps it).",
    ["service", "topic", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "shop_event_handler_seconds",
    "Time in a service's handler per event (a batch handler's time shared among its events).",
    ["service", "topic"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_BATCH_SECONDS = Histogram(
    "shop_consumer_batch_seconds",
    "Wall time of one consumer call (one task: a pulled batch or one event), inbox and commit included.",
    ["service"],
    buckets=LATENCY_BUCKETS,
)

UNKNOWN_TOPIC = "unknown"  # what a consumer was handed that it has no handler for: one label, not one per name


def count_recorded(service: str, topic: str) -> None:
    EVENTS_RECORDED.labels(service, topic).inc()


def count_published(service: str, rows: Sequence, published: Iterable[int], now: datetime) -> None:
    """A relay batch's published rows (``rows`` have ``pk``, ``topic``, ``occurred_at``), by topic, and their lag."""
    published = set(published)
    topics: Tally[str] = Tally()
    lag = PUBLISH_LAG.labels(service)
    for row in rows:
        if row.pk in published:
            topics[row.topic] += 1
            lag.observe(max((now - row.occurred_at).total_seconds(), 0.0))
    for topic, count in topics.items():
        EVENTS_PUBLISHED.labels(service, topic).inc(count)


def count_consumed(service: str, known: dict, results: Sequence, started: float) -> None:
    """A consumer call's results (``delivery.event_type``, ``outcome``) and its duration."""
    CONSUMER_BATCH_SECONDS.labels(service).observe(time.perf_counter() - started)
    tally: Tally[tuple[str, str]] = Tally()
    for result in results:
        topic = result.delivery.event_type
        tally[(topic if topic in known else UNKNOWN_TOPIC, str(result.outcome))] += 1
    for (topic, outcome), count in tally.items():
        EVENTS_CONSUMED.labels(service, topic, outcome).inc(count)


def count_requeued(service: str, event_types: Iterable[str], known: dict) -> None:
    for event_type in event_types:
        EVENTS_CONSUMED.labels(service, event_type if event_type in known else UNKNOWN_TOPIC, "requeued").inc()


def observe_handler(service: str, topic: str, seconds: float, events: int = 1) -> None:
    histogram = HANDLER_SECONDS.labels(service, topic)
    for _ in range(events):
        histogram.observe(seconds / events)


def observe_pulled(service: str, publish_times: Iterable[float], now: float | None = None) -> None:
    """Pull latency of each message pulled, from its publish time (seconds since the epoch)."""
    now = time.time() if now is None else now
    histogram = PULL_LATENCY.labels(service)
    for published in publish_times:
        histogram.observe(max(now - published, 0.0))


def observe_handed_over(service: str, topic: str, count: int, received: float) -> None:
    """A task the broker confirmed, carrying ``count`` messages received at ``received`` (monotonic)."""
    HANDOVER_LATENCY.labels(service).observe(time.monotonic() - received)
    HANDED_OVER.labels(service, topic).inc(count)


# --- What only the databases know: read at scrape time, in the relay ---------------------------------

_OUTBOX_STATE = """
SELECT count(*) FILTER (WHERE parked_at IS NULL),
       min(occurred_at) FILTER (WHERE parked_at IS NULL),
       count(*) FILTER (WHERE parked_at IS NOT NULL)
FROM outbox WHERE published_at IS NULL
"""  # the pending rows only, through the partial index outbox_pending_idx
_DEAD_LETTERS_WAITING = "SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL"  # a small table: failures only


def read_outbox_state(database: str, timeout: float) -> tuple[int, float, int, int]:
    """(backlog, age of the oldest unpublished row in seconds, parked rows, dead letters waiting) of a service.

    Its own short-lived connection (a scrape runs in the HTTP server's thread, never on the relay's
    connections), bounded by ``timeout`` to connect and per statement.
    """
    with health.bounded_connection(database, timeout) as conn:
        backlog, oldest, parked = conn.execute(_OUTBOX_STATE).fetchone()
        (dead_letters,) = conn.execute(_DEAD_LETTERS_WAITING).fetchone()
    age = max((datetime.now(UTC) - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return backlog, age, parked, dead_letters


class OutboxCollector(Collector):
    """Outbox backlog, oldest unpublished age, parked rows and dead letters waiting, per service.

    Two cheap statements per service database and scrape (never per event). A database that does
    not answer is reported by ``shop_relay_database_up`` 0 and its other series are left out for that
    scrape, rather than shown as zeros.
    """

    def __init__(self, databases: list[str], *, timeout: float = 2.0):
        self.databases = databases
        self.timeout = timeout
        # The databases are read side by side: one that hangs costs a scrape its own bounded wait, not
        # everyone's one after the other (Prometheus gives up on a scrape after 10 s by default).
        self.pool = ThreadPoolExecutor(max_workers=min(len(databases), 8) or 1, thread_name_prefix="outbox-metrics")

    def describe(self):
        return []  # no scrape at registration time

    def collect(self):
        families = {
            "backlog": GaugeMetricFamily(
                "shop_outbox_backlog", "Outbox rows not published yet (parked ones aside).", labels=["service"]
            ),
            "age": GaugeMetricFamily(
                "shop_outbox_oldest_age_seconds",
                "Age of the oldest outbox row not published yet (0 when none).",
                labels=["service"],
            ),
            "parked": GaugeMetricFamily(
                "shop_outbox_parked", "Outbox rows the relay gave up publishing (for staff).", labels=["service"]
            ),
            "dead_letters": GaugeMetricFamily(
                "shop_dead_letters_waiting",
                "Events a service's consumer dead-lettered that were not replayed yet.",
                labels=["service"],
            ),
            "up": GaugeMetricFamily(
                "shop_relay_database_up",
                "Whether the relay could read the service's database at this scrape (1) or not (0).",
                labels=["service"],
            ),
        }
        reads = {database: self.pool.submit(read_outbox_state, database, self.timeout) for database in self.databases}
        deadline = time.monotonic() + max(2.0, self.timeout) + 2 * self.timeout  # connect, then two statements
        for database, read in reads.items():
            try:
                backlog, age, parked, dead_letters = read.result(timeout=max(deadline - time.monotonic(), 0.0))
            except Exception as exc:
                logger.warning("metrics: could not read the outbox of %s: %s", database, type(exc).__name__)
                families["up"].add_metric([database], 0)
                continue
            families["up"].add_metric([database], 1)
            families["backlog"].add_metric([database], backlog)
            families["age"].add_metric([database], age)
            families["parked"].add_metric([database], parked)
            families["dead_letters"].add_metric([database], dead_letters)
        yield from families.values()
