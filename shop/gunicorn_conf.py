"""Gunicorn settings for one service process: `SHOP_SERVICE=cart gunicorn -c shop/gunicorn_conf.py`."""

import os

from shop.registry import get_service

_service = get_service(os.environ["SHOP_SERVICE"])

wsgi_app = "shop.wsgi:application"
bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('PORT', _service.port)}"
workers = int(os.environ.get("WEB_CONCURRENCY") or _service.web_workers)
threads = int(os.environ.get("WEB_THREADS", "1"))
proc_name = _service.service_name
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
graceful_timeout = 10
timeout = 30
control_socket_disable = True  # eight gunicorns on one machine would fight over one control socket


def post_fork(server, worker) -> None:
    """Tracing per worker process (its exporter thread would not survive the fork), before the app loads."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")
    from shop.observability import tracing

    tracing.configure(_service.service_name)
