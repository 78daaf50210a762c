"""shop.settings.production, imported in a process of its own with a given environment."""

import json
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

# What production insists on, pointing nowhere: nothing here needs a database or a broker.
PRODUCTION_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "shop.settings.production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "testserver",
    "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere",
    "CELERY_BROKER_URL": "memory://",
    "GOOGLE_CLOUD_PROJECT": "nowhere",
    "EMAIL_URL": "consolemail://",
    "DEFAULT_FROM_EMAIL": "shop@example.com",
    "AUTH_JWT_SECRET": secrets.token_urlsafe(32),
    "PATH": "",
}

HTTPS_SETTINGS = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
    "AXES_CLIENT_IP_CALLABLE",
]

SETTINGS_PROBE = (
    "import json; from django.conf import settings;"
    f"print(json.dumps({{name: getattr(settings, name, None) for name in {HTTPS_SETTINGS!r}}}))"
)

# Requests through the whole middleware stack of the cart service, over plain HTTP unless told.
REQUESTS_PROBE = """
import json, logging, django
logging.disable(logging.CRITICAL)
django.setup()
from django.test import Client
answers = {}
for path, headers in [("/", {}), ("/metrics", {}), ("/livez", {}), ("/admin/login/", {}),
                      ("/admin/login/#https", {"HTTP_X_FORWARDED_PROTO": "https"})]:
    response = Client().get(path.partition("#")[0], **headers)
    answers[path] = [response.status_code, response.get("Location"), response.get("Strict-Transport-Security")]
print(json.dumps(answers))
"""


def production(probe: str, **environment: str | None) -> subprocess.CompletedProcess:
    """Run probe under production settings; a keyword given None removes that variable."""
    env = {**PRODUCTION_ENVIRONMENT, **environment}
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", probe],
        env={name: value for name, value in env.items() if value is not None},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def production_settings(**environment: str | None) -> dict:
    result = production(SETTINGS_PROBE, **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_https_is_on_by_default_and_no_proxy_is_believed():
    assert production_settings() == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": None,
        "AXES_CLIENT_IP_CALLABLE": None,
    }


def test_each_https_setting_comes_from_the_environment():
    assert production_settings(
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_HSTS_SECONDS="0",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        DJANGO_SECURE_HSTS_PRELOAD="true",
        DJANGO_SESSION_COOKIE_SECURE="false",
        DJANGO_CSRF_COOKIE_SECURE="false",
    ) == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "AXES_CLIENT_IP_CALLABLE": None,
    }


def test_a_trusted_proxy_is_believed_for_the_scheme_and_the_client_address():
    values = production_settings(DJANGO_TRUSTED_PROXY="true")

    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["AXES_CLIENT_IP_CALLABLE"] == "shop.proxy.forwarded_client_ip"


@pytest.mark.parametrize(
    "secret_key",
    [
        None,  # not set
        "",
        "short-but-random-Zq8xV1",
        "a" * 64,  # long, but not random
        "local-development-only-not-a-secret",  # local.py's
        "test-only-not-a-secret",  # test.py's
        "change-me-in-production",  # what .env.example used to ship
        "local-compose-only-insecure-placeholder-secret-key",  # what compose used to default to
        "django-insecure-" + "x7Rk2pQ9vLm4Nw8TjZ3bYc6HdF1sGa5eUo0iKqPr-tW_yXnB",  # startproject's
        "x7Rk2pQ9vLm4Nw8TjZ3bYc6HdF1sGa5eUo0iKqPr-tW_y" + "-placeholder",
    ],
)
def test_production_refuses_a_missing_weak_or_placeholder_secret_key(secret_key):
    result = production(SETTINGS_PROBE, DJANGO_SECRET_KEY=secret_key)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_a_proxy_depth_below_one():
    result = production(SETTINGS_PROBE, DJANGO_TRUSTED_PROXY="true", DJANGO_TRUSTED_PROXY_DEPTH="0")

    assert result.returncode != 0
    assert "DJANGO_TRUSTED_PROXY_DEPTH" in result.stderr


def requests(**environment: str) -> dict:
    result = production(REQUESTS_PROBE, SHOP_SERVICE="cart", **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_plain_http_is_redirected_except_probes_and_metrics():
    answers = requests()

    health, metrics, liveness = answers["/"], answers["/metrics"], answers["/livez"]
    assert health[0] == 503  # answered (its database is nowhere), not redirected
    assert metrics[0] == 200
    assert liveness[0] == 200
    assert answers["/admin/login/"][:2] == [301, "https://testserver/admin/login/"]


def test_a_client_cannot_claim_https_without_a_trusted_proxy():
    assert requests()["/admin/login/#https"][:2] == [301, "https://testserver/admin/login/"]


def test_behind_a_trusted_proxy_https_is_served_with_hsts():
    status, location, hsts = requests(DJANGO_TRUSTED_PROXY="true")["/admin/login/#https"]

    assert (status, location) == (200, None)
    assert hsts == "max-age=31536000"


IDENTITY_PROBE = "from django.conf import settings; print(settings.AUTH_MODE)"


def test_production_verifies_tokens_by_default():
    result = production(IDENTITY_PROBE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "jwt"


@pytest.mark.parametrize("mode", [None, "jwt"])
def test_production_refuses_to_start_without_a_key_source(mode):
    result = production(IDENTITY_PROBE, AUTH_MODE=mode, AUTH_JWT_SECRET=None)

    assert result.returncode != 0
    assert "AUTH_JWT_SECRET" in result.stderr


def test_production_takes_a_jwks_url_instead_of_a_secret():
    result = production(IDENTITY_PROBE, AUTH_JWT_SECRET=None, AUTH_JWKS_URL="https://id.example.com/jwks.json")

    assert result.returncode == 0, result.stderr


def test_an_unknown_auth_mode_is_refused():
    result = production(IDENTITY_PROBE, AUTH_MODE="none")

    assert result.returncode != 0
    assert "AUTH_MODE" in result.stderr


def test_behind_a_trusted_proxy_the_throttles_count_the_same_client_address():
    probe = "from django.conf import settings; print(settings.REST_FRAMEWORK['NUM_PROXIES'])"

    assert production(probe).stdout.strip() == "0"
    assert production(probe, DJANGO_TRUSTED_PROXY="true", DJANGO_TRUSTED_PROXY_DEPTH="2").stdout.strip() == "2"
