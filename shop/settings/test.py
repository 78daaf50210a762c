"""The test suite: the real PostgreSQL, mail kept in memory, fast password hashing."""

import os

# The Pub/Sub client libraries read this from the process environment themselves.
os.environ.setdefault("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret")

from shop.settings.base import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STAFF_USERNAME = "admin"
STAFF_PASSWORD = "admin"
STAFF_EMAIL = "admin@example.com"

# Throttle counters per test process, cleared before each test (conftest.py): parallel test runs
# must not count each other's requests. The Redis-backed default has a test of its own.
CACHES["throttle"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}  # noqa: F405

# Separate test databases for runs that share a PostgreSQL server at the same time.
_suffix = env.str("SHOP_TEST_DB_SUFFIX", default="")  # noqa: F405
if _suffix:
    for _config in DATABASES.values():  # noqa: F405
        _config["TEST"]["NAME"] = f"test_{_config['NAME']}_{_suffix}"

# GET / checks only the database here, as before: the broker's queues and the emulator are not there for
# every test. The readiness tests turn the other checks on (tests/observability/test_probes.py).
HEALTH_CHECKS = ["database"]
# Nothing kept between requests: a test that takes a dependency away must not answer the next test's probe.
HEALTH_CHECK_CACHE_SECONDS = 0
