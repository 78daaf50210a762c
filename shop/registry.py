"""The service registry: the one place that says which service owns what.

Everything that needs to know the shape of the platform (settings, URL confs, the database
router, the admin sites, the process runner, the tests) reads it from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# Lets two platforms share one broker (a test run beside `make run`): queues become <prefix><name>.
QUEUE_PREFIX = os.environ.get("SHOP_QUEUE_PREFIX", "")


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    app_label: str
    # gunicorn workers when WEB_CONCURRENCY does not say: two for the services every order or
    # catalog page goes through, one for the rest (`make run` shares two cores among all of them).
    web_workers: int = 1

    @property
    def service_name(self) -> str:
        """The name other parts of the platform know it by (health, inbox rows, subscriptions)."""
        return f"{self.name}-service"

    @property
    def urlconf(self) -> str:
        return f"shop.urls.{self.name}"

    @property
    def queue(self) -> str:
        return f"{QUEUE_PREFIX}{self.name}"

    @property
    def database(self) -> str:
        return self.name


SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service(name="order", port=3000, app_label="orders", web_workers=2),
        Service(name="product", port=3001, app_label="products", web_workers=2),
        Service(name="inventory", port=3002, app_label="inventory"),
        Service(name="notification", port=3003, app_label="notifications"),
        Service(name="email", port=3004, app_label="email"),
        Service(name="cart", port=3005, app_label="carts", web_workers=2),
        Service(name="customer", port=3006, app_label="customers"),
        Service(name="push", port=3007, app_label="push"),
    )
}

SERVICE_BY_APP_LABEL: dict[str, Service] = {s.app_label: s for s in SERVICES.values()}

# The port on which each process that is not a web service answers /metrics, /livez and /readyz
# (shop/observability/server.py): the relay, the bridge and `make run`'s two worker groups
# (runner/processes.py). METRICS_PORT overrides it; a worker started alone (production: one per
# service, each in a pod of its own) takes WORKER_METRICS_PORT.
METRICS_PORTS: dict[str, int] = {"relay": 9100, "bridge": 9101, "saga-worker": 9102, "delivery-worker": 9103}
WORKER_METRICS_PORT = 9104


def get_service(name: str) -> Service:
    try:
        return SERVICES[name]
    except KeyError:
        known = ", ".join(sorted(SERVICES))
        raise LookupError(f"unknown service {name!r}; known services: {known}") from None
