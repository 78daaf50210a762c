"""One chaos round in the suite: a worker, the bridge and the relay die mid-load; nothing is lost."""

import asyncio
import subprocess
import sys

import pytest

from bench.chaos import drained
from bench.load import Driver, Target, http_client, prepare
from runner.launcher import ROOT, wait_until

pytestmark = pytest.mark.e2e

VICTIMS = ("saga-worker", "bridge", "relay", "delivery-worker")


def test_killing_workers_bridge_and_relay_mid_load_loses_and_doubles_nothing(supervised_platform):
    platform = supervised_platform
    target = Target(platform)

    async def load_with_kills():
        async with http_client(16, timeout=10) as client:
            customers, skus = await prepare(client, target, customers=8, skus=3, orders=40)
            driver = Driver(client, target, customers, skus, orders=40, rate=0, attempts=30)

            async def kill_some():
                for name in VICTIMS:
                    await asyncio.sleep(1.0)
                    platform.crash(name)

            await asyncio.gather(asyncio.wait_for(driver.run(), timeout=300), kill_some())
            return driver

    driver = asyncio.run(load_with_kills())

    assert len(driver.cart_ids) == 40
    assert all(platform.restarts[name] >= 1 for name in VICTIMS)
    # A SIGKILLed bridge's messages come back when the emulator gives up on its stream (about 60s).
    wait_until(lambda: drained(target), timeout=240, interval=1, message="the backlog to drain")
    audit = subprocess.run(
        [sys.executable, "manage.py", "audit_invariants", "--grace", "0"],
        cwd=ROOT,
        env=platform.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
