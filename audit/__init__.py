"""The invariant audit: the contract's invariants checked across every service's data (invariants).

It reads every domain app's models, which no app may do for another, so it lives beside them, not
in one of them. A Django app for `manage.py audit_invariants` only: it has no models.
"""
