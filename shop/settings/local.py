"""Local development: `make run`. Safe defaults, a documented staff login, mail on the console."""

import os

# The Pub/Sub client libraries read this from the process environment themselves.
os.environ.setdefault("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-a-secret")

from shop.settings.base import *  # noqa: F403
from shop.settings.environment import env

# Created by `make run` (manage.py ensure_staff); production never has a default password.
STAFF_USERNAME = env.str("STAFF_USERNAME", default="admin")
STAFF_PASSWORD = env.str("STAFF_PASSWORD", default="admin")
STAFF_EMAIL = env.str("STAFF_EMAIL", default="admin@example.com")

# `make run` starts Flower (runner/processes.py), which shows what the workers report.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_TASK_EVENTS", default=True)
