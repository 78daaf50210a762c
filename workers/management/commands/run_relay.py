"""Run the outbox relay for some or all services until SIGINT/SIGTERM."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from shop.observability import health, tracing
from shop.observability.logging import set_process
from shop.observability.metrics import OutboxCollector
from shop.observability.server import serve_probes
from shop.registry import SERVICES
from shop.topology import topics
from workers.relay import OutboxRelay


class Command(BaseCommand):
    help = "Publish committed outbox events to Pub/Sub (LISTEN/NOTIFY, batches, SKIP LOCKED)."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")

    def handle(self, *args, **options):
        set_process("relay", options["service"] or [])  # every service's: none named
        tracing.configure("relay")
        databases = [SERVICES[name].database for name in options["service"] or SERVICES]
        relay = OutboxRelay(databases)
        # /metrics with each outbox's backlog read at scrape time; /readyz: its databases and Pub/Sub.
        checks = [*health.database_checks(databases), health.pubsub_check(topics()[0])]
        collector = OutboxCollector(databases, timeout=settings.HEALTH_CHECK_TIMEOUT_SECONDS)
        serve_probes("relay", checks=lambda: checks, collectors=[collector])
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: relay.stop())
        relay.run()
