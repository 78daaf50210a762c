"""Run every process of the platform in the foreground, as `make run` does; Ctrl-C stops them all.

Starts the Pub/Sub emulator first when PUBSUB_EMULATOR_HOST points at nothing, provisions the
topics, then runs the eight web services, the outbox relay, the bridge, the Celery workers and
Flower (Celery's monitor) under runner.supervisor, which restarts any of them that dies (with backoff, logged,
counted). The e2e tests, the benchmark and chaos runs use the same supervisor and process list
(runner.launcher); --port-offset lets one of those run this very command beside `make run`.
"""

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from runner import emulator
from runner.processes import FLOWER_PORT, platform_programs
from runner.supervisor import Supervisor
from shop.registry import SERVICES


class Command(BaseCommand):
    help = "Start all the platform's processes in the foreground, restarting any that dies (local development)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port-offset", type=int, default=0, help="serve on 3000+N ... 3007+N (another platform beside this one)"
        )

    def handle(self, *args, **options):
        offset = options["port_offset"]
        host = settings.PUBSUB_EMULATOR_HOST
        emulator_process = None
        if host and not emulator.reachable(host):
            self.stdout.write(f"starting the Pub/Sub emulator on {host}")
            emulator_process = emulator.start(host, settings.GOOGLE_CLOUD_PROJECT, settings.BASE_DIR / "var/pubsub.log")
        try:
            call_command("provision_pubsub")
            supervisor = Supervisor(
                platform_programs(sys.executable, os.environ, port_offset=offset), cwd=settings.BASE_DIR
            )
            for service in SERVICES.values():
                self.stdout.write(f"{service.service_name:>22}  http://127.0.0.1:{service.port + offset}/")
            self.stdout.write(f"{'flower (Celery monitor)':>22}  http://127.0.0.1:{FLOWER_PORT + offset}/")
            self.stdout.write(self.identity_note())
            self.stdout.write("a process that dies is restarted; Ctrl-C stops everything")
            self.stdout.flush()
            returncode = supervisor.run()
        finally:
            if emulator_process is not None:
                emulator.stop(emulator_process)
        sys.exit(returncode)

    @staticmethod
    def identity_note() -> str:
        if settings.AUTH_MODE == "header":
            return "identity: AUTH_MODE=header, X-Customer-ID trusted as given (local use only)"
        keys = f"JWKS at {settings.AUTH_JWKS_URL}" if settings.AUTH_JWKS_URL else "HS256 with AUTH_JWT_SECRET"
        return f"identity: AUTH_MODE=jwt, tokens verified ({keys}); manage.py issue_token <customer-id> signs one"
