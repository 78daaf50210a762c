"""Production: everything from the environment, no defaults that could leak."""

from django.core.exceptions import ImproperlyConfigured

from shop.settings.base import *  # noqa: F403
from shop.settings.base import env

DEBUG = False

# Settings that have local defaults in base.py must be given explicitly in production: a
# deployment that forgot one fails at start instead of mailing to the console or the wrong broker.
for _required in ("DATABASE_URL", "CELERY_BROKER_URL", "GOOGLE_CLOUD_PROJECT", "EMAIL_URL", "DEFAULT_FROM_EMAIL"):
    env.str(_required)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Staff accounts come from `createsuperuser`, or ensure_staff with STAFF_* set in the environment.

STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))  # noqa: F405
WHITENOISE_USE_FINDERS = False

# Verified identity by default (shop.identity): a deployment says where the signing keys come from.
AUTH_MODE = env.str("AUTH_MODE", default="jwt")
if AUTH_MODE == "jwt" and not (AUTH_JWT_SECRET or AUTH_JWKS_URL):  # noqa: F405
    raise ImproperlyConfigured("AUTH_MODE=jwt needs AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256/ES256).")
