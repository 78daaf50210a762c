"""Run the Celery worker of one service, consuming that service's own queue."""

import os

from django.core.management.base import BaseCommand, CommandError

from apps.events.queues import QueueNotMigrated, ensure_task_queue, task_queue
from shop.celery import app
from shop.registry import QUEUE_PREFIX, SERVICES


class Command(BaseCommand):
    help = "Start a Celery worker for one service's queue (acks late, requeue on worker loss)."

    def add_arguments(self, parser):
        parser.add_argument("service", choices=sorted(SERVICES))
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("CELERY_CONCURRENCY", "4")))
        # Threads: handlers mostly wait on PostgreSQL, and a thread takes a task without the
        # prefork pool's pipe hand-over between processes (measured in the README's benchmark).
        parser.add_argument(
            "--pool", choices=["threads", "prefork", "solo"], default=os.environ.get("CELERY_POOL", "threads")
        )
        parser.add_argument("--loglevel", default=os.environ.get("CELERY_LOG_LEVEL", "INFO"))

    def handle(self, *args, **options):
        service = SERVICES[options["service"]]
        try:
            ensure_task_queue(service)
        except QueueNotMigrated as exc:
            raise CommandError(str(exc)) from exc
        # Its own queue only: the worker binds what it knows to Celery's delayed-delivery exchange,
        # and the other services' queues may not exist yet.
        app.conf.task_queues = [task_queue(service)]
        app.worker_main(
            [
                "worker",
                f"--queues={service.queue}",
                # unique per platform on a shared broker (its remote-control queue is exclusive)
                f"--hostname={QUEUE_PREFIX}{service.name}@%h",
                f"--pool={options['pool']}",
                f"--concurrency={options['concurrency']}",
                f"--loglevel={options['loglevel']}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
