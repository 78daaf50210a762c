"""Run the Pub/Sub -> Celery bridge for some or all services until SIGINT/SIGTERM."""

import signal

from django.core.management.base import BaseCommand

from shop.observability import health, tracing
from shop.observability.logging import set_process
from shop.observability.server import serve_probes
from shop.registry import SERVICES
from shop.topology import subscriptions
from workers.bridge import Bridge


class Command(BaseCommand):
    help = "Stream-pull the services' subscriptions and hand each message to the service's Celery queue."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")

    def handle(self, *args, **options):
        set_process("bridge", options["service"] or [])  # every service's: none named
        tracing.configure("bridge")
        names = options["service"] or list(SERVICES)
        bridge = Bridge([s for name in names for s in subscriptions(SERVICES[name])])
        # /readyz: Pub/Sub and the broker (each queue it hands events to).
        queues = sorted({s.service.queue for s in bridge.subscriptions})
        checks = [health.pubsub_check(bridge.subscriptions[0].topic), health.broker_check(queues)] if queues else []
        serve_probes("bridge", checks=lambda: checks)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: bridge.stop())
        bridge.run()
