"""The events the kernel announces through event hooks (docs/hooks.md).

Events carry identifiers, statuses, counts and durations — never payload values — so that a
telemetry or audit plugin cannot leak personal data by accident.
"""

from __future__ import annotations

from attrs import frozen


@frozen
class RefreshStarted:
    """A refresh took the lock and is about to run its oracles."""

    run_id: str
    scope_id: str
    namespace: str
    oracles: tuple[str, ...]


@frozen
class OracleCompleted:
    """One oracle call finished (after retries), successfully or not."""

    run_id: str
    oracle: str
    status: str
    source: str
    attempts: int
    duration_ms: float
    records: int | None = None
    error_code: str | None = None


@frozen
class RefreshFinished:
    """A refresh committed a ``success`` or ``partial`` snapshot."""

    run_id: str
    snapshot_id: str
    status: str
    duration_ms: float
    pointer_moved: bool


@frozen
class RefreshFailed:
    """A refresh failed; a failed snapshot was recorded and the pointer did not move."""

    run_id: str
    snapshot_id: str | None
    error_codes: tuple[str, ...]
    duration_ms: float


@frozen
class SnapshotCommitted:
    """A snapshot was written to a store (and the pointer moved if ``generation`` is set)."""

    snapshot_id: str
    status: str
    store: str
    generation: int | None


@frozen
class ProjectionStatusEvent:
    """A projection was derived; its status and reason code."""

    snapshot_id: str | None
    projection: str
    status: str
    reason: str | None
    duration_ms: float


@frozen
class ExportFinished:
    """An export was written (or refused with a reason code)."""

    snapshot_id: str
    profile: str
    status: str
    files: int
    bytes: int
    reason: str | None = None


@frozen
class DiffComputed:
    """A diff between two snapshots was computed."""

    from_id: str
    to_id: str
    sections: tuple[str, ...]
    changes: int
    duration_ms: float


@frozen
class AdminRefreshAttempted:
    """Someone called the HTTP admin refresh endpoint (``POST /api/admin/refresh``).

    :param client: the caller's address (``host:port`` as the server saw it).
    :param outcome: ``started`` (202), ``no_token`` (401), ``wrong_token`` (403),
        ``rate_limited`` (429), ``refresh_running`` (409), ``disabled`` (503: no token is
        configured) or ``error`` (the refresh could not start).
    :param status_code: the HTTP status answered.
    :param run_id: the started run's id (``started`` only).
    :param holder: who holds the refresh when the outcome is ``refresh_running``.
    The token itself is never part of the event, right or wrong.
    """

    client: str
    outcome: str
    status_code: int
    at: str
    run_id: str | None = None
    holder: str | None = None


# The coordinator's telemetry events (docs/coordinator.md) are defined beside the coordinator and
# re-exported here, with every other event hook's event.
from snapkit.coordinator_events import (  # noqa: E402
    ScopeCacheConsulted,
    ScopeRequestCompleted,
    ScopeRequestQueued,
    ScopeRequestQueueReplaced,
    ScopeRequestStarted,
    ScopeRequestTimedOut,
    ScopeResultDiscarded,
)

__all__ = [
    "AdminRefreshAttempted",
    "DiffComputed",
    "ExportFinished",
    "OracleCompleted",
    "ProjectionStatusEvent",
    "RefreshFailed",
    "RefreshFinished",
    "RefreshStarted",
    "ScopeCacheConsulted",
    "ScopeRequestCompleted",
    "ScopeRequestQueueReplaced",
    "ScopeRequestQueued",
    "ScopeRequestStarted",
    "ScopeRequestTimedOut",
    "ScopeResultDiscarded",
    "SnapshotCommitted",
]
