"""The e2e tests' platform: see shop.launcher (the benchmark and chaos runs start the same one)."""

from shop.launcher import Platform, wait_until

__all__ = ["Platform", "wait_until"]
