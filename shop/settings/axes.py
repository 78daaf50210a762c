"""django-axes: admin logins locked out after repeated failures, on every service's admin.

Imported by base.py. Failures are kept in the staff database ("default", like the accounts), so a
lockout earned on one service's admin holds on all of them. Keyed on username and client address
together: a guesser is stopped, and nobody can lock a colleague out from another address. Behind
a proxy the address comes from X-Forwarded-For only when production's DJANGO_TRUSTED_PROXY says so.
"""

from datetime import timedelta

from shop.settings.environment import env

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before checking the password
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
