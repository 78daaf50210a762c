"""The load the benchmark and the chaos run drive: customers placing orders over the real API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
import uuid
from dataclasses import dataclass

import aiohttp
import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import measure
from runner.launcher import Platform, wait_until
from shop.registry import SERVICES

console = Console()
logging.getLogger("matplotlib").setLevel(logging.WARNING)


class Target:
    """Where the platform under test answers, and how to read its databases."""

    def __init__(self, platform: Platform | None):
        self.platform = platform
        self.offset = platform.port_offset if platform else 0
        self.database_prefix = platform.database if platform else "shop"

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{SERVICES[service].port + self.offset}{path}"

    def dsn(self, service: str) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{self.database_prefix}_{service}"

    def env(self) -> dict[str, str]:
        return self.platform.env if self.platform else {**os.environ}


def http_client(connections: int, timeout: float) -> aiohttp.ClientSession:
    """The load's HTTP client: aiohttp, about a third of httpx's CPU per request (measured here),
    which matters when the client shares the machine's two cores with the platform it measures."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections), timeout=aiohttp.ClientTimeout(total=timeout)
    )


@dataclass
class Answer:
    status_code: int
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


async def post(client: aiohttp.ClientSession, url: str, body: dict) -> dict:
    async with client.post(url, json=body) as response:
        response.raise_for_status()
        return await response.json()


async def prepare(client: aiohttp.ClientSession, target: Target, customers: int, skus: int, orders: int):
    """Customers and stock of the run's own; returns (customer ids, skus) once every service knows them."""
    run = uuid.uuid4().hex[:6]
    sku_names = [f"BENCH-{run}-{i}".upper() for i in range(skus)]
    for i, sku in enumerate(sku_names):
        price = f"{random.randint(5, 500)}.{random.randint(0, 99):02d}"
        await post(client, target.url("product", "/products"), {"sku": sku, "name": f"Bench {i}", "price": price})
        await post(client, target.url("inventory", "/inventory"), {"product_sku": sku, "quantity": orders * 3})
    customer_ids = []
    for i in range(customers):
        body = {"name": f"Bench customer {i}", "email": f"bench-{run}-{i}@example.com"}
        customer_ids.append((await post(client, target.url("customer", "/customers"), body))["id"])
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

    def __init__(self, client, target, customers, skus, orders, rate, attempts: int = 1, max_items: int = 3):
        self.client, self.target = client, target
        self.attempts = attempts
        self.max_items = max_items
        self.customers, self.skus = customers, skus
        self.orders, self.rate = orders, rate
        self.placed = 0
        self.requests: dict[str, list[float]] = {"add_item": [], "convert": [], "get_cart": []}
        self.errors: list[str] = []
        self.waiting: dict[str, asyncio.Future] = {}
        self.cart_ids: list[str] = []

    async def timed(self, kind: str, method: str, service: str, path: str, customer: str, **kwargs):
        """One request, timed; a transport error or 5xx is counted and retried, as a real client would."""
        for attempt in range(self.attempts):
            started = time.perf_counter()
            try:
                async with self.client.request(
                    method, self.target.url(service, path), headers={"X-Customer-ID": customer}, **kwargs
                ) as answer:
                    response = Answer(answer.status, await answer.read())
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.errors.append(f"{kind}: {type(exc).__name__}")
            else:
                self.requests[kind].append(time.perf_counter() - started)
                if response.status_code < 500:
                    if response.status_code >= 400:
                        self.errors.append(f"{kind} {response.status_code} {response.text[:200]}")
                    return response
                self.errors.append(f"{kind} {response.status_code} {response.text[:200]}")
            await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        return None

    async def place_order(self, customer: str) -> None:
        for sku in random.sample(self.skus, k=random.randint(1, min(self.max_items, len(self.skus)))):
            body = {"product_sku": sku, "quantity": random.randint(1, 2)}
            await self.timed("add_item", "POST", "cart", "/cart/items", customer, json=body)
        response = await self.timed("convert", "POST", "cart", "/cart/convert-to-order", customer)
        if response is not None and response.status_code == 409:
            # An earlier attempt converted it and its answer was lost: follow that cart.
            response = await self.timed("get_cart", "GET", "cart", "/cart", customer)
            if response is None or response.json().get("status") != "processing":
                return
            cart_id = response.json()["id"]
        elif response is None or response.status_code != 202:
            return
        else:
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
        while True:
            try:
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
            except psycopg.OperationalError:
                await asyncio.sleep(0.5)  # PostgreSQL restarting (make chaos): look again

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
