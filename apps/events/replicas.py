"""Keeping a local copy of another service's records from its *.changed events."""

from __future__ import annotations

from django.db import models


class Replica(models.Model):
    """Base of a service's local copy of records another service owns.

    ``version`` is the owner's version of the record; ``deleted`` keeps a tombstone so that a late
    change can never bring a deleted record back.
    """

    version = models.PositiveBigIntegerField()
    deleted = models.BooleanField(default=False)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def replica_apply(model: type[Replica], *, using: str, key: dict, version: int, fields: dict) -> bool:
    """Apply a record's state if it is newer than the copy; True when the copy changed.

    Must run inside the consuming handler's transaction: the row lock orders concurrent changes.
    """
    current = model.objects.using(using).select_for_update().filter(**key).first()
    if current is None:
        model.objects.using(using).create(**key, version=version, **fields)
        return True
    if current.version >= version:
        return False
    for name, value in {**fields, "version": version}.items():
        setattr(current, name, value)
    current.save(using=using)
    return True
