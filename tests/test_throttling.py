"""Throttles per caller: a verified identity by its token, anyone else by client address; 429 with Retry-After."""

import logging
import time
import uuid
from decimal import Decimal

import jwt
import pytest
import redis
from django.core.cache import caches

from apps.carts.tests.factories import CartFactory, CartItemFactory, CatalogProductFactory
from apps.products.demo import seed as seed_products

JOHN = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")
JANE = uuid.UUID("550e8400-e29b-41d4-a716-446655440001")
SECRET = "throttle-secret-of-at-least-thirty-two-bytes"

pytestmark = pytest.mark.django_db(databases=["cart", "product"])


@pytest.fixture
def rates(settings):
    """jwt mode with small rates; returns a function that sets them."""
    settings.AUTH_MODE = "jwt"
    settings.AUTH_JWT_SECRET = SECRET

    def set_rates(**rates):
        defaults = {"anonymous": None, "customer": None, "staff": None, "sensitive": None}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**defaults, **rates}}

    return set_rates


def bearer(customer_id, staff=False):
    claims = {"sub": str(customer_id), "exp": int(time.time()) + 600}
    if staff:
        claims["roles"] = ["staff"]
    return {"HTTP_AUTHORIZATION": f"Bearer {jwt.encode(claims, SECRET, 'HS256')}"}


def converting(customer_id):
    """A cart with an item, ready to convert."""
    CatalogProductFactory(sku="LAP-001", price=Decimal("1.00"))
    CartItemFactory(cart=CartFactory(customer_id=customer_id), product_sku="LAP-001")


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    assert "throttled" in response.json()["detail"]


def test_a_customer_past_their_rate_gets_429_with_retry_after(rates, service_client):
    rates(customer="3/min")
    john = service_client("cart", **bearer(JOHN))

    assert [john.get("/cart").status_code for _ in range(3)] == [200, 200, 200]
    assert_throttled(john.get("/cart"))


def test_each_customer_has_a_rate_of_their_own(rates, service_client):
    rates(customer="2/min")
    john, jane = service_client("cart", **bearer(JOHN)), service_client("cart", **bearer(JANE))
    john.get("/cart"), john.get("/cart")

    assert john.get("/cart").status_code == 429
    assert jane.get("/cart").status_code == 200


def test_converting_has_a_tighter_scope(rates, service_client):
    rates(customer="100/min", sensitive="1/min")
    converting(JOHN)
    john = service_client("cart", **bearer(JOHN))

    assert john.post("/cart/convert-to-order").status_code == 202
    assert_throttled(john.post("/cart/convert-to-order"))
    assert john.get("/cart").status_code == 200  # the other routes still answer


def test_staff_are_not_throttled_by_default(rates, service_client):
    rates(customer="1/min", sensitive="1/min")
    staff = service_client("product", **bearer(uuid.uuid4(), staff=True))

    assert {staff.get("/products").status_code for _ in range(5)} == {200}


def test_anonymous_callers_are_counted_by_client_address(rates, service_client):
    rates(anonymous="2/min")
    seed_products()
    client = service_client("product")

    def get(address, forwarded=None):
        headers = {"REMOTE_ADDR": address}
        if forwarded:
            headers["HTTP_X_FORWARDED_FOR"] = forwarded
        return client.get("/products/LAP-001", **headers).status_code

    assert [get("10.0.0.1"), get("10.0.0.1")] == [200, 200]
    assert get("10.0.0.1", forwarded="203.0.113.9") == 429  # X-Forwarded-For is not believed by default
    assert get("10.0.0.2") == 200


def test_header_mode_is_not_throttled(rates, settings, service_client):
    rates(anonymous="1/min", customer="1/min")
    settings.AUTH_MODE = "header"
    john = service_client("cart", HTTP_X_CUSTOMER_ID=str(JOHN))

    assert {john.get("/cart").status_code for _ in range(3)} == {200}


@pytest.fixture
def redis_counters(settings):
    """The settings' default: counters in Redis, under a prefix of this test's own."""
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
            "KEY_PREFIX": prefix,
        },
    }
    yield prefix
    server = redis.Redis.from_url("redis://127.0.0.1:6379/1")
    for key in server.scan_iter(f"{prefix}:*"):
        server.delete(key)


def test_counters_live_in_redis_so_every_worker_of_a_service_sees_them(rates, redis_counters, service_client):
    rates(customer="2/min")
    john = service_client("cart", **bearer(JOHN))
    john.get("/cart"), john.get("/cart")

    # when this process forgets its cache connections, as another gunicorn worker has none of its own
    caches["throttle"].close()
    del caches["throttle"]

    # then the count is still there
    assert john.get("/cart").status_code == 429
    assert list(redis.Redis.from_url("redis://127.0.0.1:6379/1").scan_iter(f"{redis_counters}:*"))


def test_an_unreachable_throttle_cache_lets_requests_through(rates, settings, service_client, caplog):
    rates(customer="1/min")
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        },
    }
    john = service_client("cart", **bearer(JOHN))

    with caplog.at_level(logging.WARNING, logger="shop.throttling"):
        assert [john.get("/cart").status_code for _ in range(2)] == [200, 200]
    assert "throttle cache unavailable" in caplog.text
