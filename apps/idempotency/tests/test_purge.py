"""manage.py purge_idempotency_keys: expired keys leave each service's own database."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.idempotency.models import IdempotencyKey
from shop.registry import SERVICES

pytestmark = pytest.mark.django_db(databases=list(SERVICES))


def key(database, name, *, age):
    return IdempotencyKey.objects.using(database).create(
        caller="customer:someone",
        key=name,
        fingerprint="0" * 64,
        response_status=202,
        response_body="{}",
        created_at=timezone.now() - age,
    )


def remaining(database):
    return sorted(IdempotencyKey.objects.using(database).values_list("key", flat=True))


@pytest.fixture
def keys_everywhere(settings):
    """In every service database: one key just expired, one about to."""
    for service in SERVICES.values():
        key(service.database, "expired", age=settings.IDEMPOTENCY_TTL + timedelta(seconds=1))
        key(service.database, "live", age=settings.IDEMPOTENCY_TTL - timedelta(minutes=1))


def test_purge_deletes_the_expired_keys_of_every_service(keys_everywhere):
    out = StringIO()

    call_command("purge_idempotency_keys", stdout=out)

    for service in SERVICES.values():
        assert remaining(service.database) == ["live"]
    assert f"deleted {len(SERVICES)} expired idempotency key(s)" in out.getvalue()
    assert "cart-service: 1 expired key(s) deleted" in out.getvalue()


def test_purge_of_one_service_leaves_the_others_alone(keys_everywhere):
    call_command("purge_idempotency_keys", "--service", "order", stdout=StringIO())

    assert remaining("order") == ["live"]
    assert remaining("cart") == ["expired", "live"]


def test_purge_follows_the_configured_lifetime(keys_everywhere, settings):
    settings.IDEMPOTENCY_TTL = timedelta(seconds=30)

    call_command("purge_idempotency_keys", "--service", "cart", stdout=StringIO())

    assert remaining("cart") == []
