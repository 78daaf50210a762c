"""Metrics and probes (shop/observability): what the readiness checks may cost, where the probes listen.

Imported by base.py. The web services' multiprocess metrics directory is not a Django setting:
gunicorn's master prepares it before any worker imports Django (PROMETHEUS_MULTIPROC_DIR, see
shop/gunicorn_conf.py).
"""

from shop.settings.environment import env

# Readiness (GET / of a web service, /readyz of the others): each dependency's check is bounded by
# this (a probe answers within about this long, however dead a dependency is) and its result kept
# this long, so frequent probes cost the dependencies one check per interval and process.
HEALTH_CHECK_TIMEOUT_SECONDS = env.float("HEALTH_CHECK_TIMEOUT_SECONDS", default=1.5)
HEALTH_CHECK_CACHE_SECONDS = env.float("HEALTH_CHECK_CACHE_SECONDS", default=2.0)
# What GET / of a web service checks, of what its service uses: its database, its broker queue (a
# service that consumes events), Pub/Sub (its topic). A deployment whose web pods should stay in
# service while the messaging is down (the outbox keeps the events) can narrow it, e.g. "database".
HEALTH_CHECKS = env.list("HEALTH_CHECKS", default=["database", "broker", "pubsub"])
# Liveness of the relay, the bridge and the workers (/livez): their loop must have made progress
# within this many seconds. Longer than any one wait of theirs (a Publish call's 30 s, the bridge's
# BRIDGE_HOLD_SECONDS), so that an outage of a dependency never has them restarted.
LIVENESS_STALE_SECONDS = env.float("LIVENESS_STALE_SECONDS", default=120.0)
# The relay's, the bridge's and the workers' /metrics, /livez and /readyz: this port (default: each
# process's own in shop/registry.py, METRICS_PORTS; 0: none) on this address (default WEB_HOST's).
METRICS_PORT = env.int("METRICS_PORT", default=None)
METRICS_HOST = env.str("METRICS_HOST", default=env.str("WEB_HOST", default="127.0.0.1"))
