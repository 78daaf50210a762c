"""`make run` supervises: `manage.py run_platform` itself, started as `make run` starts it (on a
throwaway environment of its own), restarts a worker, the bridge, the relay and a web server
SIGKILLed without a hand, orders still confirm after each restart, and Ctrl-C stops everything."""

import os
import re
import signal
import subprocess
import sys

import psutil
import pytest

from runner import emulator
from runner.launcher import ROOT, Platform, wait_until
from runner.supervisor import live_groups
from shop.registry import SERVICES
from tests.e2e.test_saga import add, convert, new_customer, new_product, outcome

pytestmark = pytest.mark.e2e


class MadeRun:
    """A `manage.py run_platform` in its own process group, as a terminal's foreground job is."""

    def __init__(self, platform: Platform):
        self.platform = platform
        self.log = platform.workdir / "run_platform.out"
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and command
            [sys.executable, "manage.py", "run_platform", "--port-offset", str(platform.port_offset)],
            cwd=ROOT,
            env=platform.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pid(self, name: str) -> int:
        """The pid the supervisor last started ``name`` with, from its own log lines."""
        return int(re.findall(rf"\| started {re.escape(name)} \(pid (\d+)\)", self.output())[-1])

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)


@pytest.fixture(scope="module")
def made_run(pubsub_emulator, tmp_path_factory):
    platform = Platform(tmp_path_factory.mktemp("made-run"), pubsub_emulator)
    running = None
    try:
        platform.setup()  # `make run`'s `make setup`: databases, migrations, seed data
        running = MadeRun(platform)
        platform.wait_ready()
        yield running
    finally:
        if running is not None and running.process.poll() is None:
            running.ctrl_c()
            try:
                running.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                running.process.kill()
        platform.teardown()


@pytest.mark.parametrize("victim", ["saga-worker", "bridge", "relay", "cart-web"])
def test_a_process_sigkilled_under_make_run_is_restarted_and_orders_still_confirm(made_run, victim):
    # given
    platform = made_run.platform
    pid = made_run.pid(victim)

    # when: it is SIGKILLed (the OOM killer, `kill -9`): the process itself, nothing else
    os.kill(pid, signal.SIGKILL)

    # then: the supervisor says so, and starts it again by itself
    wait_until(lambda: made_run.pid(victim) != pid, timeout=30, message=f"{victim} restarted")
    died = rf"!!! {victim} DIED: killed by SIGKILL \(pid {pid}, up [\d.]+ s\); restart \d+ in"
    assert re.search(died, made_run.output())
    assert psutil.Process(made_run.pid(victim)).is_running()
    assert made_run.process.poll() is None  # the rest went on running
    # and once it serves again (a web server boots in a second or so), an order goes all the way through
    platform.wait_ready()
    customer = new_customer(platform)
    sku = new_product(platform, stock=1)
    add(platform, customer, sku, 1)
    assert outcome(platform, convert(platform, customer)) == "ordered"


def test_ctrl_c_stops_every_process_of_make_run(made_run):
    """The last test of the module: it ends the platform the others share."""
    # given: every process of the platform, children and grandchildren (gunicorn's workers)
    root = psutil.Process(made_run.process.pid)
    leaders = root.children()
    everything = root.children(recursive=True)
    assert len(leaders) == len(made_run.platform.commands)
    assert len(everything) > len(leaders)

    # when
    made_run.ctrl_c()

    # then: it exits as a shell's Ctrl-C'd job does, and nothing it started is left
    assert made_run.process.wait(timeout=60) == 130
    assert not [p for p in everything if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not {p.pid for p in leaders} & live_groups()
    offset = made_run.platform.port_offset
    assert not any(emulator.reachable(f"127.0.0.1:{s.port + offset}", timeout=0.2) for s in SERVICES.values())
    output = made_run.output()
    assert "SIGINT received" in output
    assert "all stopped; restarts:" in output
