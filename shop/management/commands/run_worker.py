"""Run a Celery worker for one service's queue, or for several services' queues in one process.

Production runs one worker per service (one deployment each, scaled on its queue); locally
`make run` groups them, so that two cores are not shared by six worker processes.
"""

import logging
import os
from pathlib import Path

from celery import signals
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.events.queues import QueueNotMigrated, ensure_task_queue, task_queue
from shop.celery import app
from shop.observability import health, tracing
from shop.observability.liveness import ConsumerHeartbeat
from shop.observability.logging import set_process
from shop.observability.server import serve_probes
from shop.registry import QUEUE_PREFIX, SERVICES

logger = logging.getLogger(__name__)


def prepare_pool_metrics(pool: str) -> None:
    """The prefork pool counts in its child processes: only multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
    an empty directory of this worker's own, set in its environment before it starts) adds their counts
    up for /metrics. The threads pool (the default) and solo count in this one process."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        for stale in Path(directory).glob("*.db"):  # a previous run's counts: counters start again from 0
            stale.unlink()
        signals.worker_process_shutdown.connect(_pool_process_gone, weak=False)
    elif pool == "prefork":
        logger.warning("--pool=prefork without PROMETHEUS_MULTIPROC_DIR: /metrics misses what the pool counts")


def _pool_process_gone(pid=None, **_) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid or os.getpid())


class Command(BaseCommand):
    help = "Start a Celery worker for the queues of the services named (acks late, requeue on worker loss)."

    def add_arguments(self, parser):
        parser.add_argument("services", nargs="+", choices=sorted(SERVICES), metavar="service")
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("CELERY_CONCURRENCY") or 4))
        # Threads: handlers mostly wait on PostgreSQL, and a thread takes a task without the
        # prefork pool's pipe hand-over between processes (measured in the README's benchmark).
        parser.add_argument(
            "--pool", choices=["threads", "prefork", "solo"], default=os.environ.get("CELERY_POOL", "threads")
        )
        parser.add_argument("--loglevel", default=os.environ.get("CELERY_LOG_LEVEL", "INFO"))

    def handle(self, *args, **options):
        services = [SERVICES[name] for name in dict.fromkeys(options["services"])]
        joined = "-".join(service.name for service in services)  # cart-inventory-order
        set_process("worker", [service.name for service in services])
        try:
            for service in services:
                ensure_task_queue(service)
        except QueueNotMigrated as exc:
            raise CommandError(str(exc)) from exc
        # Its own queues only: the worker binds what it knows to Celery's delayed-delivery exchange,
        # and the other services' queues may not exist yet.
        app.conf.task_queues = [task_queue(service) for service in services]
        # /metrics, /livez (its consumer's event loop beats), /readyz (its databases and queues).
        prepare_pool_metrics(options["pool"])
        app.steps["consumer"].add(ConsumerHeartbeat)
        checks = [
            *health.database_checks([service.database for service in services]),
            health.broker_check([service.queue for service in services]),
        ]
        serve_probes(f"{joined}-worker", checks=lambda: checks)
        tracing.configure_worker(f"{joined}-worker", options["pool"])
        app.worker_main(
            [
                # JSON lines only: no start-up banner (its "ready" is a log line too)
                *(["--quiet"] if settings.LOG_FORMAT == "json" else []),
                "worker",
                f"--queues={','.join(service.queue for service in services)}",
                # unique per platform on a shared broker (its remote-control queue is exclusive)
                f"--hostname={QUEUE_PREFIX}{joined}@%h",
                f"--pool={options['pool']}",
                f"--concurrency={options['concurrency']}",
                f"--loglevel={options['loglevel']}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
