"""Production: everything from the environment, no defaults that could leak."""

from django.core.exceptions import ImproperlyConfigured

from shop.settings.base import *  # noqa: F403
from shop.settings.base import SECRET_KEY, check_identity_settings
from shop.settings.environment import env

DEBUG = False

# One JSON object per line, for a log collector (LOG_FORMAT=console to read them by eye).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING["formatters"]["structured"]["log_format"] = LOG_FORMAT  # noqa: F405

# Settings that have local defaults in base.py must be given explicitly in production: a
# deployment that forgot one fails at start instead of mailing to the console or the wrong broker.
for _required in ("DATABASE_URL", "CELERY_BROKER_URL", "GOOGLE_CLOUD_PROJECT", "EMAIL_URL", "DEFAULT_FROM_EMAIL"):
    env.str(_required)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

# Whoever knows the key can forge sessions and CSRF tokens: refuse what Django's own deploy check
# calls weak, and the placeholders of local, test, .env.example and old compose files.
_PLACEHOLDER_MARKERS = ("not-a-secret", "insecure", "placeholder", "change-me", "changeme")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or any(m in SECRET_KEY.lower() for m in _PLACEHOLDER_MARKERS):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be a random secret of at least 50 characters, not a placeholder: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

# --- HTTPS ----------------------------------------------------------------------------------
# On unless a deployment serves plain HTTP on purpose (docker/compose.yaml on localhost).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health probes (GET /, /livez) and Prometheus scrapes (/metrics) reach the pods over plain HTTP
# from inside the cluster: they are answered there, not redirected.
SECURE_REDIRECT_EXEMPT = [r"^$", r"^metrics/?$", r"^livez/?$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
# Both reach beyond these hosts (every subdomain; browsers' built-in lists): a deployment opts in.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=True)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- A TLS-terminating proxy in front of gunicorn ----------------------------------------------
# Its X-Forwarded-Proto and X-Forwarded-For are believed only when this says it is there: without
# one, any client could send those headers and pass for https or for another address. Only the
# proxy may then reach gunicorn, and it must overwrite X-Forwarded-Proto.
TRUSTED_PROXY = env.bool("DJANGO_TRUSTED_PROXY", default=False)
# How many addresses the trusted proxies append to X-Forwarded-For; the client's is the first of
# them (1: nginx, most ingresses; 2: Google Cloud's Application Load Balancer, client then itself).
TRUSTED_PROXY_DEPTH = env.int("DJANGO_TRUSTED_PROXY_DEPTH", default=1)
if TRUSTED_PROXY_DEPTH < 1:
    raise ImproperlyConfigured("DJANGO_TRUSTED_PROXY_DEPTH counts the addresses the proxies append: 1 or more")
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Without a proxy, django-axes keys admin login failures on REMOTE_ADDR; behind one, that is
    # the proxy's for everybody.
    AXES_CLIENT_IP_CALLABLE = "shop.proxy.forwarded_client_ip"
    # The API's throttles count anonymous callers by the same client address.
    REST_FRAMEWORK["NUM_PROXIES"] = env.int("DRF_NUM_PROXIES", default=TRUSTED_PROXY_DEPTH)  # noqa: F405

# Staff accounts come from `createsuperuser`, or ensure_staff with STAFF_* set in the environment.

STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))  # noqa: F405
WHITENOISE_USE_FINDERS = False

# Verified identity by default (shop.identity): a deployment says where the signing keys come from.
AUTH_MODE = env.str("AUTH_MODE", default="jwt")
check_identity_settings(AUTH_MODE, AUTH_JWT_SECRET, AUTH_JWKS_URL)  # noqa: F405 - the key settings come from base
