"""Replaying dead-lettered events: staff fix the cause, then send the events through again."""

from __future__ import annotations

from celery import current_app
from django.db.models import QuerySet
from django.utils import timezone

from apps.events.models import DeadLetter
from apps.events.tasks import task_name
from shop.registry import Service


def pending_dead_letters(service: Service) -> QuerySet[DeadLetter]:
    return DeadLetter.objects.using(service.database).filter(replayed_at__isnull=True).order_by("dead_lettered_at")


def replay(service: Service, dead_letters) -> int:
    """Send each dead letter back to the service's queue as it first arrived; the number sent.

    The inbox row of a dead-lettered event is not a success, so the handler runs again; should
    the event have been handled meanwhile, the inbox makes the replay a no-op.
    """
    sent = 0
    for letter in dead_letters:
        current_app.send_task(
            task_name(service.name),
            args=letter.message(),
            queue=service.queue,
        )
        DeadLetter.objects.using(service.database).filter(pk=letter.pk).update(replayed_at=timezone.now())
        sent += 1
    return sent
