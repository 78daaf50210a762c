"""GET /metrics of a web service under gunicorn: every worker's counts, added up (multiprocess mode)."""

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def livez_responses(base: str) -> float:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "django_http_responses_total_by_status_view_method_total" and sample.labels["view"] == "livez"
    )


@pytest.fixture
def gunicorn(tmp_path):
    """The push service under gunicorn with two workers, its metrics directory holding a stale file."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_99999.db").write_bytes(b"left by a previous run")
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings.local",
        "SHOP_SERVICE": "push",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "shop/gunicorn_conf.py"],
        cwd=settings.BASE_DIR,
        env=environment,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # two Django processes booting on a busy machine
    while True:
        try:
            requests.get(f"{base}/livez", timeout=10)
            break
        except requests.RequestException:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield base, metrics_dir
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_metrics_add_up_every_worker_and_start_from_an_emptied_directory(gunicorn):
    base, metrics_dir = gunicorn
    assert not (metrics_dir / "counter_99999.db").exists()
    before = livez_responses(base)

    def worker_files() -> set[str]:
        return {path.name.rsplit("_", 1)[1] for path in Path(metrics_dir).glob("*.db")}

    # Concurrent requests on new connections until both workers have answered some (which worker
    # accepts a connection is the kernel's choice: a second one is busy only under concurrency).
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        while sent == 0 or (len(worker_files()) < 2 and sent < 400):
            codes = list(pool.map(lambda _: requests.get(f"{base}/livez", timeout=10).status_code, range(40)))
            assert codes == [200] * 40
            sent += 40

    assert len(worker_files()) == 2  # two workers, each its own files
    assert livez_responses(base) == before + sent  # and /metrics of either adds both up
