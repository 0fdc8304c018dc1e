"""Domain errors. The HTTP layer maps each to a JSON:API error status; the domain knows no HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``detail`` is safe to show to the client."""

    title = "Bad Request"

    def __init__(self, detail: str, *, source: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.source = source  # JSON pointer or parameter name of the offending input


class BadRequest(DomainError):
    title = "Bad Request"


class NotFound(DomainError):
    title = "Not Found"


class Conflict(DomainError):
    title = "Conflict"


class Unprocessable(DomainError):
    title = "Unprocessable Entity"


class Forbidden(DomainError):
    title = "Forbidden"


class Unauthorized(DomainError):
    title = "Unable to validate access token"


class PayloadTooLarge(DomainError):
    title = "Payload Too Large"


class TooManyRequests(DomainError):
    """A limit was reached; ``retry_after`` is how many seconds until the request may succeed."""

    title = "Too Many Requests"

    def __init__(self, detail: str, *, retry_after: int, source: str | None = None) -> None:
        super().__init__(detail, source=source)
        self.retry_after = max(1, retry_after)


class TransientError(Exception):
    """A retryable infrastructure failure; the state machine retries this error name with backoff."""
