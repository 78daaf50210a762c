"""Domain errors that services raise; the API layer turns them into 400/404/409 answers.

Services stay free of HTTP: they raise these, and ``shop.api.exception_handler`` maps them.
"""


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The thing asked for does not exist (404)."""


class AlreadyExists(DomainError):
    """A unique thing exists already: a SKU, an email (409)."""


class Conflict(DomainError):
    """The request is valid but the current state forbids it: a locked cart, an illegal transition (409)."""


class InvalidRequest(DomainError):
    """The request is well-formed but cannot be acted on: an empty cart, an unknown product (400)."""
