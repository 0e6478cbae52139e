"""The exceptions this package raises.

Catch :class:`OneRosterError` for everything, or a subclass for one kind of trouble.
Messages say what went wrong and what to do about it; they name collections, fields, HTTP
statuses and positions, never a record's values, so they are safe to log.
"""

from __future__ import annotations


class OneRosterError(Exception):
    """Base class of every error raised by this package."""


class ConfigurationError(OneRosterError):
    """The client or reader was set up wrongly (a bad URL, an unknown collection, ...)."""


class AuthenticationError(OneRosterError):
    """The server refused the credentials (HTTP 401/403, or the token endpoint said no)."""


class RequestRejectedError(OneRosterError):
    """The server rejected the request as invalid (HTTP 400, or another 4xx)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(RequestRejectedError):
    """The server does not know the collection or record (HTTP 404)."""


class TransientHTTPError(OneRosterError):
    """A failure worth retrying: HTTP 429, a 5xx, a timeout or a dropped connection.

    :ivar status: the HTTP status, or ``None`` when no response arrived.
    :ivar retry_after: seconds the server asked us to wait, when it said.
    """

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RateLimitedError(TransientHTTPError):
    """HTTP 429 Too Many Requests."""


class ServerError(TransientHTTPError):
    """HTTP 5xx."""


class ConnectionFailedError(TransientHTTPError):
    """No usable response: the connection failed, timed out or closed mid-body."""


class TruncatedResponseError(ConnectionFailedError):
    """The server closed the connection before the whole body arrived."""


class RetriesExhaustedError(OneRosterError):
    """A transient failure lasted through every attempt.

    :ivar last_error: the failure of the last attempt.
    :ivar attempts: how many attempts were made.
    """

    def __init__(self, message: str, *, last_error: TransientHTTPError, attempts: int) -> None:
        super().__init__(message)
        self.last_error = last_error
        self.attempts = attempts


class DeadlineExceededError(OneRosterError):
    """The total deadline for reading passed before every record was read."""


class ProtocolError(OneRosterError):
    """The server answered, but not the way OneRoster 1.1 says it must."""


class MissingEnvelopeError(ProtocolError):
    """A 200 response without the expected envelope key (``users``, ``orgs``, ...)."""


class RecordCountMismatchError(ProtocolError):
    """The records read do not add up to the ``X-Total-Count`` the server announced."""


class RecordFormatError(ProtocolError):
    """A record has a field whose value cannot be normalized (e.g. a boolean that is not)."""


class BulkFormatError(OneRosterError):
    """A CSV bulk export is not in the OneRoster 1.1 CSV binding (manifest, files, headers)."""
