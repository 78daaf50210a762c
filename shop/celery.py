"""The Celery app: event handlers run as tasks on one queue per service."""

import os

from celery import Celery, signals

from shop.observability.logging import celery_setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Workers log through Django's LOGGING (structured lines), not handlers of Celery's own.
signals.setup_logging.connect(celery_setup_logging, weak=False)


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(task=None, **signal) -> None:
    """Between tasks, what Django does between requests: drop connections past CONN_MAX_AGE or broken.

    Not for a task run eagerly (tests): it runs inside its caller's transaction.
    """
    from django.db import close_old_connections

    if task is None or not task.request.is_eager:
        close_old_connections()
