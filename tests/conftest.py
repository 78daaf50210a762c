"""Fixtures of the tests that need more than PostgreSQL."""

import os

import pytest

from runner import emulator


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory):
    """The Pub/Sub emulator: the one already running, or one started for this test run."""
    host = os.environ.setdefault("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
    if emulator.reachable(host):
        yield host
        return
    process = emulator.start(host, "shop-local", tmp_path_factory.mktemp("emulator") / "pubsub.log")
    yield host
    emulator.stop(process)
