"""Fixtures of the metrics and probe tests: the integration tests' broker queues and emulator."""

from tests.integration.conftest import queue_prefix  # noqa: F401 - a fixture, used by name
