"""The e2e tests' platform: see runner.launcher (the benchmark and chaos runs start the same one)."""

from runner.launcher import Platform, wait_until

__all__ = ["Platform", "wait_until"]
