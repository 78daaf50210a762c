"""Gunicorn settings for one service process: `SHOP_SERVICE=cart gunicorn -c shop/gunicorn_conf.py`."""

import os
from pathlib import Path

from django.conf import settings

from shop.observability.logging import gunicorn_logconfig, set_process
from shop.registry import get_service

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")  # as shop/wsgi.py
_service = get_service(os.environ["SHOP_SERVICE"])
set_process("web", [_service.name])  # the master's lines, and its forked workers'

wsgi_app = "shop.wsgi:application"
_port = os.environ.get("PORT", _service.port)
bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{_port}"
workers = int(os.environ.get("WEB_CONCURRENCY") or _service.web_workers)
threads = int(os.environ.get("WEB_THREADS", "1"))
proc_name = _service.service_name
accesslog = os.environ.get("WEB_ACCESS_LOG") or None  # any value turns it on, as structured lines
# The master's lines as the workers' (Django's LOGGING; settings read, Django not set up).
logconfig_dict = gunicorn_logconfig(settings.LOGGING)
graceful_timeout = 10
timeout = 30
control_socket_disable = True  # eight gunicorns on one machine would fight over one control socket

# Prometheus multiprocess mode: every worker counts in its own files in this directory and GET /metrics
# of any worker adds them all up. One directory per gunicorn (docker: a tmpfs of the container's;
# locally var/prometheus/<service>-<port>, so that platforms side by side never share one), set before
# any worker imports prometheus_client, emptied when the master starts.
_metrics_dir = Path(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    or Path(__file__).resolve().parents[1] / "var" / "prometheus" / f"{_service.name}-{_port}"
)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def on_starting(server):
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):  # a previous master's counts: counters start again from 0
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker) -> None:
    """Tracing per worker process (its exporter thread would not survive the fork), before the app loads."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")
    from shop.observability import tracing

    tracing.configure(_service.service_name)
