"""Admin logins are locked out after AXES_FAILURE_LIMIT failures, on every service's admin at once."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User

from shop.registry import SERVICES
from shop.routers import ServiceRouter

ALL_DATABASES = ["default", *SERVICES]
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("staff", "staff@example.com", "right-password")


def log_in(client, password, username="staff", address="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_wrong_passwords_lock_the_login_out_even_for_the_right_one(service_client, staff):
    product_admin = service_client("product")

    failures = [log_in(product_admin, "wrong").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]

    assert failures == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again, then locked
    refused = log_in(product_admin, "right-password")
    assert refused.status_code == 429
    assert not logged_in(product_admin)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_a_lockout_on_one_service_holds_on_every_other(service_client, staff):
    product_admin = service_client("product")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(product_admin, "wrong")

    inventory_admin = service_client("inventory")

    assert log_in(inventory_admin, "right-password").status_code == 429
    assert not logged_in(inventory_admin)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_lockout_is_for_that_username_from_that_address_only(service_client, staff):
    admin = service_client("product")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(admin, "wrong", address="203.0.113.7")

    assert log_in(admin, "right-password", address="198.51.100.1").status_code == 302
    assert logged_in(admin)


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_the_api_is_not_throttled_by_an_admin_lockout(service_client, staff):
    client = service_client("product")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")

    assert client.get("/products", REMOTE_ADDR="203.0.113.7").status_code == 200


@pytest.mark.django_db(databases=ALL_DATABASES)
def test_login_attempts_are_kept_in_the_staff_database(service_client, staff):
    log_in(service_client("cart"), "wrong")

    assert AccessAttempt.objects.using("default").filter(username="staff").count() == 1
    router = ServiceRouter()
    assert router.db_for_write(AccessAttempt) is None  # Django's "default"
    assert router.allow_migrate("default", "axes")
    assert not any(router.allow_migrate(database, "axes") for database in SERVICES)


def test_limits_come_from_the_environment():
    probe = (
        "import json; from django.conf import settings as s;"
        "print(json.dumps([s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_LOCKOUT_PARAMETERS]))"
    )
    env = {"DJANGO_SETTINGS_MODULE": "shop.settings.test", "AXES_FAILURE_LIMIT": "3", "AXES_COOLOFF_MINUTES": "30"}
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", probe], env={**env, "PATH": ""}, capture_output=True, text=True, check=True
    )

    assert json.loads(result.stdout) == [3, 30 * 60, [["username", "ip_address"]]]


def test_the_defaults_are_five_failures_and_fifteen_minutes():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
