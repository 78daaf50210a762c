"""`make chaos`: the benchmark's load while processes of every kind are killed, then the audit.

    python -m bench.chaos [--orders 600] [--customers 32] [--kills 40] [--no-infra-restarts]

Starts a platform of its own under the supervisor `make run` uses (runner.supervisor), which
restarts whatever dies, drives orders through the real API, and meanwhile SIGKILLs random
processes of every kind (web servers, relay, bridge, workers), and restarts PostgreSQL and the
Celery broker once each. Then it waits for the backlog to drain and runs audit_invariants.
Prints what it killed and when, and the audit's result; exits non-zero on any violation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import measure
from bench.load import Driver, Target, console, http_client, prepare
from runner import emulator
from runner.launcher import ROOT, Platform, process_kind, wait_until
from shop.registry import SERVICES

KINDS = ("web", "relay", "bridge", "worker")


def restart_postgresql() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        return "skipped: no local PostgreSQL cluster to restart"
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    return "restarted" if done.returncode == 0 else f"failed: {done.stderr.strip()[:200]}"


def restart_rabbitmq() -> str:
    for step in ("stop_app", "start_app"):
        done = subprocess.run(["rabbitmqctl", step], capture_output=True, text=True, check=False)  # noqa: S603,S607
        if done.returncode != 0:
            return f"failed at {step}: {done.stderr.strip()[:200]}"
    return "restarted"


async def monkey(platform: Platform, stop: asyncio.Event, kills: int, interval: float, infra: bool, log: list):
    """Kill something every ``interval`` seconds until ``kills`` are done or the load is over."""
    started = time.monotonic()
    by_kind = {kind: [n for n in platform.commands if process_kind(n) == kind] for kind in KINDS}
    schedule = [random.choice(KINDS) for _ in range(kills)]
    for kind in KINDS:  # every kind at least once
        schedule[random.randrange(len(schedule))] = kind
    infra_at = {kills // 3: "postgresql", (2 * kills) // 3: "rabbitmq"} if infra else {}
    for i, kind in enumerate(schedule):
        if stop.is_set():
            break
        await asyncio.sleep(interval * random.uniform(0.5, 1.5))
        if i in infra_at:
            what = infra_at[i]
            restart = restart_postgresql if what == "postgresql" else restart_rabbitmq
            outcome = await asyncio.to_thread(restart)
            log.append((time.monotonic() - started, what, f"restart: {outcome}"))
            console.print(f"[yellow]{time.monotonic() - started:6.1f}s  {what}: {outcome}[/yellow]")
            continue
        name = random.choice(by_kind[kind])
        pid = platform.crash(name)
        what = f"SIGKILL pid {pid}" if pid is not None else "SIGKILL: down already, waiting for its restart"
        log.append((time.monotonic() - started, name, what))
        console.print(f"[red]{time.monotonic() - started:6.1f}s  {name}: {what}[/red]")


async def drive(args, target: Target, platform: Platform) -> dict:
    kill_log: list = []
    async with http_client(args.customers + 8, timeout=10) as client:
        customers, skus = await prepare(client, target, args.customers, 5, args.orders)
        driver = Driver(client, target, customers, skus, args.orders, rate=0, attempts=60)
        stop = asyncio.Event()
        chaos = asyncio.create_task(monkey(platform, stop, args.kills, args.interval, args.infra, kill_log))
        try:
            await asyncio.wait_for(driver.run(), timeout=args.timeout)
            stuck = []
        except TimeoutError:
            stuck = list(driver.waiting)
        stop.set()
        await chaos
    return {"driver": driver, "kills": kill_log, "stuck": stuck}


def drained(target: Target) -> bool:
    """Nothing left to publish anywhere, no cart waiting for inventory, no notification undelivered."""
    unpublished = sum(
        measure.count(target.dsn(s), "SELECT count(*) FROM outbox WHERE published_at IS NULL") for s in SERVICES
    )
    processing = measure.count(target.dsn("cart"), "SELECT count(*) FROM carts_cart WHERE status = 'processing'")
    pending = measure.count(
        target.dsn("notification"), "SELECT count(*) FROM notifications_notification WHERE status = 'pending'"
    )
    return unpublished == 0 and processing == 0 and pending == 0


def run_chaos(args, workdir: Path) -> dict:
    # A fresh emulator of its own: one that has served other runs carries their streams and state.
    host = os.environ.get("BENCH_PUBSUB_EMULATOR_HOST", "127.0.0.1:8095")
    emulator_process = None
    if not emulator.reachable(host):
        emulator_process = emulator.start(host, "shop-local", workdir / "pubsub.log")
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    # `make run`'s sizing (empty: the registry's gunicorn workers per service, 4 worker threads)
    platform = Platform(workdir / "platform", host, WEB_CONCURRENCY="", CELERY_CONCURRENCY="", LOG_LEVEL="WARNING")
    (workdir / "platform").mkdir(parents=True, exist_ok=True)
    try:
        platform.setup()
        platform.start_all()
        target = Target(platform)
        result = asyncio.run(drive(args, target, platform))
        console.print("load done; waiting for the backlog to drain")
        try:
            wait_until(lambda: drained(target), timeout=args.drain_timeout, interval=1, message="the backlog to drain")
            measure.wait_for_notifications(target, result["driver"].cart_ids, timeout=args.drain_timeout)
        except AssertionError as exc:
            console.print(f"[red]{exc}[/red]")
        audit = measure.audit(platform.env, ROOT)
        outcomes = measure.end_to_end(target, result["driver"].cart_ids)["outcomes"]
        return {
            "kills": result["kills"],
            "restarts": dict(platform.restarts),
            "stuck": result["stuck"],
            "carts": len(result["driver"].cart_ids),
            "outcomes": outcomes,
            "http_errors": len(result["driver"].errors),
            "audit": audit,
        }
    finally:
        platform.teardown()
        if emulator_process:
            emulator.stop(emulator_process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--customers", type=int, default=32)
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between kills, on average")
    parser.add_argument("--no-infra-restarts", dest="infra", action="store_false")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the load may take")
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    failures = 0
    for round_number in range(1, args.rounds + 1):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        workdir = ROOT / "results" / f"chaos-{stamp}"
        console.rule(f"chaos round {round_number}/{args.rounds}")
        result = run_chaos(args, workdir)
        report(result)
        ok = result["audit"]["ok"] and not result["stuck"] and result["outcomes"].get("processing", 0) == 0
        failures += not ok
        console.print(f"[bold]round {round_number}: {'OK' if ok else 'FAILED'}[/bold]  (logs: {workdir})")
    return 1 if failures else 0


def report(result: dict) -> None:
    console.rule("chaos")
    for at, what, detail in result["kills"]:
        console.print(f"{at:7.1f}s  {what:<22} {detail}")
    console.print(f"restarts by the supervisor: {result['restarts']}")
    console.print(f"carts: {result['carts']}  outcomes: {result['outcomes']}  stuck: {len(result['stuck'])}")
    console.print(f"HTTP errors seen by clients (retried): {result['http_errors']}")
    audit = result["audit"]
    console.print(f"audit: {'OK' if audit['ok'] else 'VIOLATIONS'}")
    if not audit["ok"]:
        console.print(audit)


if __name__ == "__main__":
    sys.exit(main())
