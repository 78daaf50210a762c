"""docker/compose.yaml carries no secret: every password and key is required from the environment."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

COMPOSE = Path(settings.BASE_DIR) / "docker" / "compose.yaml"
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|TOKEN|_KEY$")
# ${NAME:?message}: Compose refuses to start without NAME, and has nothing to fall back on.
REQUIRED = re.compile(r"\$\{\w+:\?[^}]*\}")
URL_PASSWORD = re.compile(r"^\w+://[^:/@]+:(?P<password>[^@]*)@")


def environments() -> dict[str, dict[str, str]]:
    """Every service's environment, as Compose sees it once the YAML anchors are merged."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    found = {}
    for name, service in services.items():
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        found[name] = {key: str(value) for key, value in environment.items()}
    return found


def test_every_secret_in_compose_is_required_from_the_environment():
    secrets = {
        (service, key): value
        for service, environment in environments().items()
        for key, value in environment.items()
        if SECRET_NAME.search(key)
    }

    assert {key for _, key in secrets} >= {"DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_PASS"}
    assert ("setup", "STAFF_PASSWORD") in secrets
    literal = {where: value for where, value in secrets.items() if not REQUIRED.fullmatch(value)}
    assert literal == {}


def test_no_url_in_compose_carries_a_literal_password():
    urls = {
        (service, key): match["password"]
        for service, environment in environments().items()
        for key, value in environment.items()
        if (match := URL_PASSWORD.match(value))
    }

    assert {key for _, key in urls} >= {"DATABASE_URL", "CELERY_BROKER_URL"}
    literal = {where: password for where, password in urls.items() if not REQUIRED.fullmatch(password)}
    assert literal == {}


@pytest.mark.parametrize("service", ["setup", "order", "relay", "bridge", "worker-order"])
def test_every_platform_container_needs_the_secret_key(service):
    assert REQUIRED.fullmatch(environments()[service]["DJANGO_SECRET_KEY"])


def test_no_secret_falls_back_to_a_default_anywhere_in_the_file():
    defaults = re.findall(r"\$\{(\w+):?-", COMPOSE.read_text())

    assert [name for name in defaults if SECRET_NAME.search(name)] == []
