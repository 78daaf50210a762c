"""Helpers the test suites share: events as they travel (events), concurrent calls (concurrency).

Imported by tests only (apps/*/tests/ and tests/), never by the platform: import-linter checks it.
"""
