"""The long-running processes of the platform, in one place for `make run` and the e2e tests."""

from __future__ import annotations

import shlex

from shop.services import SERVICES, Service
from shop.topology import handlers_of


def web_command(python: str) -> str:
    return f"{shlex.quote(python)} -m gunicorn -c shop/gunicorn_conf.py"


def worker_command(python: str, service: Service) -> str:
    return f"{shlex.quote(python)} manage.py run_worker {service.name}"


def platform_processes(python: str) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (command, extra environment) for each long-running process of the platform."""
    py = shlex.quote(python)
    processes = {f"{s.name}-web": (web_command(python), {"SHOP_SERVICE": s.name}) for s in SERVICES.values()}
    processes["relay"] = (f"{py} manage.py run_relay", {})
    processes["bridge"] = (f"{py} manage.py run_bridge", {})
    for service in SERVICES.values():
        if handlers_of(service):  # a service that consumes no events needs no worker
            processes[f"{service.name}-worker"] = (worker_command(python, service), {})
    return processes
