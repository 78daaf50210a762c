"""Run every process of the platform in the foreground, as `make run` does; Ctrl-C stops them all."""

import os
import shlex
import sys

from django.core.management.base import BaseCommand
from honcho.manager import Manager

from shop.services import SERVICES


def platform_processes(python: str) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (command, extra environment) for each process `make run` starts."""
    gunicorn = f"{shlex.quote(python)} -m gunicorn -c shop/gunicorn_conf.py"
    return {f"{s.name}-web": (gunicorn, {"SHOP_SERVICE": s.name}) for s in SERVICES.values()}


class Command(BaseCommand):
    help = "Start all the platform's processes in the foreground (local development)."

    def handle(self, *args, **options):
        manager = Manager()
        for name, (command, extra_env) in platform_processes(sys.executable).items():
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra_env}
            manager.add_process(name, command, env=env)
        for service in SERVICES.values():
            self.stdout.write(f"{service.service_name:>22}  http://127.0.0.1:{service.port}/")
        manager.loop()
        sys.exit(manager.returncode)
