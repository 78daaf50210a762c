"""Run the Pub/Sub -> Celery bridge for some or all services until SIGINT/SIGTERM."""

import signal

from django.core.management.base import BaseCommand

from shop.observability import tracing
from shop.registry import SERVICES
from shop.topology import subscriptions
from workers.bridge import Bridge


class Command(BaseCommand):
    help = "Stream-pull the services' subscriptions and hand each message to the service's Celery queue."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", choices=sorted(SERVICES), help="default: every service")

    def handle(self, *args, **options):
        tracing.configure("bridge")
        names = options["service"] or list(SERVICES)
        bridge = Bridge([s for name in names for s in subscriptions(SERVICES[name])])
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: bridge.stop())
        bridge.run()
