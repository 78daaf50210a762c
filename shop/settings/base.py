"""Settings shared by every environment; all configuration comes from the environment.

One process serves one service (``SHOP_SERVICE``): it gets that service's URL conf and only
the database connections it owns, so it cannot read another service's tables even by mistake.
Without ``SHOP_SERVICE`` (management commands, tests, the workers) every connection is known.
"""

from datetime import timedelta

import orjson
from django.core.exceptions import ImproperlyConfigured

from shop.registry import SERVICES, get_service
from shop.settings.environment import BASE_DIR, env  # noqa: F401 - BASE_DIR is a setting too

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

SHOP_SERVICE = env("SHOP_SERVICE", default="") or None
SERVED_SERVICES = [get_service(SHOP_SERVICE)] if SHOP_SERVICE else list(SERVICES.values())

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "shop",
    "apps.events",
    "apps.idempotency",
    *[f"apps.{service.app_label}" for service in SERVICES.values()],
    # For their management commands only (no models): `manage.py run_relay` and `run_bridge`
    # (workers), and the tooling's `run_platform` (runner) and `audit_invariants` (audit).
    "workers",
    "runner",
    "audit",
]

MIDDLEWARE = [
    "shop.observability.request_id.RequestIdMiddleware",  # first: its header on every response
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its 429 response
]

if any(s.name == "product" for s in SERVED_SERVICES):
    # The catalog list, replayed while the catalog is unchanged, ahead of everything else but the
    # request id (which a kept page must not keep).
    MIDDLEWARE.insert(1, "apps.products.middleware.CatalogPageCache")
# Outermost: every response is counted and timed per route, cached catalog pages and 429s included.
MIDDLEWARE.insert(0, "shop.observability.http.RouteMetricsMiddleware")

APPEND_SLASH = False  # routes accept both forms themselves; a redirect would drop a POST body
ROOT_URLCONF = get_service(SHOP_SERVICE).urlconf if SHOP_SERVICE else "shop.urls.index"
WSGI_APPLICATION = "shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------------
# "default" holds what staff share (accounts, sessions, the admin log). Every service has its
# own database, by default a sibling of DATABASE_URL named <that database>_<service> (shop_cart);
# <SERVICE>_DATABASE_URL points one elsewhere.
DATABASE_URL = env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/shop")
CONN_MAX_AGE = env.int("DJANGO_CONN_MAX_AGE", default=60)
# No "SELECT 1" before each request's first query (Django's default): it cost the catalog list
# about 14 % of its throughput. A connection broken by a PostgreSQL restart fails one request
# (503, the client retries) and is dropped at the end of it; workers drop it as an event fails.
CONN_HEALTH_CHECKS = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=False)


def _database(url: str) -> dict:
    config = env.db_url_config(url)
    config["CONN_MAX_AGE"] = CONN_MAX_AGE
    config["CONN_HEALTH_CHECKS"] = CONN_HEALTH_CHECKS
    config["TEST"] = {"DEPENDENCIES": []}  # no database needs another to be created first
    return config


def _service_database_url(name: str) -> str:
    """<SERVICE>_DATABASE_URL, else a sibling of DATABASE_URL: .../shop -> .../shop_cart."""
    base, _, database = DATABASE_URL.rpartition("/")
    database, separator, query = database.partition("?")
    default_url = f"{base}/{database}_{name}{separator}{query}"
    return env.str(f"{name.upper()}_DATABASE_URL", default=default_url)


DATABASES = {
    "default": _database(DATABASE_URL),
    **{s.database: _database(_service_database_url(s.name)) for s in SERVED_SERVICES},
}
DATABASE_ROUTERS = ["shop.routers.ServiceRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Per process, in memory.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 1000}}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Served by WhiteNoise straight from the apps; production collects them into STATIC_ROOT instead.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # AUTH_MODE decides, per request, what identifies the caller (shop.identity); every view
    # declares who may call each of its actions (shop.access).
    "DEFAULT_AUTHENTICATION_CLASSES": ["shop.identity.CallerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["shop.access.DeclaredAccess"],
    "UNAUTHENTICATED_USER": "shop.identity.anonymous",
    "DEFAULT_THROTTLE_CLASSES": ["shop.throttling.CallerRateThrottle", "shop.throttling.SensitiveActionThrottle"],
    # Per caller: a verified customer or staff member by the token's subject, anyone else by
    # client address. "sensitive" is the tighter scope of the routes that start a saga or send
    # messages (convert-to-order, POST /orders, POST /notifications). None: not throttled.
    "DEFAULT_THROTTLE_RATES": {
        "anonymous": env.str("THROTTLE_RATE_ANONYMOUS", default="120/min"),
        "customer": env.str("THROTTLE_RATE_CUSTOMER", default="600/min"),
        "staff": env.str("THROTTLE_RATE_STAFF", default="") or None,
        "sensitive": env.str("THROTTLE_RATE_SENSITIVE", default="30/min"),
    },
    # The client address is REMOTE_ADDR unless this many proxies in front are trusted to append
    # to X-Forwarded-For (DRF would otherwise believe whatever X-Forwarded-For a client sends).
    "NUM_PROXIES": env.int("DRF_NUM_PROXIES", default=0),
    "DEFAULT_RENDERER_CLASSES": [
        "drf_orjson_renderer.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["shop.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "shop.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    # DRF keys a list's errors by integer index; orjson must be told to write such keys.
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_NON_STR_KEYS,),
}

SPECTACULAR_SETTINGS = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["shop.api.document_optional_slash_paths"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "shop.api.document_identity_answers"],
    # Order, status change "from" and "to" share one choice set: one component, one name.
    "ENUM_NAME_OVERRIDES": {"OrderStatusEnum": "apps.orders.enums.OrderStatus"},
}
# Lines per cart and per POST /orders: at most apps.events.contracts.MAX_LINES, what an order can store.
CART_MAX_LINES = env.int("CART_MAX_LINES", default=100)
CATALOG_PAGE_CACHE_SIZE = env.int("CATALOG_PAGE_CACHE_SIZE", default=256)  # GET /products pages per process

# --- Identity (shop.identity, shop.access) ------------------------------------------------------
# header: X-Customer-ID trusted as given (local use only); jwt: a verified bearer token.
AUTH_MODE = env.str("AUTH_MODE", default="header")
AUTH_JWT_SECRET = env.str("AUTH_JWT_SECRET", default="")  # HS256
AUTH_JWKS_URL = env.str("AUTH_JWKS_URL", default="")  # RS256 / ES256, the identity provider's keys
AUTH_JWT_ISSUER = env.str("AUTH_JWT_ISSUER", default="")  # checked when set
AUTH_JWT_AUDIENCE = env.str("AUTH_JWT_AUDIENCE", default="")  # checked when set
AUTH_JWT_LEEWAY = env.int("AUTH_JWT_LEEWAY", default=30)  # seconds of clock skew forgiven on exp/nbf/iat
AUTH_JWKS_LIFESPAN = env.int("AUTH_JWKS_LIFESPAN", default=300)  # seconds a fetched key set is kept
AUTH_JWKS_COOLDOWN = env.int("AUTH_JWKS_COOLDOWN", default=30)  # at most one refetch per this for unknown kids


def check_identity_settings(mode: str, secret: str, jwks_url: str) -> None:
    """A platform that cannot verify what it is told to verify must not start (and answer 500s)."""
    if mode not in ("header", "jwt"):
        raise ImproperlyConfigured(f"AUTH_MODE must be 'header' or 'jwt', not {mode!r}.")
    if mode == "jwt" and not (secret or jwks_url):
        raise ImproperlyConfigured("AUTH_MODE=jwt needs AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256/ES256).")
    if secret and len(secret.encode()) < 32:
        raise ImproperlyConfigured("AUTH_JWT_SECRET must be at least 32 bytes (RFC 7518, HS256).")


check_identity_settings(AUTH_MODE, AUTH_JWT_SECRET, AUTH_JWKS_URL)

# Throttle counters, shared by the gunicorn workers of a service through Redis. "locmem://" keeps
# them per process instead (each worker then counts on its own: the effective rate is workers x rate).
THROTTLE_CACHE_URL = env.str("THROTTLE_CACHE_URL", default="redis://127.0.0.1:6379/1")
CACHES["throttle"] = (
    {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle"}
    if THROTTLE_CACHE_URL.startswith("locmem:")
    else {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": THROTTLE_CACHE_URL,
        "KEY_PREFIX": f"shop-{SHOP_SERVICE or 'all'}",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
)

# --- Email -----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# filemail:// URLs cannot carry an absolute path through django-environ: give it here.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=EMAIL_CONFIG["EMAIL_FILE_PATH"])
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@example.com")
# Seconds an SMTP connection may wait on the server (connect, greeting, each reply). Without it a
# black-holed server hangs a worker thread for ever, its inbox transaction open.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=EMAIL_CONFIG.get("EMAIL_TIMEOUT") or 10.0)
STOCK_MANAGER_EMAIL = env.str("STOCK_MANAGER_EMAIL", default="stock-manager@example.com")

# --- Staff -----------------------------------------------------------------------------------
# A login `ensure_staff` creates when both are set; local settings give documented defaults.
STAFF_USERNAME = env.str("STAFF_USERNAME", default="")
STAFF_PASSWORD = env.str("STAFF_PASSWORD", default="")
STAFF_EMAIL = env.str("STAFF_EMAIL", default="")

# --- Retried requests (apps.idempotency) ------------------------------------------------------
# How long an Idempotency-Key is remembered; older keys count as absent (purge_idempotency_keys).
IDEMPOTENCY_TTL = timedelta(seconds=env.int("IDEMPOTENCY_TTL_SECONDS", default=24 * 60 * 60))

# --- A cart's timeline (shop.observability.timeline) ---------------------------------------------
# Where the order service asks each other service for its part of a timeline (GET /events/trail):
# <SERVICE>_SERVICE_URL, by default the service's local port. Seconds each may take to answer;
# one that does not is named as missing and the timeline is partial.
SERVICE_URLS = {
    s.name: env.str(f"{s.name.upper()}_SERVICE_URL", default=f"http://127.0.0.1:{s.port}").rstrip("/")
    for s in SERVICES.values()
}
TIMELINE_TIMEOUT_SECONDS = env.float("TIMELINE_TIMEOUT_SECONDS", default=2.0)

# --- Logging ---------------------------------------------------------------------------------
# Every line through structlog (shop/observability/logging.py): LOG_FORMAT=console, readable (the
# default here, locally and in tests), or json, one object per line (production's default).
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "shop.observability.logging.structured_formatter", "log_format": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # DEBUG: a line for every event recorded, published by the relay, handed over by the bridge
    # (with its task id) and handled, to follow one event or one saga through a chaos run.
    "loggers": {
        "workers": {"level": env.str("WORKERS_LOG_LEVEL", default=env.str("LOG_LEVEL", default="INFO"))},
        "apps.events": {"level": env.str("WORKERS_LOG_LEVEL", default=env.str("LOG_LEVEL", default="INFO"))},
        # django-axes says hello at INFO in every process it starts in, management commands included.
        "axes": {"level": "WARNING"},
    },
}

# --- Integrations, each in its own module ------------------------------------------------------
from shop.settings.axes import *  # noqa: E402,F403
from shop.settings.celery import *  # noqa: E402,F403
from shop.settings.monitoring import *  # noqa: E402,F403
from shop.settings.pubsub import *  # noqa: E402,F403
