"""`make bench`: drive the real HTTP API end to end and print what the platform does, in figures.

    python -m bench [--customers 32] [--orders 1500] [--rate 0] [--running]

Brings up a platform of its own (as `make run` does, on ports 13000-13007, own databases) unless
--running is given (then the one on 3000-3007). Creates its own customers and stock, has C
customers add items and convert their carts until N orders are placed (closed loop, or at a fixed
offered --rate), waits for every cart's outcome and its notifications, then measures the read
paths with wrk. Prints the figures and writes them as JSON and a PNG chart under results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")
django.setup()

import httpx  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from bench import measure  # noqa: E402
from shop import emulator  # noqa: E402
from shop.launcher import ROOT, Platform, wait_until  # noqa: E402
from shop.services import SERVICES  # noqa: E402

console = Console()
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("matplotlib").setLevel(logging.WARNING)


class Target:
    """Where the platform under test answers, and how to read its databases."""

    def __init__(self, platform: Platform | None):
        self.platform = platform
        self.offset = 10000 if platform else 0
        self.database_prefix = platform.database if platform else "shop"

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{SERVICES[service].port + self.offset}{path}"

    def dsn(self, service: str) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{self.database_prefix}_{service}"

    def env(self) -> dict[str, str]:
        return self.platform.env if self.platform else {**os.environ}


async def prepare(client: httpx.AsyncClient, target: Target, customers: int, skus: int, orders: int):
    """Customers and stock of the run's own; returns (customer ids, skus) once every service knows them."""
    run = uuid.uuid4().hex[:6]
    sku_names = [f"BENCH-{run}-{i}".upper() for i in range(skus)]
    for i, sku in enumerate(sku_names):
        price = f"{random.randint(5, 500)}.{random.randint(0, 99):02d}"
        r = await client.post(
            target.url("product", "/products"), json={"sku": sku, "name": f"Bench {i}", "price": price}
        )
        r.raise_for_status()
        stock = {"product_sku": sku, "quantity": orders * 3}
        (await client.post(target.url("inventory", "/inventory"), json=stock)).raise_for_status()
    customer_ids = []
    for i in range(customers):
        body = {"name": f"Bench customer {i}", "email": f"bench-{run}-{i}@example.com"}
        r = await client.post(target.url("customer", "/customers"), json=body)
        r.raise_for_status()
        customer_ids.append(r.json()["id"])
    wait_until(
        lambda: (
            measure.count(
                target.dsn("cart"), "SELECT count(*) FROM carts_catalogproduct WHERE sku = ANY(%s)", [sku_names]
            )
            == skus
            and measure.count(
                target.dsn("order"), "SELECT count(*) FROM orders_catalogproduct WHERE sku = ANY(%s)", [sku_names]
            )
            == skus
            and measure.count(
                target.dsn("email"),
                "SELECT count(*) FROM email_customercontact WHERE customer_id = ANY(%s)",
                [customer_ids],
            )
            == customers
        ),
        timeout=120,
        message="the catalog and customers to reach every service",
    )
    return customer_ids, sku_names


class Driver:
    """C customers placing N orders over HTTP; outcomes are learned from the cart database."""

    def __init__(self, client, target, customers, skus, orders, rate):
        self.client, self.target = client, target
        self.customers, self.skus = customers, skus
        self.orders, self.rate = orders, rate
        self.placed = 0
        self.requests: dict[str, list[float]] = {"add_item": [], "convert": []}
        self.errors: list[str] = []
        self.waiting: dict[str, asyncio.Future] = {}
        self.cart_ids: list[str] = []

    async def timed(self, kind: str, method: str, service: str, path: str, customer: str, **kwargs):
        started = time.perf_counter()
        response = await self.client.request(
            method, self.target.url(service, path), headers={"X-Customer-ID": customer}, **kwargs
        )
        self.requests[kind].append(time.perf_counter() - started)
        if response.status_code >= 400:
            self.errors.append(f"{kind} {response.status_code} {response.text[:200]}")
        return response

    async def place_order(self, customer: str) -> None:
        for sku in random.sample(self.skus, k=random.randint(1, min(3, len(self.skus)))):
            body = {"product_sku": sku, "quantity": random.randint(1, 2)}
            await self.timed("add_item", "POST", "cart", "/cart/items", customer, json=body)
        response = await self.timed("convert", "POST", "cart", "/cart/convert-to-order", customer)
        if response.status_code != 202:
            return
        cart_id = response.json()["cart_id"]
        self.cart_ids.append(cart_id)
        outcome = asyncio.get_running_loop().create_future()
        self.waiting[cart_id] = outcome
        await outcome

    async def customer_loop(self, customer: str) -> None:
        while self.placed < self.orders:
            self.placed += 1
            await self.place_order(customer)

    async def watch_outcomes(self, progress, task) -> None:
        """One poller for all customers (not an HTTP poll each): which waiting carts have their outcome."""
        async with await psycopg.AsyncConnection.connect(self.target.dsn("cart"), autocommit=True) as conn:
            while True:
                if self.waiting:
                    cursor = await conn.execute(
                        "SELECT id::text FROM carts_cart WHERE id = ANY(%s::uuid[]) AND status <> 'processing'",
                        [list(self.waiting)],
                    )
                    for (cart_id,) in await cursor.fetchall():
                        self.waiting.pop(cart_id).set_result(True)
                        progress.advance(task)
                await asyncio.sleep(0.05)

    async def run(self) -> tuple[float, float]:
        with Progress(
            TextColumn("orders"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("orders", total=self.orders)
            watcher = asyncio.create_task(self.watch_outcomes(progress, task))
            started = time.time()
            if self.rate:
                await self.open_loop()
            else:
                await asyncio.gather(*(self.customer_loop(c) for c in self.customers))
            finished = time.time()
            watcher.cancel()
        return started, finished

    async def open_loop(self) -> None:
        """Offer orders at a fixed rate, each from a customer whose previous cart has its outcome."""
        idle: asyncio.Queue[str] = asyncio.Queue()
        for customer in self.customers:
            idle.put_nowait(customer)
        running = set()

        async def one(customer: str) -> None:
            try:
                await self.place_order(customer)
            finally:
                idle.put_nowait(customer)

        start = time.perf_counter()
        for n in range(self.orders):
            await asyncio.sleep(max(0.0, start + n / self.rate - time.perf_counter()))
            customer = await idle.get()
            running.add(asyncio.create_task(one(customer)))
        await asyncio.gather(*running)


def cpu_by_kind(platform: Platform | None) -> dict[str, float]:
    """User+system CPU seconds so far of every process of the platform, by kind."""
    seconds: dict[str, float] = {}

    def add(kind: str, process: psutil.Process) -> None:
        try:
            times = process.cpu_times()
            seconds[kind] = seconds.get(kind, 0.0) + times.user + times.system + times.children_user
        except psutil.Error:
            pass

    if platform:
        for name, popen in platform.processes.items():
            kind = name.rsplit("-", 1)[-1] if "-" in name else name
            try:
                root = psutil.Process(popen.pid)
                for process in [root, *root.children(recursive=True)]:
                    add(kind, process)
            except psutil.Error:
                pass
    for process in psutil.process_iter(["name", "cmdline"]):
        name, cmdline = process.info["name"] or "", " ".join(process.info["cmdline"] or [])
        if name.startswith("postgres"):
            add("postgresql", process)
        elif "pubsub-emulator" in cmdline or "cloud-pubsub-emulator" in cmdline:
            add("emulator", process)
    add("bench client", psutil.Process())
    return seconds


def read_paths(target: Target, customer: str, seconds: int, connections: int) -> dict:
    wrk = shutil.which("wrk")
    if not wrk:
        return {"skipped": "wrk is not installed (make bench installs it)"}
    header = f"X-Customer-ID: {customer}"
    paths = {
        "GET /products": (target.url("product", "/products"), []),
        "GET /cart": (target.url("cart", "/cart"), ["-H", header]),
        "GET /orders": (target.url("order", "/orders"), ["-H", header]),
    }
    results = {}
    for label, (url, extra) in paths.items():
        console.print(f"[dim]wrk {label}: {connections} connections, {seconds}s[/dim]")
        output = subprocess.run(  # noqa: S603 - wrk with fixed arguments
            [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[label] = measure.parse_wrk(output)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=int(os.environ.get("BENCH_CUSTOMERS", 64)))
    parser.add_argument("--orders", type=int, default=int(os.environ.get("BENCH_ORDERS", 1500)))
    parser.add_argument(
        "--rate",
        type=float,
        default=float(os.environ.get("BENCH_RATE", 0)),
        help="offered orders/s (open loop); 0 = each customer orders again once served",
    )
    parser.add_argument("--skus", type=int, default=5)
    parser.add_argument("--read-seconds", type=int, default=10)
    parser.add_argument("--read-connections", type=int, default=32)
    parser.add_argument("--running", action="store_true", help="use the platform `make run` started")
    parser.add_argument("--web-concurrency", default=os.environ.get("WEB_CONCURRENCY", "3"))
    parser.add_argument("--celery-concurrency", default=os.environ.get("CELERY_CONCURRENCY", "2"))
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results / f"bench-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    emulator_process = platform = None
    host = os.environ.setdefault("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
    try:
        if not args.running:
            if not emulator.reachable(host):
                emulator_process = emulator.start(host, "shop-local", out / "pubsub.log")
            platform = Platform(
                out / "platform",
                host,
                WEB_CONCURRENCY=args.web_concurrency,
                CELERY_CONCURRENCY=args.celery_concurrency,
                LOG_LEVEL="WARNING",
                CELERY_LOG_LEVEL="WARNING",
            )
            (out / "platform").mkdir()
            console.print(f"starting a platform of its own ({platform.database}, ports 13000-13007)")
            platform.setup()
            platform.start_all()
        target = Target(platform)
        result = asyncio.run(run(args, target, platform))
        audit = measure.audit(target.env(), ROOT)
        result["audit"] = audit
        result["machine"] = measure.machine()
        (out / "bench.json").write_text(json.dumps(result, indent=2, default=str))
        measure.chart(result, out / "bench.png")
        measure.report(console, result, out)
        return 0 if not result["errors"] and audit["ok"] else 1
    finally:
        if platform:
            platform.teardown()
        if emulator_process:
            emulator.stop(emulator_process)


async def run(args, target: Target, platform: Platform | None) -> dict:
    limits = httpx.Limits(max_connections=args.customers + 8, max_keepalive_connections=args.customers + 8)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        customers, skus = await prepare(client, target, args.customers, args.skus, args.orders)
        driver = Driver(client, target, customers, skus, args.orders, args.rate)
        cpu_before = cpu_by_kind(platform)
        started, finished = await driver.run()
        cpu_after = cpu_by_kind(platform)
    console.print("waiting for every notification to be sent")
    measure.wait_for_notifications(target, driver.cart_ids)
    result = measure.end_to_end(target, driver.cart_ids)
    result.update(
        parameters={
            "customers": args.customers,
            "orders": args.orders,
            "offered_rate": args.rate or "closed loop",
            "web_concurrency": args.web_concurrency,
            "celery_concurrency": args.celery_concurrency,
        },
        drive_seconds=finished - started,
        http_write=measure.http_summary(driver.requests, finished - started),
        errors=driver.errors[:50],
        error_count=len(driver.errors),
        cpu_seconds_per_1000_orders={
            kind: round((cpu_after.get(kind, 0) - cpu_before.get(kind, 0)) * 1000 / max(len(driver.cart_ids), 1), 2)
            for kind in sorted(cpu_after)
        },
        read_paths=read_paths(target, customers[0], args.read_seconds, args.read_connections),
    )
    return result


if __name__ == "__main__":
    sys.exit(main())
