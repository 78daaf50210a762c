"""Celery: event handlers run as tasks, one durable queue per service, on RabbitMQ by default.

Imported by base.py; every name here is a Django setting read through the CELERY_ namespace.
"""

from kombu import Exchange, Queue

from shop.registry import SERVICES
from shop.settings.environment import env

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
# Wait for the broker's confirmation before apply_async returns: the bridge acknowledges
# Pub/Sub only once a task is safely in a durable queue.
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Task queues: quorum queues by default, so that the broker bounds redelivery itself, as a
# backstop for what the code cannot catch (a worker killed by the same message again and again,
# a message the code hands back for ever): a message returned to its queue CELERY_DELIVERY_LIMIT
# times, or rejected without requeue, is dead-lettered by RabbitMQ to the parking queue
# "<queue>.dead-letter" (classic, durable; nothing consumes it: staff look and move it back with
# `manage.py replay_parked`). Their exchanges are topic exchanges, which Celery's native delayed
# delivery needs for countdown retries on quorum queues (with a direct exchange the worker would
# hold each waiting retry itself, in a prefetch that quorum queues do not let it grow).
# A broker that still has the classic queues of earlier versions: see apps/events/queues.py.
# CELERY_QUEUE_TYPE=classic keeps the earlier topology (no delivery limit).
CELERY_QUEUE_TYPE = env.str("CELERY_QUEUE_TYPE", default="quorum")
CELERY_DELIVERY_LIMIT = env.int("CELERY_DELIVERY_LIMIT", default=50)


def task_queue_declaration(name: str) -> Queue:
    """A service queue as this setting declares it (quorum: delivery limit and parking queue)."""
    if CELERY_QUEUE_TYPE == "classic":
        return Queue(name, Exchange(name, type="direct", durable=True), routing_key=name, durable=True)
    arguments = {
        "x-queue-type": "quorum",
        "x-delivery-limit": CELERY_DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": f"{name}.dead-letter",
    }
    return Queue(name, Exchange(name, type="topic", durable=True), routing_key=name, queue_arguments=arguments)


CELERY_TASK_QUEUES = [task_queue_declaration(s.queue) for s in SERVICES.values()]
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
# Task events (received, started, succeeded, failed, retried) for a monitor such as Flower: one small
# broker message per step of a task, so off unless a monitor listens (the local settings turn it on).
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_TASK_EVENTS", default=False)
CELERY_TASK_ALWAYS_EAGER = False
