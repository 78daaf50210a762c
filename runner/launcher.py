"""A whole platform, really started, for the e2e tests, the benchmark and chaos runs.

It gets its own databases, Pub/Sub project and broker queues.

Every process is the one `make run` starts (gunicorn per service, the relay, the bridge, one
Celery worker per service queue), on ports 10000 (or 11000, ...) above the contract's, so a test run can sit
beside a running `make run`, or another test run, without touching its data. They run under the
supervisor `make run` uses (runner.supervisor): whatever dies is restarted, as it would be there.
Each process logs to ``<workdir>/<name>.log``, the supervisor to ``<workdir>/supervisor.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import requests
from google.cloud import pubsub_v1
from kombu import Connection

from runner import emulator
from runner.processes import platform_programs
from runner.supervisor import Supervisor
from shop.registry import METRICS_PORTS, SERVICES

ROOT = Path(__file__).resolve().parents[1]
FIRST_PORT_OFFSET = 10000  # the first platform answers on 13000-13007, a second on 14000-14007 ...


def free_port_offset() -> int:
    """The first offset (10000, 11000, ...) at which none of the eight service ports is taken."""
    for offset in range(FIRST_PORT_OFFSET, 60000, 1000):
        if not any(emulator.reachable(f"127.0.0.1:{s.port + offset}", timeout=0.05) for s in SERVICES.values()):
            return offset
    raise RuntimeError("no free block of ports for another platform")


PG = "postgres://postgres@127.0.0.1:5432"


def wait_until(condition, *, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    """Poll ``condition`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def process_kind(name: str) -> str:
    """What a platform process is: "cart-web" -> "web", "saga-worker" -> "worker", "relay" -> "relay"."""
    return name.rsplit("-", 1)[-1]


class Platform:
    def __init__(self, workdir: Path, emulator_host: str, **overrides: str):
        self.id = uuid.uuid4().hex[:8]
        self.workdir = workdir
        self.database = f"e2e_{self.id}"
        self.project = f"e2e-{self.id}"
        self.queue_prefix = f"e2e-{self.id}-"
        self.mail_dir = workdir / "mail"
        self.port_offset = free_port_offset()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "shop.settings.local",
            "DATABASE_URL": f"{PG}/{self.database}",
            "GOOGLE_CLOUD_PROJECT": self.project,
            "PUBSUB_EMULATOR_HOST": emulator_host,
            "SHOP_QUEUE_PREFIX": self.queue_prefix,
            "EMAIL_URL": "filemail://",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "WEB_CONCURRENCY": "1",
            "CELERY_CONCURRENCY": "1",
            "PYTHONUNBUFFERED": "1",
            "STOCK_MANAGER_EMAIL": "stock-manager@example.com",
        }
        self.env.update(overrides)  # WEB_CONCURRENCY, CELERY_CONCURRENCY, ... for a benchmark
        for name in SERVICES:
            self.env.pop(f"{name.upper()}_DATABASE_URL", None)
        # What `make run` runs, under the supervisor `make run` uses (runner.supervisor), with the
        # same backoff and grace period; only the ports and the log files differ.
        self.supervisor = Supervisor(
            platform_programs(sys.executable, self.env, port_offset=self.port_offset, log_dir=workdir),
            cwd=ROOT,
            output=workdir / "supervisor.log",
        )
        self.commands = self.supervisor.names
        self.http = requests.Session()

    # --- lifecycle -------------------------------------------------------------------------

    def setup(self) -> None:
        for command in (["setup_platform"], ["provision_pubsub"]):
            subprocess.run(  # noqa: S603 - our own interpreter and command
                [sys.executable, "manage.py", *command, "-v", "0"],
                cwd=ROOT,
                env=self.env,
                check=True,
                capture_output=True,
            )

    def start(self, name: str, **extra_env: str) -> None:
        """Start one process (again), kept running by the supervisor; ``extra_env`` stays for its restarts."""
        self.supervisor.start(name, **extra_env)
        self.supervisor.watch()

    def start_all(self) -> None:
        self.supervisor.start_all()
        self.supervisor.watch()
        self.wait_ready()

    def wait_ready(self) -> None:
        """Every service healthy, and the seed data copied to the services that keep copies."""
        for service in SERVICES.values():
            wait_until(lambda s=service: self._healthy(s.name), timeout=60, message=f"{service.name} health")
        # The seeded catalog and customers have reached the services that copy them.
        wait_until(lambda: self.scalar("cart", "SELECT count(*) FROM carts_catalogproduct") >= 5, timeout=60)
        wait_until(lambda: self.scalar("order", "SELECT count(*) FROM orders_catalogproduct") >= 5, timeout=60)
        wait_until(lambda: self.scalar("email", "SELECT count(*) FROM email_customercontact") >= 5, timeout=60)

    @property
    def restarts(self) -> Counter[str]:
        """How often the supervisor has restarted each process."""
        return self.supervisor.restarts

    def pids(self) -> dict[str, int]:
        """name -> pid (and process group) of each process running now."""
        return self.supervisor.pids()

    def crash(self, name: str) -> int | None:
        """SIGKILL a process and all its children, leaving it to the supervisor; the pid killed
        (None if it was down already, waiting for its restart)."""
        return self.supervisor.send_signal(name, signal.SIGKILL)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop a process for good (the supervisor leaves it alone until ``start``).

        Returns once its whole group is gone: a Celery worker's warm shutdown may take a while,
        and until it is over it may still take work; SIGKILL after 30 s.
        """
        self.supervisor.stop(name, sig, timeout=30)

    def stop_all(self) -> None:
        self.supervisor.stop_all()
        self.supervisor.output.close()

    def teardown(self) -> None:
        self.stop_all()
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            for suffix in ["", *(f"_{name}" for name in SERVICES)]:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}{suffix}" WITH (FORCE)')
        with contextlib.suppress(Exception), Connection(self.env.get("CELERY_BROKER_URL", "amqp://")) as broker:
            channel = broker.default_channel
            for service in SERVICES.values():
                # this platform's queues (its prefix; not this process's own names) and parking queues
                queue = f"{self.queue_prefix}{service.name}"
                for name in (queue, f"{queue}.dead-letter"):
                    with contextlib.suppress(Exception):
                        channel.queue_delete(name)

    # --- talking to it ---------------------------------------------------------------------

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{SERVICES[service].port + self.port_offset}{path}"

    def probe_url(self, process: str, path: str) -> str:
        """A URL of the probe server of the relay, the bridge or a worker group (/metrics, /livez, /readyz)."""
        return f"http://127.0.0.1:{METRICS_PORTS[process] + self.port_offset}{path}"

    def request(
        self, method: str, service: str, path: str, *, customer=None, token=None, **kwargs
    ) -> requests.Response:
        """``customer``: the X-Customer-ID of header mode; ``token``: a bearer token for AUTH_MODE=jwt."""
        headers = kwargs.pop("headers", {})
        if customer is not None:
            headers["X-Customer-ID"] = str(customer)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url(service, path), headers=headers, timeout=10, **kwargs)

    def get(self, service: str, path: str, **kwargs):
        return self.request("GET", service, path, **kwargs)

    def post(self, service: str, path: str, **kwargs):
        return self.request("POST", service, path, **kwargs)

    def rows(self, service: str, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(f"{PG}/{self.database}_{service}") as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, service: str, sql: str, params=()):
        return self.rows(service, sql, params)[0][0]

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def publish(self, topic: str, data: bytes, **attributes: str) -> None:
        """Publish straight to a topic of this platform's Pub/Sub project."""
        publisher = pubsub_v1.PublisherClient()
        publisher.publish(publisher.topic_path(self.project, topic), data, **attributes).result(timeout=30)

    def republish(self, service: str, event_type: str, where: str, params=()) -> dict:
        """Publish an outbox row again, envelope and all, as a relay restarted mid-batch would."""
        [(event_id, payload, occurred_at, version, correlation)] = self.rows(
            service,
            "SELECT event_id, payload, occurred_at, schema_version, correlation_id FROM outbox "  # noqa: S608
            f"WHERE event_type = %s AND {where}",
            (event_type, *params),
        )
        attributes = {
            "event_id": str(event_id),
            "event_type": event_type,
            "occurred_at": occurred_at.isoformat(),
            "schema_version": str(version),
            "correlation_id": str(correlation or ""),
            "producer": SERVICES[service].service_name,
        }
        self.publish(event_type, json.dumps(payload).encode(), **attributes)
        return attributes

    def pull_dead_letters(self, subscription: str, *, timeout: float = 20.0) -> list:
        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(self.project, f"{subscription}-dead-letter")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=5)
            if response.received_messages:
                return [m.message for m in response.received_messages]
        return []

    def _healthy(self, service: str) -> bool:
        try:
            return self.get(service, "/").status_code == 200
        except requests.RequestException:  # refused, or too slow to answer while everything starts
            return False
