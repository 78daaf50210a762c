"""Google Cloud Pub/Sub: the emulator locally (PUBSUB_EMULATOR_HOST), Google Cloud in production.

Imported by base.py. The client libraries read PUBSUB_EMULATOR_HOST from the process environment
themselves; `make run` and the test suite set it.
"""

from shop.settings.environment import env

GOOGLE_CLOUD_PROJECT = env.str("GOOGLE_CLOUD_PROJECT", default="shop-local")
PUBSUB_EMULATOR_HOST = env.str("PUBSUB_EMULATOR_HOST", default="")
# Subscriptions: how long Pub/Sub waits for an ack, how often it redelivers, when it gives up.
# The bridge acknowledges within milliseconds, so a short deadline only matters when a bridge died
# holding messages: they come back sooner. (The emulator keeps streams of a SIGKILLed client and
# goes on dispatching to them until each message's deadline passes.)
PUBSUB_ACK_DEADLINE_SECONDS = env.int("PUBSUB_ACK_DEADLINE_SECONDS", default=10)
# Pub/Sub redelivers only what a bridge failed to hand over (broker down, bridge killed): handler
# failures are retried and dead-lettered by Celery. So Pub/Sub's own dead-lettering is the last
# resort, for messages that no bridge could take for a long time: 100 attempts, the maximum.
PUBSUB_MAX_DELIVERY_ATTEMPTS = env.int("PUBSUB_MAX_DELIVERY_ATTEMPTS", default=100)
PUBSUB_MIN_BACKOFF_SECONDS = env.int("PUBSUB_MIN_BACKOFF_SECONDS", default=1)
PUBSUB_MAX_BACKOFF_SECONDS = env.int("PUBSUB_MAX_BACKOFF_SECONDS", default=60)
# Per-key ordered delivery. Off by default: every consumer tolerates reordering (versions on
# copied state, status guards in the saga), and the emulator wedges a subscription that has
# both ordering and a dead-letter policy (NullPointerException in OrderedMessageBacklog.pull).
PUBSUB_ENABLE_MESSAGE_ORDERING = env.bool("PUBSUB_ENABLE_MESSAGE_ORDERING", default=False)
# Relay: how many outbox rows one batch publishes, and the fallback poll when no NOTIFY arrives.
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=200)
OUTBOX_POLL_SECONDS = env.float("OUTBOX_POLL_SECONDS", default=1.0)
# Relay and bridge: after a round that moved anything, wait this long before the next, so that what
# arrives meanwhile travels together (one Publish, one Pull, one task, one transaction). Idle, an
# event is moved at once; under load batches grow by themselves. 0: never wait.
OUTBOX_LINGER_SECONDS = env.float("OUTBOX_LINGER_SECONDS", default=0.05)
BRIDGE_LINGER_SECONDS = env.float("BRIDGE_LINGER_SECONDS", default=0.05)
# Relay: a row that failed this many times, the last time with an error that retrying cannot cure
# (too large, invalid, a topic it cannot re-create), is parked: left out, shown in the admin.
OUTBOX_MAX_PUBLISH_ATTEMPTS = env.int("OUTBOX_MAX_PUBLISH_ATTEMPTS", default=10)
# Outbox: the largest payload (JSON bytes) a service may record; more is refused in its transaction.
# Far above any event of the contract, far below Pub/Sub's 10 MB per message.
OUTBOX_MAX_PAYLOAD_BYTES = env.int("OUTBOX_MAX_PAYLOAD_BYTES", default=1_000_000)
# Re-drive (workers/redrive.py, run by the relay): every INTERVAL seconds, events first published
# less than WINDOW seconds ago, last published more than GRACE seconds ago, that a subscribed service
# has no inbox row for and nothing queued at the broker, are published again. 0 turns it off.
REDRIVE_INTERVAL_SECONDS = env.float("REDRIVE_INTERVAL_SECONDS", default=30.0)
REDRIVE_GRACE_SECONDS = env.float("REDRIVE_GRACE_SECONDS", default=60.0)
REDRIVE_WINDOW_SECONDS = env.float("REDRIVE_WINDOW_SECONDS", default=600.0)
# The window is counted from an event's first publication; an event re-published this many times
# and still not received is given up on (logged, counted, marked in the outbox).
REDRIVE_MAX_PER_EVENT = env.int("REDRIVE_MAX_PER_EVENT", default=3)
# Signed envelopes: when set, the relay signs every message (HMAC-SHA256, attribute "signature")
# and the bridge dead-letters any message without a valid one, so that only the platform's own
# relays can cause effects. Every relay and bridge needs the same key. Empty: not signed.
PUBSUB_SIGNING_KEY = env.str("PUBSUB_SIGNING_KEY", default="")
# Bridge: "streaming" pull (the client library's flow-controlled stream) or "unary" long-polling
# Pull. Locally the emulator keeps dispatching to the streams of a SIGKILLed subscriber for
# minutes, so with the emulator the bridge pulls; on Google Cloud it streams.
BRIDGE_PULL = env.str("BRIDGE_PULL", default="unary" if PUBSUB_EMULATOR_HOST else "streaming")
# Bridge: how many messages one subscription may have in flight.
BRIDGE_MAX_MESSAGES = env.int("BRIDGE_MAX_MESSAGES", default=200)
# Bridge (pulling): at most this many pulled events travel in one Celery task.
BRIDGE_TASK_BATCH = env.int("BRIDGE_TASK_BATCH", default=20)
# Bridge: how long it keeps a batch the broker refuses (leases extended, retrying) before handing
# it back to Pub/Sub. A broker restart then costs no redelivery.
BRIDGE_HOLD_SECONDS = env.float("BRIDGE_HOLD_SECONDS", default=60.0)
# Handlers: Celery retries with exponential backoff, then the event is dead-lettered.
HANDLER_MAX_RETRIES = env.int("HANDLER_MAX_RETRIES", default=8)
HANDLER_RETRY_BACKOFF_MAX = env.int("HANDLER_RETRY_BACKOFF_MAX", default=60)
# Fault injection for tests and chaos runs only: each handler sleeps this long after its effects,
# before its transaction commits, so that a worker can be killed in the middle of a task.
HANDLER_FAULT_DELAY_SECONDS = env.float("HANDLER_FAULT_DELAY_SECONDS", default=0.0)
HANDLER_FAULT_DELAY_SERVICES = env.list("HANDLER_FAULT_DELAY_SERVICES", default=[])  # empty: every service
