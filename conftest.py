"""Root fixtures: a DRF client per service, each talking to that service's URL conf only."""

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from shop.registry import get_service


@pytest.fixture
def service_client(settings):
    """service_client("cart") -> an APIClient whose requests reach the cart service's routes only."""

    def for_service(name: str, **headers) -> APIClient:
        settings.ROOT_URLCONF = get_service(name).urlconf
        client = APIClient()
        if headers:
            client.credentials(**headers)
        return client

    return for_service


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Each test starts with no requests counted against any caller (the test settings keep them in memory)."""
    caches["throttle"].clear()


def pytest_terminal_summary(terminalreporter):
    """How many requests the schemathesis fuzz tests made, per service (xdist passes user_properties on)."""
    runs = []
    for report in terminalreporter.getreports("passed") + terminalreporter.getreports("failed"):
        properties = dict(report.user_properties)
        if report.when == "call" and "fuzz_requests" in properties:
            runs.append((report.nodeid, properties["fuzz_requests"], properties["fuzz_failures"]))
    if not runs:
        return
    terminalreporter.section("fuzzing")
    for nodeid, requests, failures in sorted(runs):
        terminalreporter.write_line(f"{nodeid}: {requests} requests, {failures} failures")
    terminalreporter.write_line(f"total: {sum(requests for _, requests, _ in runs)} requests")
