"""DRF throttles per caller, counted in the shared ``throttle`` cache (Redis) so all of a service's workers agree.

A verified customer or staff member is counted by the token's subject, anyone else by client
address (``NUM_PROXIES`` says how much of X-Forwarded-For to believe). Views name the actions that
start a saga or send messages in ``sensitive_actions``; those have a tighter scope of their own.
Header mode (local use, nothing verified) is not throttled, as before. When the cache cannot be
reached the request is let through and a warning logged: a throttle outage must not be an API outage.
"""

from __future__ import annotations

import logging

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from shop.access import action_of
from shop.identity import Caller, CallerKind

logger = logging.getLogger(__name__)


class _CallerThrottle(SimpleRateThrottle):
    """SimpleRateThrottle with the scope and rate chosen per request, and read from settings at that time."""

    def __init__(self):
        self.rate = None

    @property
    def cache(self):
        return caches["throttle"]

    def scope_for(self, caller: Caller, request, view) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        caller = request.user
        if caller.kind is CallerKind.TRUSTED:
            return True
        self.scope = self.scope_for(caller, request, view)
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) if self.scope else None
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("throttle cache unavailable, request let through: %s", exc)
            return True

    def get_cache_key(self, request, view) -> str:
        caller = request.user
        ident = caller.key if caller.verified else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def wait(self) -> float:
        """Always a wait, so that every 429 carries Retry-After (DRF's gives none once over the limit)."""
        return super().wait() or float(self.duration)


class CallerRateThrottle(_CallerThrottle):
    def scope_for(self, caller: Caller, request, view) -> str:
        if caller.is_staff:
            return "staff"
        return "customer" if caller.verified else "anonymous"


class SensitiveActionThrottle(_CallerThrottle):
    def scope_for(self, caller: Caller, request, view) -> str | None:
        if caller.is_staff or action_of(view, request.method) not in getattr(view, "sensitive_actions", ()):
            return None
        return "sensitive"
