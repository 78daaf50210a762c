import contextlib

import pytest

from tests.e2e.harness import Platform


@contextlib.contextmanager
def running_platform(workdir, emulator_host, **overrides):
    running = Platform(workdir, emulator_host, **overrides)
    try:
        running.setup()
        running.start_all()
        yield running
    finally:
        running.teardown()


@pytest.fixture(scope="session")
def platform(pubsub_emulator, tmp_path_factory):
    """One platform the saga tests share."""
    with running_platform(tmp_path_factory.mktemp("platform"), pubsub_emulator) as running:
        yield running


@pytest.fixture(scope="module")
def supervised_platform(pubsub_emulator, tmp_path_factory):
    """A platform of its own, for tests that kill its processes at random (every platform runs
    under the supervisor `make run` uses; this one keeps the shared one out of harm's way)."""
    with running_platform(tmp_path_factory.mktemp("supervised"), pubsub_emulator) as running:
        yield running
