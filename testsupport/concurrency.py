"""Concurrent calls that surely overlap, for tests of races and locks (never imported by the platform itself)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

WAIT_SECONDS = 15
WAITING_SQL = "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)"


class ConcurrentCalls:
    """Runs callables in threads, each on its own connection to ``database``, keeping their answers in order.

    With the test's own connection holding a lock, ``wait_until_all_blocked`` makes sure every
    thread is queued on it before the lock is let go: the overlap is certain, not a matter of luck.
    """

    database = "default"

    def __init__(self, *calls):
        self.calls = calls
        self.results = [None] * len(calls)
        self.pids = [None] * len(calls)
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(len(calls))]

    def _run(self, index):
        try:
            with connections[self.database].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pids[index] = cursor.fetchone()[0]
            self.results[index] = self.calls[index]()
        except Exception as exc:
            self.results[index] = exc
        finally:
            connections.close_all()

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def join(self):
        for thread in self.threads:
            thread.join(WAIT_SECONDS)
            assert not thread.is_alive(), "a call never finished"
        return self.results

    def wait_until_all_blocked(self):
        """Until every thread's connection waits for a lock (pg_locks is live, not a snapshot)."""
        deadline = time.monotonic() + WAIT_SECONDS
        with connections[self.database].cursor() as cursor:
            while time.monotonic() < deadline:
                pids = [pid for pid in self.pids if pid is not None]
                if len(pids) == len(self.calls):
                    cursor.execute(WAITING_SQL, [pids])
                    if cursor.fetchone()[0] == len(pids):
                        return
                time.sleep(0.005)
        pytest.fail("the calls never waited on the held lock")


def assert_answered_once_and_replayed(responses, *, status: int) -> None:
    """Two concurrent requests with one Idempotency-Key: the same answer for both, the second one a replay."""
    for response in responses:
        assert not isinstance(response, Exception), response
    assert [r.status_code for r in responses] == [status, status]
    assert responses[0].json() == responses[1].json()
    assert sorted(r.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
