"""The answers a service has given to requests that carried an ``Idempotency-Key``.

One shared model, migrated into every service database (like the outbox and the inbox of
``apps.events``) and always used with ``.using(<service database>)``: each service keeps the keys
of its own routes in its own database, and the row commits in the same transaction as the
request's effects and outbox events. A concrete model per service app would be three copies of
one table and one piece of code; a shared app of its own keeps HTTP concerns out of the messaging
app, which has no business knowing about DRF.
"""

from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """One caller's key and the response it got, kept for ``IDEMPOTENCY_TTL``; unique per (caller, key).

    ``response_status`` is empty only inside the transaction that claims the key: a committed row
    always holds the answer to replay.
    """

    caller = models.CharField(max_length=255)  # shop.identity.Caller.key, e.g. "customer:<uuid>"
    key = models.CharField(max_length=255)  # the Idempotency-Key header as sent
    fingerprint = models.CharField(max_length=64)  # SHA-256 (hex) of method, path and body
    response_status = models.PositiveSmallIntegerField(null=True)
    # The body as sent, JSON text: a jsonb column would give the replay its keys in another order.
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotency_keys_caller_key_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_keys_created_idx")]  # the purge

    def __str__(self) -> str:
        return f"{self.caller} {self.key} ({self.response_status})"
