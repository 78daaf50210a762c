"""ensure_staff creates the staff login once and never touches an existing account's password."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command


def ensure_staff() -> str:
    out = io.StringIO()
    call_command("ensure_staff", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(databases=["default"])
def test_it_creates_the_staff_login_when_absent():
    output = ensure_staff()

    staff = User.objects.get(username="admin")
    assert staff.is_staff
    assert staff.is_superuser
    assert staff.check_password("admin")
    assert staff.email == "admin@example.com"
    assert "created" in output


@pytest.mark.django_db(databases=["default"])
def test_it_never_resets_an_existing_password():
    # given: the login exists and its password was changed since the first setup
    User.objects.create_superuser("admin", "admin@example.com", "changed-since")

    # when: setup runs again (every deploy does)
    output = ensure_staff()

    # then
    assert User.objects.get(username="admin").check_password("changed-since")
    assert "left as it is" in output


@pytest.mark.django_db(databases=["default"])
def test_it_does_not_promote_an_existing_account():
    User.objects.create_user("admin", password="own")

    ensure_staff()

    account = User.objects.get(username="admin")
    assert not account.is_staff
    assert not account.is_superuser
    assert account.check_password("own")


@pytest.mark.django_db(databases=["default"])
def test_without_a_password_it_creates_nothing(settings):
    settings.STAFF_PASSWORD = ""

    assert "no staff login created" in ensure_staff()
    assert not User.objects.exists()
