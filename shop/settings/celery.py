"""Celery: event handlers run as tasks, one durable queue per service, on RabbitMQ by default.

Imported by base.py; every name here is a Django setting read through the CELERY_ namespace.
"""

from kombu import Exchange, Queue

from shop.services import SERVICES
from shop.settings.base import env

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
# Wait for the broker's confirmation before apply_async returns: the bridge acknowledges
# Pub/Sub only once a task is safely in a durable queue.
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_QUEUES = [
    Queue(s.queue, Exchange(s.queue, type="direct", durable=True), routing_key=s.queue, durable=True)
    for s in SERVICES.values()
]
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ACKS_LATE = True  # a task is removed from the queue only once it has run
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a killed worker's task goes back to the queue
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
# Celery's Django fixup closes every database connection before and after each task unless this
# is set: a new PostgreSQL backend per event. With it, it closes them only every N tasks, and the
# app's own signal handlers (shop/celery.py) apply CONN_MAX_AGE and drop broken connections
# between tasks, as Django does between requests.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_PREFETCH_MULTIPLIER", default=4)
# Every task is bounded: the soft limit raises in the task (it fails and is retried like any
# handler error), the hard one kills the pool process, whose message goes back to the queue (and
# counts towards its delivery limit). Enforced by the prefork pool; the threads pool (the default,
# CELERY_POOL) cannot interrupt a thread, so there what bounds a task is what it waits on:
# EMAIL_TIMEOUT for SMTP, the broker's and PostgreSQL's own timeouts.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = False
