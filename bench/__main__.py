"""`make bench`: drive the real HTTP API end to end and print what the platform does, in figures.

    python -m bench [--customers 32] [--orders 1500] [--rate 0] [--running] [--profile]

Brings up a platform of its own (as `make run` does, on ports 13000-13007 or the next free block, own databases) unless
--running is given (then the one on 3000-3007). Creates its own customers and stock, has C
customers add items and convert their carts until N orders are placed (closed loop, or at a fixed
offered --rate), waits for every cart's outcome and its notifications, then measures the read
paths with wrk. Prints the figures and writes them as JSON and a PNG chart under results/.
--profile samples every platform process with py-spy while the orders are driven and prints where
the CPU went, per process kind (the stacks are written under results/ too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench import measure
from bench.load import Driver, Target, console, http_client, prepare
from bench.profile import Profiler, py_spy_path
from runner import emulator
from runner.launcher import ROOT, Platform, process_kind


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
        for name, pid in platform.pids().items():
            kind = process_kind(name)
            try:
                root = psutil.Process(pid)
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
        elif "rabbit" in cmdline and name.startswith("beam"):
            add("rabbitmq", process)
    add("bench client", psutil.Process())
    return seconds


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent so far, every process (idle and I/O wait excluded)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


# Flower is part of what `make run` runs (and what its task events cost the workers and RabbitMQ).
PLATFORM_KINDS = ("web", "worker", "relay", "bridge", "flower", "postgresql", "emulator", "rabbitmq")


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
    parser.add_argument("--items", type=int, default=3, help="each order has 1 to ITEMS lines (1: the issue's load)")
    parser.add_argument("--read-seconds", type=int, default=10)
    parser.add_argument("--read-connections", type=int, default=32)
    parser.add_argument("--running", action="store_true", help="use the platform `make run` started")
    # Empty: what `make run` runs (gunicorn workers per service from the registry, 4 worker threads).
    parser.add_argument("--web-concurrency", default=os.environ.get("WEB_CONCURRENCY", ""))
    parser.add_argument("--celery-concurrency", default=os.environ.get("CELERY_CONCURRENCY", ""))
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--profile", action="store_true", help="sample every platform process with py-spy")
    args = parser.parse_args()
    if args.profile and args.running:
        parser.error("--profile samples a platform of the benchmark's own; it cannot be combined with --running")
    if args.profile:
        py_spy_path()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.results / f"bench-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    emulator_process = platform = None
    # A fresh emulator of its own: one that has served other runs carries their streams and state.
    host = os.environ.get("BENCH_PUBSUB_EMULATOR_HOST", "127.0.0.1:8095")
    try:
        if not args.running:
            if not emulator.reachable(host):
                emulator_process = emulator.start(host, "shop-local", out / "pubsub.log")
            os.environ["PUBSUB_EMULATOR_HOST"] = host
            platform = Platform(
                out / "platform",
                host,
                WEB_CONCURRENCY=args.web_concurrency,
                CELERY_CONCURRENCY=args.celery_concurrency,
                LOG_LEVEL="WARNING",
                CELERY_LOG_LEVEL="WARNING",
            )
            (out / "platform").mkdir()
            first = 3000 + platform.port_offset
            console.print(f"starting a platform of its own ({platform.database}, ports {first}-{first + 7})")
            platform.setup()
            platform.start_all()
        target = Target(platform)
        result = asyncio.run(run(args, target, platform, out))
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


async def run(args, target: Target, platform: Platform | None, out: Path) -> dict:
    async with http_client(args.customers + 8, timeout=30) as client:
        customers, skus = await prepare(client, target, args.customers, args.skus, args.orders)
        driver = Driver(client, target, customers, skus, args.orders, args.rate, max_items=args.items)
        profiler = Profiler(platform, out) if args.profile else None
        if profiler:
            profiler.start()
        cpu_before, machine_before = cpu_by_kind(platform), machine_cpu_seconds()
        started, finished = await driver.run()
        profile = profiler.stop() if profiler else None
    console.print("waiting for every notification to be sent")
    measure.wait_for_notifications(target, driver.cart_ids)
    # CPU is counted until the last notification is sent, so that work a change defers (batching,
    # lingering) is counted too, not only what was done while orders were being placed.
    cpu_after, machine_after = cpu_by_kind(platform), machine_cpu_seconds()
    per_order = 1000 / max(len(driver.cart_ids), 1)
    cpu = {kind: round((cpu_after.get(kind, 0) - cpu_before.get(kind, 0)) * per_order, 2) for kind in sorted(cpu_after)}
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
        cpu_seconds_per_1000_orders=cpu,
        platform_cpu_ms_per_order=round(sum(v for k, v in cpu.items() if k in PLATFORM_KINDS), 1),
        machine_cpu_ms_per_order=round((machine_after - machine_before) * per_order, 1),
        read_paths=read_paths(target, customers[0], args.read_seconds, args.read_connections),
    )
    if profile is not None:
        result["profile"] = profile
    return result


if __name__ == "__main__":
    sys.exit(main())
