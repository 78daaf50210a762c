"""The life of one cart across the platform: every service's trail, merged in time order.

A service knows only its own database (``apps/events/trail.py`` for its outbox, inbox and dead
letters, ``apps/<app>/trail.py`` for its own state), so a timeline is put together from the parts:

- ``local_timeline``: every service read in this process, each through its own connection, for a
  process that has them all (``manage.py trace``, tests);
- ``remote_timeline``: the order service's view (``GET /orders/{id}/timeline``, the order admin):
  its own part read here, every other service asked for its part over HTTP
  (``GET <SERVICE_URLS[name]>/events/trail?correlation_id=``), all at once, each within
  ``TIMELINE_TIMEOUT_SECONDS``, with the caller's staff credential. A service that does not answer
  (or refuses) is named in ``missing``: the timeline is partial, never an error.

The HTTP client is the standard library's (``urllib``): seven GETs of a small JSON document on an
operator's request need no pool nor another dependency in every process.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import import_module, util
from uuid import UUID

from django.conf import settings

from apps.events.trail import Entry, events_trail, in_time_order
from shop.registry import SERVICES, Service

TRAIL_PATH = "/events/trail"
# The caller's credential, passed on as it came: a bearer token (AUTH_MODE=jwt), or a staff admin
# session (its cookie: sessions live in the shared staff database, valid on every service).
FORWARDED_HEADERS = ("Authorization",)


@dataclass(frozen=True)
class Missing:
    service: str
    reason: str


@dataclass
class Timeline:
    correlation_id: UUID
    entries: list[Entry]
    missing: list[Missing] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "correlation_id": str(self.correlation_id),
            "entries": [entry.as_dict() for entry in self.entries],
            "missing": [{"service": m.service, "reason": m.reason} for m in self.missing],
        }


def own_trail(service: Service) -> Callable[[UUID], list[Entry]] | None:
    """The service's own part (``apps/<app>/trail.py``'s ``trail``), if its app has one (as shop.topology
    finds ``HANDLERS``: by the registry's app label, so no list here can drift from the apps)."""
    module = f"apps.{service.app_label}.trail"
    return import_module(module).trail if util.find_spec(module) else None


def service_trail(service: Service, correlation_id: UUID) -> list[Entry]:
    """Everything one service's database knows about a correlation id, in time order."""
    entries = events_trail(database=service.database, service=service.name, correlation_id=correlation_id)
    own = own_trail(service)
    if own is not None:
        entries += own(correlation_id)
    return in_time_order(entries)


def local_timeline(correlation_id: UUID) -> Timeline:
    """Every service's part, each read through its own connection in this process."""
    entries = [entry for service in SERVICES.values() for entry in service_trail(service, correlation_id)]
    return Timeline(correlation_id, in_time_order(entries))


def remote_timeline(correlation_id: UUID, *, here: Service, headers: Mapping[str, str]) -> Timeline:
    """``here``'s part read in this process, every other service's asked over HTTP, concurrently."""
    timeout = settings.TIMELINE_TIMEOUT_SECONDS
    others = [service for service in SERVICES.values() if service != here]
    entries = service_trail(here, correlation_id)
    missing = []
    pool = ThreadPoolExecutor(max_workers=len(others), thread_name_prefix="timeline")
    try:
        futures = {pool.submit(fetch_trail, s, correlation_id, headers, timeout): s for s in others}
        done, _ = wait(futures, timeout=timeout + 0.5)
        for future, service in futures.items():
            if future not in done:
                missing.append(Missing(service.name, f"no answer within {timeout:g}s"))
            elif future.exception() is not None:
                missing.append(Missing(service.name, str(future.exception())))
            else:
                entries += future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return Timeline(correlation_id, in_time_order(entries), sorted(missing, key=lambda m: m.service))


class TrailUnavailable(Exception):
    """A service did not give its part; the message says why, for the timeline's ``missing``."""


# No proxy from the environment: the services are asked directly, where SERVICE_URLS says.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch_trail(service: Service, correlation_id: UUID, headers: Mapping[str, str], timeout: float) -> list[Entry]:
    query = urllib.parse.urlencode({"correlation_id": str(correlation_id)})
    url = f"{settings.SERVICE_URLS[service.name]}{TRAIL_PATH}?{query}"
    request = urllib.request.Request(url, headers={**headers, "Accept": "application/json"})  # noqa: S310 - settings' URL
    try:
        with _opener.open(request, timeout=timeout) as response:
            body = json.loads(response.read())
        return [Entry.from_dict(entry) for entry in body["entries"]]
    except urllib.error.HTTPError as exc:
        raise TrailUnavailable(f"answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrailUnavailable(f"unreachable: {reason}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise TrailUnavailable(f"an answer that is not a trail: {type(exc).__name__}") from exc


def forwarded_credentials(request) -> dict[str, str]:
    """The headers that carry the caller's credential on to the other services (a Django or DRF request)."""
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session:
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={session}"
    return headers
