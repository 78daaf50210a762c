"""The long-running processes of the platform, in one place for `make run` and the e2e tests."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from runner.supervisor import Program
from shop.registry import METRICS_PORTS, SERVICES, Service


def web_command(python: str) -> str:
    return f"{shlex.quote(python)} -m gunicorn -c shop/gunicorn_conf.py"


# Locally the six consuming services share two worker processes, one per stage of an order, so
# that two cores are not split among six; production runs one worker per service (docker/).
WORKER_GROUPS = {"saga": ("cart", "inventory", "order"), "delivery": ("notification", "email", "push")}


def worker_command(python: str, services: list[Service]) -> str:
    return f"{shlex.quote(python)} manage.py run_worker {' '.join(service.name for service in services)}"


# Flower, Celery's own monitor (workers, queues, every task and its outcome), on the local machine
# only: `make run` prints its address. The workers send it their task events (CELERY_TASK_EVENTS,
# on in the local settings). Its API answers without a login, so it listens on 127.0.0.1 alone.
FLOWER_PORT = 5555


def flower_command(python: str, port: int) -> str:
    # --logging=none: not tornado's own format, the platform's (LOG_FORMAT), as a command's lines
    return f"{shlex.quote(python)} -m celery -A shop.celery flower --address=127.0.0.1 --port={port} --logging=none"


def worker_of(service_name: str) -> str:
    """The name of the local worker process that consumes a service's queue."""
    for group, members in WORKER_GROUPS.items():
        if service_name in members:
            return f"{group}-worker"
    raise LookupError(f"no local worker consumes {service_name!r}'s queue")


def platform_processes(python: str, *, port_offset: int = 0) -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (command, extra environment) for each long-running process of the platform.

    ``port_offset`` moves every web service off the contract's port (3000 + offset, ...), and the
    others' metrics ports with them (9100 + offset, ...), so a second platform can run beside `make run`.
    """
    py = shlex.quote(python)
    # Where the order service asks the others for their part of a timeline, when they moved.
    urls = {f"{s.name.upper()}_SERVICE_URL": f"http://127.0.0.1:{s.port + port_offset}" for s in SERVICES.values()}
    processes = {
        f"{s.name}-web": (
            web_command(python),
            {"SHOP_SERVICE": s.name, "PORT": str(s.port + port_offset), **(urls if port_offset else {})},
        )
        for s in SERVICES.values()
    }
    processes["relay"] = (f"{py} manage.py run_relay", {})
    processes["bridge"] = (f"{py} manage.py run_bridge", {})
    for group, members in WORKER_GROUPS.items():
        processes[f"{group}-worker"] = (worker_command(python, [SERVICES[name] for name in members]), {})
    for name, port in METRICS_PORTS.items():  # /metrics, /livez, /readyz, moved like the web ports
        processes[name][1]["METRICS_PORT"] = str(port + port_offset)
    processes["flower"] = (flower_command(python, FLOWER_PORT + port_offset), {"FLOWER_UNAUTHENTICATED_API": "true"})
    return processes


def platform_programs(
    python: str, env: Mapping[str, str], *, port_offset: int = 0, log_dir: Path | None = None
) -> list[Program]:
    """The platform's processes as the supervisor runs them, for `make run` and the launcher alike.

    ``log_dir``: one log file per process there (the launcher's); else their lines are prefixed
    and interleaved on the supervisor's output (`make run`'s).
    """
    # exec: the program itself leads its process group, so the pid the supervisor watches and
    # the exit status it reports are the program's own, not those of a shell waiting for it.
    # gunicorn reads WEB_CONCURRENCY itself, and fails on an empty one: empty means "not set" here
    # (each service's gunicorn workers from the registry).
    env = {key: value for key, value in env.items() if not (key == "WEB_CONCURRENCY" and not value)}
    return [
        Program(
            name,
            f"exec {command}",
            {**env, "PYTHONUNBUFFERED": "1", **extra_env},
            log=log_dir / f"{name}.log" if log_dir is not None else None,
        )
        for name, (command, extra_env) in platform_processes(python, port_offset=port_offset).items()
    ]
