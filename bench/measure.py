"""The benchmark's figures, taken from timestamps the platform records anyway.

Each service's database is read on its own (no cross-database join): carts (converted_at),
orders (created_at), notifications (sent_at), and every outbox (occurred_at, published_at) and
inbox (started_at, processed_at) for the per-hop split.
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import psycopg

# The saga's hops towards a confirmed order and its notifications: (event, producer, consumer).
HOPS = (
    ("order-requested", "cart", "inventory"),
    ("stock-available", "inventory", "order"),
    ("order.created", "order", "notification"),
    ("email.requested", "notification", "email"),
    ("notification.delivered", "email", "notification"),
)


def rows(dsn: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def count(dsn: str, sql: str, params=()) -> int:
    return rows(dsn, sql, params)[0][0]


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "count": len(ordered),
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


def wait_for_notifications(target, cart_ids: list[str], timeout: float = 300) -> None:
    """Until every confirmed cart's order.created has two sent notifications (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = [
            e
            for (e,) in rows(
                target.dsn("order"),
                "SELECT event_id::text FROM outbox "
                "WHERE event_type = 'order.created' AND payload->>'cart_id' = ANY(%s)",
                [cart_ids],
            )
        ]
        sent = count(
            target.dsn("notification"),
            "SELECT count(*) FROM notifications_notification WHERE event_id = ANY(%s::uuid[]) "
            "AND audience = 'customer' AND status = 'sent'",
            [events],
        )
        if sent >= 2 * len(events):
            return
        time.sleep(0.5)


def end_to_end(target, cart_ids: list[str]) -> dict:
    """Throughput and latencies, convert -> confirmed and convert -> notifications sent, and per hop."""
    converted = dict(
        rows(
            target.dsn("cart"),
            "SELECT id::text, converted_at FROM carts_cart WHERE id = ANY(%s::uuid[])",
            [cart_ids],
        )
    )
    outcomes = Counter(
        s for (s,) in rows(target.dsn("cart"), "SELECT status FROM carts_cart WHERE id = ANY(%s::uuid[])", [cart_ids])
    )
    confirmed = dict(
        rows(
            target.dsn("order"),
            "SELECT cart_id::text, created_at FROM orders_order WHERE cart_id = ANY(%s::uuid[])",
            [cart_ids],
        )
    )
    created_events = dict(
        rows(
            target.dsn("order"),
            "SELECT event_id::text, payload->>'cart_id' FROM outbox WHERE event_type = 'order.created' "
            "AND payload->>'cart_id' = ANY(%s)",
            [cart_ids],
        )
    )
    sent: dict[str, object] = {}
    for event_id, sent_at in rows(
        target.dsn("notification"),
        "SELECT event_id::text, max(sent_at) FROM notifications_notification WHERE event_id = ANY(%s::uuid[]) "
        "AND audience = 'customer' GROUP BY event_id HAVING count(*) FILTER (WHERE status = 'sent') = 2",
        [list(created_events)],
    ):
        sent[created_events[event_id]] = sent_at

    to_confirmed = [(confirmed[c] - converted[c]).total_seconds() * 1000 for c in confirmed if c in converted]
    to_sent = [(sent[c] - converted[c]).total_seconds() * 1000 for c in sent if c in converted]
    times = sorted(confirmed.values())
    first_convert = min(converted.values()) if converted else None
    span = (times[-1] - first_convert).total_seconds() if times and first_convert else 0
    per_second = Counter(int((t - first_convert).total_seconds()) for t in times) if times else Counter()
    return {
        "carts": len(cart_ids),
        "outcomes": dict(outcomes),
        "confirmed_orders": len(confirmed),
        "confirmed_per_second": round(len(confirmed) / span, 1) if span else 0,
        "confirmed_timeline": [per_second.get(s, 0) for s in range(int(span) + 1)],
        "latency_ms": {
            "convert_to_confirmed": percentiles(to_confirmed),
            "convert_to_notifications_sent": percentiles(to_sent),
        },
        "latency_samples_ms": to_confirmed,
        "hops_ms": hops(target, cart_ids),
    }


def hops(target, cart_ids: list[str]) -> dict:
    """For each hop: outbox -> published, published -> task started, task started -> claimed.

    (The inbox's processed_at is when the event was claimed, at the start of its transaction: the
    consumer claims a batch in one statement and moves no timestamp after its handlers.)"""
    result = {}
    carts = set(cart_ids)
    for event_type, producer, consumer in HOPS:
        produced = rows(
            target.dsn(producer),
            "SELECT event_id::text, occurred_at, published_at, correlation_id::text FROM outbox "
            "WHERE event_type = %s AND published_at IS NOT NULL",
            [event_type],
        )
        # Only this run's events: correlated with its carts, or (notification delivery) any.
        produced = [r for r in produced if r[3] in carts or event_type.startswith(("email.", "notification."))]
        consumed = {
            message_id: (started, processed)
            for message_id, started, processed in rows(
                target.dsn(consumer),
                "SELECT message_id, started_at, processed_at FROM processed_messages "
                "WHERE service_name = %s AND event_type = %s AND status = 'success'",
                [f"{consumer}-service", event_type],
            )
        }
        to_published, to_started, to_claimed = [], [], []
        for event_id, occurred, published, _ in produced:
            to_published.append((published - occurred).total_seconds() * 1000)
            if event_id in consumed:
                started, processed = consumed[event_id]
                to_started.append((started - published).total_seconds() * 1000)
                to_claimed.append((processed - started).total_seconds() * 1000)
        result[f"{event_type} ({producer} -> {consumer})"] = {
            "outbox_to_published": percentiles(to_published),
            "published_to_task_started": percentiles(to_started),
            "task_to_claimed": percentiles(to_claimed),
        }
    return result


def http_summary(requests: dict[str, list[float]], seconds: float) -> dict:
    return {
        kind: {"requests_per_second": round(len(samples) / seconds, 1), **percentiles([s * 1000 for s in samples])}
        for kind, samples in requests.items()
    }


def parse_wrk(output: str) -> dict:
    """Requests/s and latency percentiles from `wrk --latency` output (latencies in ms)."""

    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
        return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    result = {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for q, value in re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, flags=re.M):
        result[f"p{q}_ms"] = ms(value)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        result["socket_errors"] = socket_errors.group(1)
    return result


def audit(env: dict, root: Path) -> dict:
    """`manage.py audit_invariants` on the platform under test, when the command exists."""
    command = [sys.executable, "manage.py", "audit_invariants", "--grace", "0", "--json"]
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)  # noqa: S603
    except subprocess.TimeoutExpired:
        return {"ok": False, "output": "audit timed out"}
    try:
        report = json.loads(done.stdout)
    except ValueError:
        report = {"output": (done.stdout + done.stderr)[-4000:]}
    return {"ok": done.returncode == 0, **report}


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            host_platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else host_platform.processor(),
        "python": host_platform.python_version(),
        "system": host_platform.platform(),
    }


def chart(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    timeline = result["confirmed_timeline"]
    left.plot(range(len(timeline)), timeline, drawstyle="steps-post")
    left.set_title("confirmed orders per second")
    left.set_xlabel("seconds since the first conversion")
    left.set_ylabel("orders/s")
    samples = result["latency_samples_ms"]
    if samples:
        right.hist(samples, bins=50)
    latency = result["latency_ms"]["convert_to_confirmed"]
    right.set_title(f"convert -> confirmed (p50 {latency.get('p50')} ms, p99 {latency.get('p99')} ms)")
    right.set_xlabel("ms")
    right.set_ylabel("orders")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def report(console, result: dict, out: Path) -> None:
    from rich.table import Table

    latency = result["latency_ms"]
    console.rule("benchmark")
    console.print(f"parameters: {result['parameters']}")
    console.print(f"carts: {result['carts']}  outcomes: {result['outcomes']}  http errors: {result['error_count']}")
    console.print(f"[bold]confirmed orders/s (end to end, sustained): {result['confirmed_per_second']}[/bold]")
    table = Table("latency (ms)", "count", "p50", "p95", "p99", "max")
    for name, p in [*latency.items(), *((f"HTTP {k}", v) for k, v in result["http_write"].items())]:
        table.add_row(name, *(str(p.get(k, "-")) for k in ("count", "p50", "p95", "p99", "max")))
    console.print(table)
    hops_table = Table("hop (ms, p50 / p99)", "outbox -> published", "published -> task", "task -> claimed")
    for hop, parts in result["hops_ms"].items():
        hops_table.add_row(hop, *(f"{parts[k].get('p50', '-')} / {parts[k].get('p99', '-')}" for k in parts))
    console.print(hops_table)
    reads = Table("read path (wrk)", "req/s", "p50 ms", "p90 ms", "p99 ms", "non-2xx")
    for path, r in result["read_paths"].items():
        if isinstance(r, dict) and "requests_per_second" in r:
            reads.add_row(
                path, *(str(r.get(k, "-")) for k in ("requests_per_second", "p50_ms", "p90_ms", "p99_ms", "non_2xx"))
            )
        else:
            reads.add_row(path, str(r), "", "", "", "")
    console.print(reads)
    console.print(f"HTTP write path: {result['http_write']}")
    console.print(f"CPU seconds per 1,000 orders: {result['cpu_seconds_per_1000_orders']}")
    console.print(
        f"[bold]CPU per confirmed order: platform {result.get('platform_cpu_ms_per_order')} ms"
        f" (web, workers, relay, bridge, PostgreSQL, emulator, RabbitMQ),"
        f" whole machine {result.get('machine_cpu_ms_per_order')} ms[/bold]"
    )
    if "profile" in result:
        from bench.profile import report as profile_report

        profile_report(console, result["profile"])
    audit = result["audit"]
    console.print(f"audit: {'OK' if audit['ok'] else 'VIOLATIONS'}")
    console.print(f"written: {out / 'bench.json'}, {out / 'bench.png'}")
