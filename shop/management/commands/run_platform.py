"""Run every process of the platform in the foreground, as `make run` does; Ctrl-C stops them all.

Starts the Pub/Sub emulator first when PUBSUB_EMULATOR_HOST points at nothing, provisions the
topics, then runs the eight web services, the outbox relay, the bridge and one Celery worker per
service queue under honcho.
"""

import os
import shlex
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from honcho.manager import Manager

from shop import emulator
from shop.services import SERVICES
from shop.topology import handlers_of


def platform_processes(python: str) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (command, extra environment) for each long-running process of the platform."""
    py = shlex.quote(python)
    concurrency = os.environ.get("CELERY_CONCURRENCY", "2")
    processes = {
        f"{s.name}-web": (f"{py} -m gunicorn -c shop/gunicorn_conf.py", {"SHOP_SERVICE": s.name})
        for s in SERVICES.values()
    }
    processes["relay"] = (f"{py} manage.py run_relay", {})
    processes["bridge"] = (f"{py} manage.py run_bridge", {})
    for s in SERVICES.values():
        if not handlers_of(s):
            continue  # a service that consumes no events needs no worker
        processes[f"{s.name}-worker"] = (
            f"{py} -m celery -A shop worker -Q {s.queue} -n {s.name}@%h -c {concurrency} "
            "--without-gossip --without-mingle -l INFO",
            {},
        )
    return processes


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
            manager.loop()
        finally:
            if emulator_process is not None:
                emulator.stop(emulator_process)
        sys.exit(manager.returncode)
