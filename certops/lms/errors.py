"""The LMS error family: every failure of the Docebo client is one of these.

Messages say what failed (host, endpoint, field) and what to do about it. They never carry
a token, client secret or password: the client redacts known secrets before raising.
"""

from __future__ import annotations

from certops.errors import LMSAddressError, LMSError

__all__ = [
    "LMSAddressError",
    "LMSConnectionError",
    "LMSCredentialsError",
    "LMSError",
    "LMSIgnoredFieldError",
    "LMSNotFoundError",
    "LMSPermissionError",
    "LMSRequestError",
    "LMSResponseError",
    "LMSUnavailableError",
    "ReadOnlyError",
]


class LMSCredentialsError(LMSError):
    """Credentials are missing, or the token endpoint refused them."""


class LMSConnectionError(LMSError):
    """The LMS host could not be reached (DNS, refused connection, timeouts)."""


class LMSUnavailableError(LMSError):
    """The LMS kept answering 429/5xx after every retry."""


class LMSPermissionError(LMSError):
    """The API user lacks a permission (HTTP 403)."""


class LMSNotFoundError(LMSError):
    """The LMS has no such object or endpoint (HTTP 404)."""


class LMSRequestError(LMSError):
    """The LMS rejected a request (HTTP 400 and other 4xx); ``field`` names the culprit."""

    def __init__(self, message: str, *, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class LMSIgnoredFieldError(LMSError):
    """The LMS accepted a write but did not keep a field certops sent (found by reading the
    object back). Stops an apply: the tenant does not speak the API as documented."""

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class LMSResponseError(LMSError):
    """The LMS answered with a shape certops does not understand (names field and endpoint)."""


class ReadOnlyError(LMSError):
    """A write was attempted through a read-only connection (a bug in certops, not the user's)."""
