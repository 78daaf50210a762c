"""Gunicorn settings for one service process: `SHOP_SERVICE=cart gunicorn -c shop/gunicorn_conf.py`."""

import os

from django.conf import settings

from shop.observability.logging import gunicorn_logconfig, set_process
from shop.registry import get_service

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")  # as shop/wsgi.py
_service = get_service(os.environ["SHOP_SERVICE"])
set_process("web", [_service.name])  # the master's lines, and its forked workers'

wsgi_app = "shop.wsgi:application"
bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('PORT', _service.port)}"
workers = int(os.environ.get("WEB_CONCURRENCY") or _service.web_workers)
threads = int(os.environ.get("WEB_THREADS", "1"))
proc_name = _service.service_name
accesslog = os.environ.get("WEB_ACCESS_LOG") or None  # any value turns it on, as structured lines
# The master's lines as the workers' (Django's LOGGING; settings read, Django not set up).
logconfig_dict = gunicorn_logconfig(settings.LOGGING)
graceful_timeout = 10
timeout = 30
control_socket_disable = True  # eight gunicorns on one machine would fight over one control socket
