"""Run the outbox relay for some or all services until SIGINT/SIGTERM."""

import signal

from django.core.management.base import BaseCommand

from shop.observability import tracing
from shop.registry import SERVICES
from workers.relay import OutboxRelay


class Command(BaseCommand):
    help = "Publish committed outbox events to Pub/Sub (LISTEN/NOTIFY, batches, SKIP LOCKED)."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")

    def handle(self, *args, **options):
        tracing.configure("relay")
        relay = OutboxRelay([SERVICES[name].database for name in options["service"] or SERVICES])
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: relay.stop())
        relay.run()
