"""`make bench BENCH_ARGS=--profile`: where the CPU goes, sampled with py-spy on the real run.

Every process of the platform (web, relay, bridge, workers) is sampled while the orders are being
driven. The collapsed stacks are written per process under ``results/.../profile/`` (open them
in speedscope or flamegraph.pl), and a summary says, per process kind, which functions the
samples were in (self), and which libraries and which of our own functions they were under
(inclusive). Only the thread holding the GIL is sampled: the figures are Python's CPU time.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import psutil

from runner.launcher import Platform, process_kind

SAMPLES_PER_SECOND = 50
# Inclusive shares are reported for these: a sample counts once for each that is on its stack.
AREAS = {
    "our code": re.compile(r"\((?:apps|workers|shop)/"),
    "django ORM": re.compile(r"\(django/db/"),
    "django request cycle": re.compile(r"\(django/(?:core/handlers|middleware|contrib/(?:sessions|auth|messages))/"),
    "DRF": re.compile(r"\(rest_framework/"),
    "psycopg": re.compile(r"\(psycopg/"),
    "pydantic": re.compile(r"\(pydantic/"),
    "celery / kombu / amqp": re.compile(r"\((?:celery|kombu|amqp|vine|billiard)/"),
    "grpc / pubsub client": re.compile(r"\((?:grpc|google)/"),
    "gunicorn": re.compile(r"\(gunicorn/"),
    "logging": re.compile(r"\(logging/"),
}
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


class Profiler:
    """One ``py-spy record`` per platform process, started and stopped around the drive."""

    def __init__(self, platform: Platform, out: Path):
        self.platform, self.out = platform, out / "profile"
        self.recorders: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        py_spy = py_spy_path()
        self.out.mkdir(parents=True, exist_ok=True)
        for name, group in self.platform.pids().items():
            pid = _python_root(group)
            if pid is None:
                continue
            self.recorders[name] = subprocess.Popen(  # noqa: S603 - py-spy with fixed arguments
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--subprocesses",
                    "--nonblocking",  # never pause the process sampled: the figures stay honest
                    "--gil",  # only the thread running Python: on a busy machine a woken thread waits for a CPU
                    "--rate",
                    str(SAMPLES_PER_SECOND),
                    "--format",
                    "raw",
                    "--output",
                    str(self.out / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self.out / f"{name}.py-spy.log").open("wb"),
            )

    def stop(self) -> dict:
        for recorder in self.recorders.values():
            with contextlib.suppress(ProcessLookupError):
                recorder.send_signal(signal.SIGINT)  # py-spy writes what it sampled on Ctrl-C
        for recorder in self.recorders.values():
            try:
                recorder.wait(timeout=60)
            except subprocess.TimeoutExpired:
                recorder.kill()
        stacks: dict[str, Counter[str]] = defaultdict(Counter)
        for name in self.recorders:
            path = self.out / f"{name}.txt"
            if path.exists():
                stacks[process_kind(name)].update(read_collapsed(path.read_text()))
        return {kind: summarize(kind_stacks) for kind, kind_stacks in sorted(stacks.items())}


def py_spy_path() -> str:
    """py-spy beside this interpreter (the project's virtualenv), else on the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise SystemExit("--profile needs py-spy (requirements/dev.txt installs it: make install)")
    return found


def _python_root(pid: int) -> int | None:
    """The outermost Python process of a launched command (the launcher starts it through a shell)."""
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            if "python" in process.name() or "gunicorn" in process.name() or "celery" in process.name():
                return process.pid
    except psutil.Error:
        pass
    return None


def read_collapsed(text: str) -> Counter[str]:
    """py-spy's raw format: ``frame;frame;... count`` per line."""
    stacks: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def summarize(stacks: Counter[str], top: int = 12) -> dict:
    """Per process kind: samples, the functions they were in, and the areas they were under."""
    total = sum(stacks.values())
    leaf: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        leaf[_short(frames[-1])] += count
        for area, pattern in AREAS.items():
            if any(pattern.search(frame) for frame in frames):
                areas[area] += count
        for function in {_short(frame) for frame in frames if AREAS["our code"].search(frame)}:
            ours[function] += count

    def share(count: int) -> float:
        return round(100 * count / total, 1) if total else 0.0

    return {
        "samples": total,
        "self_percent": {function: share(count) for function, count in leaf.most_common(top)},
        "inclusive_percent": {area: share(count) for area, count in areas.most_common()},
        "our_functions_percent": {function: share(count) for function, count in ours.most_common(top)},
    }


def _short(frame: str) -> str:
    """``execute (psycopg/cursor.py:732)`` -> ``execute (psycopg/cursor.py)``: lines spread a function thin."""
    match = _FRAME.match(frame)
    return f"{match['function']} ({match['file']})" if match else frame


def report(console, profile: dict) -> None:
    from rich.table import Table

    for kind, summary in profile.items():
        table = Table(f"{kind}: where the samples were ({summary['samples']})", "self %", title_justify="left")
        for function, percent in summary["self_percent"].items():
            table.add_row(function, str(percent))
        table.add_section()
        for area, percent in summary["inclusive_percent"].items():
            table.add_row(f"under {area}", str(percent))
        table.add_section()
        for function, percent in summary["our_functions_percent"].items():
            table.add_row(f"under {function}", str(percent))
        console.print(table)
