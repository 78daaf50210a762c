"""The one supervisor of the platform's processes: `make run`, the e2e tests, `make bench` and `make chaos`.

Each program runs as a shell command in a process group of its own. One that dies is restarted
after an exponential backoff (0.5 s doubling to 30 s, forgiven once it has stayed up 30 s), its
death logged loudly with exit code or signal and counted; it is never given up on, because on
this platform a process that cannot start now (PostgreSQL restarting, RabbitMQ down) can later,
and the contract says work resumes on restart. Stopping (Ctrl-C, SIGTERM, SIGHUP, or ``stop_all``)
sends SIGTERM to every group and SIGKILL to what is left after a grace period, grandchildren too.

Why our own, in one module, rather than a process manager from PyPI:

- honcho (what `make run` used) is foreman's model: when one process exits it stops all of them.
  It cannot restart anything.
- supervisord is a daemon configured by an ini file and driven over XML-RPC. It gives up on a
  program after ``startretries`` quick deaths (FATAL, never restarted again), restarts one that
  was up without any delay, counts no restarts, and writes each program's output to its own file
  rather than interleaving it with names on one terminal, as a foreground `make run` should.
- circus brings ZeroMQ and Tornado, waits a fixed ``retry_in`` between tries (no growing
  backoff) and by default gives up after ``max_retry`` (5).

What we need fits in this module, is the same code in all four places, and is tested as such
(tests/test_supervisor.py, tests/e2e/test_supervision.py). In production a container runtime or
systemd does this job; see docker/.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Backoff:
    """How long a dead program waits before its restart: ``initial`` doubling up to ``maximum``.

    A program that has stayed up ``stable_after`` seconds starts again from ``initial``, so one
    death an hour is restarted at once while a crash loop settles at one try every ``maximum``.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    stable_after: float = 30.0

    def delay(self, deaths_in_a_row: int) -> float:
        return min(self.initial * self.factor ** max(deaths_in_a_row - 1, 0), self.maximum)


@dataclass(frozen=True)
class Program:
    """One long-running process: a shell command (a Procfile line) and its whole environment.

    ``log``: a file its output is appended to; None puts its lines, prefixed with the time and its
    name, on the supervisor's own output (honcho's format).
    """

    name: str
    command: str
    env: Mapping[str, str]
    log: Path | None = None


@dataclass(frozen=True)
class Death:
    """A process of a program that ended without being asked to."""

    name: str
    pid: int
    returncode: int
    uptime: float
    restart_in: float
    at: float = field(default_factory=time.time)

    @property
    def cause(self) -> str:
        if self.returncode < 0:
            return f"killed by {signal.Signals(-self.returncode).name}"
        if self.returncode > 128:  # how /bin/sh reports a child killed by a signal
            with contextlib.suppress(ValueError):
                return f"exit code {self.returncode} ({signal.Signals(self.returncode - 128).name})"
        return f"exit code {self.returncode}"


@dataclass
class _Child:
    program: Program
    extra_env: dict[str, str] = field(default_factory=dict)
    wanted: bool = False  # to be kept running; False once stopped on purpose
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    deaths_in_a_row: int = 0
    restart_at: float | None = None


class Output:
    """Lines from many processes on one stream: ``21:30:01 cart-web     | ...``, honcho's format.

    ``target``: an open stream, or a file opened (for appending) at the first line.
    """

    COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
    LOUD = "1;31"

    def __init__(self, target: IO[str] | Path, width: int = 10):
        self._target = target
        self._stream: IO[str] | None = None if isinstance(target, Path) else target
        self._lock = threading.Lock()
        self._colours: dict[str, str] = {}
        self._cycle = itertools.cycle(self.COLOURS)
        self.width = width

    def line(self, name: str, text: str, *, loud: bool = False) -> None:
        # A closed terminal or a dead `| tee` must neither stop the supervisor nor leave the
        # children blocked on a full pipe: then their lines are read and dropped.
        with self._lock, contextlib.suppress(OSError, ValueError):
            stream = self._open()
            prefix = f"{datetime.now():%H:%M:%S} {name:<{self.width}} |"
            if stream.isatty():
                colour = self.LOUD if loud else self._colours.setdefault(name, next(self._cycle))
                prefix = f"\033[{colour}m{prefix}\033[0m"
            stream.write(f"{prefix} {text.rstrip()}\n")
            stream.flush()

    def close(self) -> None:
        with self._lock:
            if isinstance(self._target, Path) and self._stream is not None:
                self._stream.close()
                self._stream = None

    def _open(self) -> IO[str]:
        if self._stream is None:
            assert isinstance(self._target, Path)
            self._target.parent.mkdir(parents=True, exist_ok=True)
            self._stream = self._target.open("a", encoding="utf-8")
        return self._stream


def live_groups() -> set[int]:
    """The process groups that still have a running process. A zombie does not count: this
    machine's init may never reap an orphan, and a zombie holds no port, connection or task."""
    groups = set()
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE:
                groups.add(os.getpgid(process.pid))
        except (ProcessLookupError, psutil.Error):
            continue
    return groups


def group_alive(pgid: int) -> bool:
    return pgid in live_groups()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Supervisor:
    """Starts programs, restarts the ones that die, stops them all.

    ``run()`` is the foreground form (`make run`): it returns on Ctrl-C/SIGTERM/SIGHUP once
    everything has stopped, with the exit code of a shell killed by that signal (130 for
    Ctrl-C, as honcho had). ``start_all()`` + ``watch()`` is the background form for code that
    goes on doing other things (the e2e platform, the benchmark, chaos); ``stop_all()`` ends it.
    A second Ctrl-C while stopping skips the grace period.
    """

    def __init__(
        self,
        programs: Iterable[Program],
        *,
        cwd: Path,
        output: IO[str] | Path | None = None,
        backoff: Backoff | None = None,
        grace: float = 10.0,
        poll_interval: float = 0.1,
    ):
        self.cwd = cwd
        self.backoff = backoff or Backoff()
        self.grace = grace
        self.poll_interval = poll_interval
        self._children = {program.name: _Child(program) for program in programs}
        width = max([len("supervisor"), *(len(name) for name in self._children)])
        self.output = output if isinstance(output, Output) else Output(output or sys.stdout, width)
        self.restarts: Counter[str] = Counter()
        self.deaths: deque[Death] = deque(maxlen=1000)  # the latest, for tests and reports
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._hurry = threading.Event()
        self._asked_status = threading.Event()
        self._watcher: threading.Thread | None = None
        self._stop_signal: int | None = None

    # --- what is running -------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return list(self._children)

    def pid(self, name: str) -> int | None:
        """The pid of the program's current process (also its process group), None while down."""
        with self._lock:
            popen = self._children[name].popen
            return popen.pid if popen is not None and popen.poll() is None else None

    def pids(self) -> dict[str, int]:
        return {name: pid for name in self._children if (pid := self.pid(name)) is not None}

    # --- starting and stopping one program -------------------------------------------------

    def start(self, name: str, **extra_env: str) -> None:
        """Start a program (again) and keep it running; ``extra_env`` stays for its restarts."""
        with self._lock:
            child = self._children[name]
            if child.popen is not None and child.popen.poll() is None:
                raise RuntimeError(f"{name} is already running (pid {child.popen.pid})")
            child.extra_env = dict(extra_env)
            child.wanted, child.deaths_in_a_row, child.restart_at = True, 0, None
            self._spawn(child)

    def start_all(self) -> None:
        for name in self._children:
            self.start(name)

    def send_signal(self, name: str, sig: int) -> int | None:
        """Send a signal to the program's whole group, leaving what follows to the supervisor."""
        pid = self.pid(name)
        if pid is not None:
            _signal_group(pid, sig)
        return pid

    def stop(self, name: str, sig: int = signal.SIGTERM, *, timeout: float | None = None) -> None:
        """Stop a program for good (it is not restarted until ``start``), its whole group gone.

        SIGKILL follows ``sig`` for whatever of the group outlives ``timeout`` (the grace period).
        """
        with self._lock:
            child = self._children[name]
            popen, child.popen = child.popen, None  # out of the watcher's sight: no death to report
            child.wanted, child.restart_at = False, None
        if popen is None:
            return
        _signal_group(popen.pid, sig)
        self._reap([popen], self.grace if timeout is None else timeout)

    # --- everything --------------------------------------------------------------------------

    def watch(self) -> None:
        """Restart what dies, from a background thread, until ``stop_all``."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
            self._watcher.start()

    def stop_all(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM every group, then SIGKILL what is left after the grace period; returns when all are gone."""
        self._stopping.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join()
        with self._lock:
            popens = []
            for child in self._children.values():
                child.wanted, child.restart_at = False, None
                if child.popen is not None:
                    popens.append(child.popen)
                    _signal_group(child.popen.pid, sig)
                child.popen = None
        if popens:
            self.output.line("supervisor", f"stopping {len(popens)} processes ({signal.Signals(sig).name})")
        self._reap(popens, self.grace)
        summary = ", ".join(f"{name} {count}" for name, count in sorted(self.restarts.items()))
        self.output.line("supervisor", f"all stopped; restarts: {summary or 'none'}")

    def status(self) -> list[str]:
        """One line per program: its pid and uptime (or down), and how often it was restarted."""
        now, lines = time.monotonic(), []
        with self._lock:
            for name, child in self._children.items():
                running = child.popen is not None and child.popen.poll() is None
                state = f"pid {child.popen.pid}, up {now - child.started_at:.0f} s" if running else "down"
                lines.append(f"{name}: {state}, restarts {self.restarts[name]}")
        return lines

    def run(self) -> int:
        """The foreground form: start everything, restart what dies, stop on Ctrl-C/SIGTERM/SIGHUP.

        ``kill -USR1 <pid>`` prints every program's state and restart count.
        """
        previous = {sig: signal.signal(sig, self._on_stop_signal) for sig in STOP_SIGNALS}
        previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, lambda *_: self._asked_status.set())
        try:
            self.start_all()
            while not self._stopping.is_set():
                self._tick()
                if self._asked_status.is_set():
                    self._asked_status.clear()
                    for line in self.status():
                        self.output.line("supervisor", line)
                self._stopping.wait(self.poll_interval)
            self.output.line("supervisor", f"{signal.Signals(self._stop_signal or signal.SIGTERM).name} received")
            self.stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 128 + (self._stop_signal or signal.SIGTERM)

    # --- inside ------------------------------------------------------------------------------

    def _on_stop_signal(self, signum, frame) -> None:
        if self._stopping.is_set():
            self._hurry.set()  # a second Ctrl-C: no more waiting
        self._stop_signal = self._stop_signal or signum
        self._stopping.set()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            self._tick()
            self._stopping.wait(self.poll_interval)

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            for child in self._children.values():
                if self._stopping.is_set():
                    return
                if child.popen is not None and child.popen.poll() is not None:
                    self._died(child, now)
                if child.wanted and child.popen is None and child.restart_at is not None and now >= child.restart_at:
                    self.restarts[child.program.name] += 1
                    self._spawn(child)

    def _died(self, child: _Child, now: float) -> None:
        popen, name = child.popen, child.program.name
        assert popen is not None
        # Whatever the dead process left in its group (gunicorn's workers holding the port, a
        # shell's child) goes too, so the restarted one starts clean.
        _signal_group(popen.pid, signal.SIGKILL)
        uptime = now - child.started_at
        if uptime >= self.backoff.stable_after:
            child.deaths_in_a_row = 0
        child.deaths_in_a_row += 1
        delay = self.backoff.delay(child.deaths_in_a_row)
        child.popen, child.restart_at = None, now + delay
        death = Death(name, popen.pid, popen.returncode, uptime, delay)
        self.deaths.append(death)
        self.output.line(
            "supervisor",
            f"!!! {name} DIED: {death.cause} (pid {death.pid}, up {uptime:.1f} s); "
            f"restart {self.restarts[name] + 1} in {delay:g} s",
            loud=True,
        )

    def _spawn(self, child: _Child) -> None:
        program = child.program
        env = {**program.env, **child.extra_env}
        log = None
        try:
            if program.log is not None:
                program.log.parent.mkdir(parents=True, exist_ok=True)
                log = program.log.open("ab")
            child.popen = subprocess.Popen(  # noqa: S602 - the platform's own fixed commands
                program.command,
                shell=True,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole, spared the terminal's Ctrl-C
            )
        except OSError as exc:
            child.deaths_in_a_row += 1
            child.restart_at = time.monotonic() + self.backoff.delay(child.deaths_in_a_row)
            self.output.line("supervisor", f"!!! {program.name} could not start: {exc}", loud=True)
            return
        finally:
            if log is not None:
                log.close()
        child.started_at = time.monotonic()
        child.restart_at = None
        self.output.line("supervisor", f"started {program.name} (pid {child.popen.pid})")
        if child.popen.stdout is not None:
            threading.Thread(target=self._relay_output, args=(program.name, child.popen.stdout), daemon=True).start()

    def _relay_output(self, name: str, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self.output.line(name, raw.decode(errors="replace"))

    def _reap(self, popens: list[subprocess.Popen], grace: float) -> None:
        """Wait for the groups to end, then SIGKILL the rest (at once after a second Ctrl-C)."""
        deadline = time.monotonic() + grace
        pending = list(popens)
        while pending and time.monotonic() < deadline and not self._hurry.is_set():
            time.sleep(0.1)
            live = live_groups()
            pending = [p for p in pending if p.poll() is None or p.pid in live]
        for popen in pending:
            self.output.line("supervisor", f"pid {popen.pid} outlived the grace period: SIGKILL", loud=True)
            _signal_group(popen.pid, signal.SIGKILL)
        for popen in popens:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=5)
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            live = live_groups()
            pending = [p for p in pending if p.pid in live]
            time.sleep(0.05)
