"""Run every process of the platform in the foreground, as `make run` does; Ctrl-C stops them all.

Starts the Pub/Sub emulator first when PUBSUB_EMULATOR_HOST points at nothing, provisions the
topics, then runs the eight web services, the outbox relay, the bridge and one Celery worker per
service queue under honcho.
"""

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from honcho.manager import Manager

from shop import emulator
from shop.processes import platform_processes
from shop.services import SERVICES


class Command(BaseCommand):
    help = "Start all the platform's processes in the foreground (local development)."

    def handle(self, *args, **options):
        host = settings.PUBSUB_EMULATOR_HOST
        emulator_process = None
        if host and not emulator.reachable(host):
            self.stdout.write(f"starting the Pub/Sub emulator on {host}")
            emulator_process = emulator.start(host, settings.GOOGLE_CLOUD_PROJECT, settings.BASE_DIR / "var/pubsub.log")
        try:
            call_command("provision_pubsub")
            manager = Manager()
            for name, (command, extra_env) in platform_processes(sys.executable).items():
                manager.add_process(name, command, env={**os.environ, "PYTHONUNBUFFERED": "1", **extra_env})
            for service in SERVICES.values():
                self.stdout.write(f"{service.service_name:>22}  http://127.0.0.1:{service.port}/")
            self.stdout.write(self.identity_note())
            manager.loop()
        finally:
            if emulator_process is not None:
                emulator.stop(emulator_process)
        sys.exit(manager.returncode)

    @staticmethod
    def identity_note() -> str:
        if settings.AUTH_MODE == "header":
            return "identity: AUTH_MODE=header, X-Customer-ID trusted as given (local use only)"
        keys = f"JWKS at {settings.AUTH_JWKS_URL}" if settings.AUTH_JWKS_URL else "HS256 with AUTH_JWT_SECRET"
        return f"identity: AUTH_MODE=jwt, tokens verified ({keys}); manage.py issue_token <customer-id> signs one"
