"""Run a Celery worker for one service's queue, or for several services' queues in one process.

Production runs one worker per service (one deployment each, scaled on its queue); locally
`make run` groups them, so that two cores are not shared by six worker processes.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from apps.events.queues import QueueNotMigrated, ensure_task_queue, task_queue
from shop.celery import app
from shop.observability import tracing
from shop.registry import QUEUE_PREFIX, SERVICES


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
        try:
            for service in services:
                ensure_task_queue(service)
        except QueueNotMigrated as exc:
            raise CommandError(str(exc)) from exc
        # Its own queues only: the worker binds what it knows to Celery's delayed-delivery exchange,
        # and the other services' queues may not exist yet.
        app.conf.task_queues = [task_queue(service) for service in services]
        tracing.configure_worker(f"{'-'.join(service.name for service in services)}-worker", options["pool"])
        app.worker_main(
            [
                "worker",
                f"--queues={','.join(service.queue for service in services)}",
                # unique per platform on a shared broker (its remote-control queue is exclusive)
                f"--hostname={QUEUE_PREFIX}{'-'.join(service.name for service in services)}@%h",
                f"--pool={options['pool']}",
                f"--concurrency={options['concurrency']}",
                f"--loglevel={options['loglevel']}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
