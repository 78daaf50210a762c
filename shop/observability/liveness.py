"""Liveness of the processes that loop: has each of their loops made progress lately?

The relay beats once per round and per Publish call, the bridge once per Pull of each subscription
(or per second while streaming), a Celery worker from a timer of its consumer's own event loop. A
beat is one ``time.monotonic()`` stored in a dict. ``/livez`` fails when a loop that has beaten
once has not beaten for LIVENESS_STALE_SECONDS: longer than any wait of theirs on a dependency, so
an outage (the database, the broker, Pub/Sub) never has them restarted, only a loop that hangs.
A loop that has not started yet, or stopped on purpose (a worker's consumer while it reconnects to
the broker), has no beat to be late with: that is readiness' business.
"""

from __future__ import annotations

import time

from celery import bootsteps


class Heartbeats:
    def __init__(self):
        self._beats: dict[str, float] = {}

    def beat(self, loop: str = "main") -> None:
        self._beats[loop] = time.monotonic()

    def forget(self, loop: str) -> None:
        self._beats.pop(loop, None)

    def loops(self) -> set[str]:
        """The loops that have beaten (and not been forgotten)."""
        return set(self._beats)

    def stalled(self, max_age: float) -> dict[str, float]:
        """Loop -> seconds since its last beat, of those later than ``max_age``."""
        now = time.monotonic()
        return {loop: now - at for loop, at in list(self._beats.items()) if now - at > max_age}


HEARTBEATS = Heartbeats()


def beat(loop: str = "main") -> None:
    HEARTBEATS.beat(loop)


class ConsumerHeartbeat(bootsteps.StartStopStep):
    """A Celery consumer bootstep: beats every few seconds from the consumer's own timer.

    Started once the consumer is connected to the broker, stopped when it loses the connection
    (and started again once reconnected): a worker waiting for its broker is not stalled.
    ``app.steps["consumer"].add(ConsumerHeartbeat)`` before the worker starts.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}
    loop = "celery-consumer"
    interval = 5.0

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer_entry = None

    def start(self, parent):
        beat(self.loop)
        self.timer_entry = parent.timer.call_repeatedly(self.interval, beat, (self.loop,), priority=10)

    def stop(self, parent):
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None
        HEARTBEATS.forget(self.loop)

    shutdown = terminate = stop
