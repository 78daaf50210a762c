"""Fixtures the integration tests share."""

import uuid

import pytest

from apps.events.queues import parking_queue
from shop import registry
from shop.celery import app as celery_app


@pytest.fixture
def queue_prefix(monkeypatch):
    """Task queues of the test's own on the real broker, deleted afterwards with their exchanges."""
    prefix = f"test-{uuid.uuid4().hex[:12]}-"
    monkeypatch.setattr(registry, "QUEUE_PREFIX", prefix)
    yield prefix
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        for service in registry.SERVICES.values():
            channel.queue_delete(service.queue)
            channel.queue_delete(parking_queue(service.queue))
            channel.exchange_delete(service.queue)
