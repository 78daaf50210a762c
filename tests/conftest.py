"""Fixtures of the tests that need more than PostgreSQL."""

import io
import os
import uuid

import pytest
from django.core.management import call_command

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


@pytest.fixture
def project(pubsub_emulator, settings):
    """A Pub/Sub project of the test's own, so nothing else running on the emulator interferes."""
    settings.GOOGLE_CLOUD_PROJECT = f"test-{uuid.uuid4().hex[:12]}"
    return settings.GOOGLE_CLOUD_PROJECT


@pytest.fixture
def provisioned(project):
    """That project with every topic and subscription of the platform."""
    call_command("provision_pubsub", stdout=io.StringIO())
    return project
