"""The coordinator's telemetry events (docs/coordinator.md), announced through event hooks.

Each carries the session id, request tokens, scope identities (hashes), oracle keys, counts and
durations in milliseconds — never payload values. The coordinator plans them as
:class:`snapkit.coordinator.Emit` actions; its driver calls the hook named in
:data:`HOOK_OF`.
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen

CacheOutcome = Literal["full_hit", "partial_hit", "miss"]
DiscardReason = Literal["superseded", "stale", "duplicate", "forgotten"]


@frozen
class ScopeRequestStarted:
    """A scope request became the session's one in-flight build."""

    session_id: str
    token: str
    scope_id: str
    oracles: int
    queue_wait_ms: float


@frozen
class ScopeRequestQueued:
    """A scope request waits behind the in-flight one (the queue was empty)."""

    session_id: str
    token: str
    scope_id: str
    behind: str


@frozen
class ScopeRequestQueueReplaced:
    """A newer scope request replaced the queued one (latest intent wins)."""

    session_id: str
    token: str
    replaced: str
    scope_id: str


@frozen
class ScopeCacheConsulted:
    """The cache answered a build's lookup: a full hit, a partial hit or a miss."""

    session_id: str
    token: str
    outcome: CacheOutcome
    hits: int
    misses: int


@frozen
class ScopeRequestCompleted:
    """Every oracle of a build resolved (from the cache, loaded, skipped or failed).

    ``first_ready_ms`` is the time to the first ready oracle (``None`` if none was ready);
    ``duration_ms`` the time from start to the last one; ``applied`` says whether the build
    was still the latest intent (its results reached the UI).
    """

    session_id: str
    token: str
    scope_id: str
    cached: int
    loaded: int
    failed: int
    duration_ms: float
    first_ready_ms: float | None
    applied: bool


@frozen
class ScopeResultDiscarded:
    """An oracle result did not reach the UI: its request was superseded (a newer intent is
    queued), stale (its build timed out or finished), a duplicate, or forgotten (too old to
    know its scope). ``written`` says whether it still warmed the cache."""

    session_id: str
    token: str
    oracle: str
    reason: DiscardReason
    written: bool


@frozen
class ScopeRequestTimedOut:
    """A build ran past the hard timeout; ``missing`` oracles get the timeout fallback."""

    session_id: str
    token: str
    scope_id: str
    missing: tuple[str, ...]
    elapsed_ms: float
    applied: bool


HOOK_OF: dict[type, str] = {
    ScopeRequestStarted: "snapkit_scope_request_started",
    ScopeRequestQueued: "snapkit_scope_request_queued",
    ScopeRequestQueueReplaced: "snapkit_scope_request_queue_replaced",
    ScopeCacheConsulted: "snapkit_scope_cache_consulted",
    ScopeRequestCompleted: "snapkit_scope_request_completed",
    ScopeResultDiscarded: "snapkit_scope_result_discarded",
    ScopeRequestTimedOut: "snapkit_scope_request_timeout",
}
"""The event hook each event is announced through."""
