"""Claiming an idempotency key, keeping the response given under it, and forgetting expired keys.

A key is claimed by the first statement of the request's transaction: an INSERT that, for a key
taken by a request still in flight, waits on the unique index until that request commits or rolls
back. So of two concurrent requests with one key, the second waits for the first and then finds
its response (or, if the first rolled back, claims the key itself). A row older than
``IDEMPOTENCY_TTL`` counts as absent: the claim takes it over.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connections
from django.utils import timezone

from apps.idempotency.models import IdempotencyKey
from shop.errors import Conflict

# IdempotencyKey's table and its (caller, key) constraint, in one statement: a new row, or an
# expired one taken over. A live row is left alone (and locked until this transaction ends).
_CLAIM = """
INSERT INTO idempotency_keys (caller, key, fingerprint, response_status, response_body, created_at)
VALUES (%s, %s, %s, NULL, '', %s)
ON CONFLICT (caller, key) DO UPDATE
    SET fingerprint = EXCLUDED.fingerprint, response_status = NULL, response_body = '',
        created_at = EXCLUDED.created_at
    WHERE idempotency_keys.created_at < %s
RETURNING id
"""


@dataclass(frozen=True)
class StoredResponse:
    """What the first request with a key was answered, and what it asked (its fingerprint)."""

    fingerprint: str
    status: int
    body: str  # JSON text, "" for none


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request: a retry sends the same method, path and body bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))  # lengths first: no two requests run together alike
        digest.update(part)
    return digest.hexdigest()


def expiry_cutoff(now: datetime | None = None) -> datetime:
    """Rows created before this have expired."""
    return (now or timezone.now()) - settings.IDEMPOTENCY_TTL


def idempotency_key_claim(*, database: str, caller: str, key: str, fingerprint: str) -> int | StoredResponse:
    """Claim (caller, key) in the open transaction on ``database``: the new row's id, or the response kept under it.

    The caller's transaction must also hold the request's effects and ``idempotency_key_record_response``.
    """
    now = timezone.now()
    for _attempt in range(2):
        with connections[database].cursor() as cursor:
            cursor.execute(_CLAIM, [caller, key, fingerprint, now, expiry_cutoff(now)])
            claimed = cursor.fetchone()
        if claimed is not None:
            return claimed[0]
        # A live row, committed (a claim still in flight was waited for): committed rows hold their response.
        stored = (
            IdempotencyKey.objects.using(database)
            .filter(caller=caller, key=key)
            .values_list("fingerprint", "response_status", "response_body")
            .first()
        )
        if stored is not None:
            return StoredResponse(*stored)
        # Expired and purged between the two statements: claim it again.
    raise Conflict("The Idempotency-Key is changing concurrently; try again.", field="Idempotency-Key")


def idempotency_key_record_response(*, database: str, claim: int, status: int, body: str) -> None:
    """Keep the response of the claimed key, in the transaction that claimed it."""
    IdempotencyKey.objects.using(database).filter(pk=claim).update(response_status=status, response_body=body)


def idempotency_keys_purge(*, database: str, now: datetime | None = None) -> int:
    """Delete the expired keys of one service database; how many there were."""
    deleted, _ = IdempotencyKey.objects.using(database).filter(created_at__lt=expiry_cutoff(now)).delete()
    return deleted
