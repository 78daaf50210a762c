"""``Idempotency-Key`` on the routes that start something: one decorator, used by the view methods.

The same key from the same caller within ``IDEMPOTENCY_TTL`` (24 hours) answers with the first
response, status and body, and has no second effect; the same key with a different request
(method, path and body) is 422. The key is claimed, the view's work done and its response kept in
one transaction on the service's database, so the key row, the state change and the outbox events
commit together or not at all. Of two concurrent requests with one key, the second waits for the
first to commit and then gets its response (if the first rolled back, the second runs itself).

Only successful (2xx) responses are kept: an error had no effect, so a retry after one runs again.
Without the header each request stands alone.
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.db import transaction
from django.http.request import RawPostDataException
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.idempotency import services

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
MAX_CALLER_LENGTH = 255  # IdempotencyKey.caller

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    required=False,
    description="Makes a retry safe: the same key from the same caller within 24 hours answers with the first "
    f"successful response (status and body, with `{REPLAYED_HEADER}: true`) and does nothing again; the same key "
    "with a different request is 422. Errors are not kept: a retry after one runs again.",
)


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"

    def __init__(self):
        super().__init__({HEADER: ["This key was used with a different request; send a new key for a new request."]})


def idempotent(*, database: str):
    """Honour ``Idempotency-Key`` on a view method (``post``, ``create``); keys live in ``database``."""

    def decorate(handler):
        @functools.wraps(handler)
        def respond(view, request, *args, **kwargs):
            key = _key_of(request)
            if key is None:
                return handler(view, request, *args, **kwargs)
            caller = _caller_of(request)
            fingerprint = _fingerprint_of(request)
            with transaction.atomic(using=database):
                claim = services.idempotency_key_claim(
                    database=database, caller=caller, key=key, fingerprint=fingerprint
                )
                if isinstance(claim, services.StoredResponse):
                    if claim.fingerprint != fingerprint:
                        raise KeyReused()
                    body = json.loads(claim.body) if claim.body else None
                    return Response(body, status=claim.status, headers={REPLAYED_HEADER: "true"})
                response = handler(view, request, *args, **kwargs)
                if status.is_success(response.status_code):
                    services.idempotency_key_record_response(
                        database=database, claim=claim, status=response.status_code, body=_body_of(response)
                    )
                else:
                    transaction.set_rollback(True, using=database)  # no effect, nothing kept
                return response

        return respond

    return decorate


def _key_of(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise exceptions.ValidationError({HEADER: [f"Must be 1 to {MAX_KEY_LENGTH} characters long."]})
    if "\x00" in key:  # PostgreSQL cannot store it
        raise exceptions.ValidationError({HEADER: ["Must not contain NUL characters."]})
    return key


def _caller_of(request) -> str:
    """``Caller.key``; one too long for its column (a header-mode X-Customer-ID is taken as sent) by its digest."""
    caller = request.user.key
    if len(caller) > MAX_CALLER_LENGTH or "\x00" in caller:
        return f"sha256:{hashlib.sha256(caller.encode()).hexdigest()}"
    return caller


def _fingerprint_of(request) -> str:
    try:
        body = request.body
    except RawPostDataException:
        # Read as a stream already: DRF's JSON parser keeps request.body, but a parser that streams
        # leaves only the parsed data when it ran before the view (a staff admin session's CSRF
        # check reads the form). Such a caller always comes this way, so the parsed data, as
        # canonical JSON, fingerprints its retries as well.
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str).encode()
    return services.request_fingerprint(method=request.method, path=request.path, body=body)


def _body_of(response: Response) -> str:
    """The body as a JSON client received it, keys in their order: the replay renders it again."""
    return "" if response.data is None else JSONRenderer().render(response.data).decode()
