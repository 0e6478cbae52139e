"""The coordinator (docs/coordinator.md): a pure state machine for a dashboard session's
scope requests.

Shaped like the Elm architecture: each event function takes the state and the event and
returns a :class:`Transition` — the new state and a *plan*, a tuple of actions for a driver
(:mod:`snapkit.coordinator_driver`) to carry out, in order. Nothing here does I/O, reads a
clock or keeps a reference to a cache: times come in as ``now`` arguments, cache work goes out
as :class:`LookupCache`, :class:`WriteCache` and :class:`TouchCache` actions, whose keys,
TTL, capacity, retention and coalescing belong to the cache layer (FR-007, FR-010).

Policy:

- **One in flight, one queued** (FR-001, FR-002). A request while idle starts; while one is in
  flight it is queued; a request while one is queued replaces it (latest intent wins).
- **Tokens** (FR-003). Every request gets a token ``"<session>:<n>"``. The *intent* is the
  newest request (queued, else in flight). UI actions (:class:`ShowLoading`,
  :class:`ApplyResult`, :class:`ShowComplete`, :class:`ShowTimeout`) only ever name the
  intent's token: results of a build that a newer request superseded, of a build that timed out
  and of duplicates never reach the UI (``switchMap``), yet every loaded result is still
  written to the cache for its own scope (FR-006; TanStack Query keeps abandoned results too).
- **Cache first** (FR-005). A started build looks the cache up, applies the hits at once and
  loads only the misses (AC-003).
- **Hard timeout** (FR-012). A started build schedules a timer; when it fires, the build's
  missing oracles get a deterministic fallback (:class:`ShowTimeout`, sorted keys), the build
  is retired and the queued request starts, so the session is always ready for the next one.
- **Typed transition errors** (FR-009). An event the state cannot accept (an unknown token, an
  oracle outside the request's profile, a result before its lookup was answered, a scope
  identity that does not match) raises :class:`TransitionError` and changes nothing.
- **Telemetry** (FR-008) as :class:`Emit` actions carrying :mod:`snapkit.coordinator_events`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

from attrs import evolve, field, frozen

from snapkit.contracts import OracleResult, Scope
from snapkit.coordinator_events import (
    HOOK_OF,
    CacheOutcome,
    DiscardReason,
    ScopeCacheConsulted,
    ScopeRequestCompleted,
    ScopeRequestQueued,
    ScopeRequestQueueReplaced,
    ScopeRequestStarted,
    ScopeRequestTimedOut,
    ScopeResultDiscarded,
)
from snapkit.errors import SnapkitError

DEFAULT_BUILD_TIMEOUT = 30.0
DEFAULT_TOKEN_HISTORY = 256

# -- errors --------------------------------------------------------------------------------


class TransitionError(SnapkitError):
    """An event the coordinator's state cannot accept; the state is unchanged.

    :param code: ``unknown_token``, ``unknown_oracle``, ``wrong_stage``,
        ``identity_mismatch``, ``bad_source`` or ``empty_profile``.
    """

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


# -- state -----------------------------------------------------------------------------------


@frozen
class ScopeRequest:
    """One scope request: its token, scope, dependency profile and when it was made."""

    token: str
    scope: Scope
    oracles: tuple[str, ...]
    requested_at: float


@frozen
class Build:
    """The in-flight build: its request, stage, the oracles still pending, and counts."""

    request: ScopeRequest
    started_at: float
    stage: Literal["lookup", "loading"] = "lookup"
    pending: frozenset[str] = frozenset()
    first_ready_at: float | None = None
    cached: int = 0
    loaded: int = 0
    failed: int = 0


@frozen
class SessionState:
    """A session's coordinator state (immutable; every event returns a new one).

    :param requests: the recent requests by token (the last ``token_history``), so a late
        result can still be written to the cache for its own scope.
    """

    session_id: str
    build_timeout: float = DEFAULT_BUILD_TIMEOUT
    token_history: int = DEFAULT_TOKEN_HISTORY
    counter: int = 0
    active: Build | None = None
    queued: ScopeRequest | None = None
    requests: Mapping[str, ScopeRequest] = field(factory=dict)

    @property
    def phase(self) -> Literal["idle", "in_flight", "queued"]:
        """``idle``, ``in_flight`` (one build, empty queue) or ``queued`` (one of each)."""
        if self.active is None:
            return "idle"
        return "in_flight" if self.queued is None else "queued"

    @property
    def intent(self) -> str | None:
        """The token of the newest request (queued, else in flight), or ``None`` when idle."""
        if self.queued is not None:
            return self.queued.token
        return self.active.request.token if self.active is not None else None


# -- actions ---------------------------------------------------------------------------------


@frozen
class LookupCache:
    """Look up ``oracles`` for ``scope`` in the cache; answer with :func:`handle_cache_lookup`."""

    token: str
    scope: Scope
    oracles: tuple[str, ...]


@frozen
class TouchCache:
    """Revisit retention: renew the cache entries of ``scope``'s container."""

    scope: Scope


@frozen
class WriteCache:
    """Write a loaded result to the cache for its own scope (even when stale for the UI)."""

    scope: Scope
    result: OracleResult


@frozen
class LoadOracles:
    """Load ``oracles`` for ``scope`` (in dependency order); ``inputs`` are cached results
    they may depend on. Each result comes back through :func:`handle_oracle_result`."""

    token: str
    scope: Scope
    oracles: tuple[str, ...]
    inputs: tuple[OracleResult, ...] = ()


@frozen
class StartTimer:
    """Call :func:`handle_timeout` for ``token`` after ``seconds``."""

    token: str
    seconds: float


@frozen
class CancelTimer:
    """Cancel ``token``'s timer (its build finished)."""

    token: str


@frozen
class ShowLoading:
    """UI: ``scope`` is the latest intent; its oracles are loading."""

    token: str
    scope: Scope
    oracles: tuple[str, ...]


@frozen
class ApplyResult:
    """UI: apply one oracle result (from the cache or loaded; ready, skipped or failed)."""

    token: str
    result: OracleResult


@frozen
class ShowComplete:
    """UI: every oracle of ``token`` resolved."""

    token: str
    scope: Scope


@frozen
class ShowTimeout:
    """UI: ``token``'s build timed out; ``missing`` oracles (sorted) get the fallback."""

    token: str
    scope: Scope
    missing: tuple[str, ...]


@frozen
class Emit:
    """Telemetry: announce ``event`` through its event hook (:attr:`hook`)."""

    event: Any

    @property
    def hook(self) -> str:
        """The event hook's name."""
        return HOOK_OF[type(self.event)]


Action = (
    LookupCache
    | TouchCache
    | WriteCache
    | LoadOracles
    | StartTimer
    | CancelTimer
    | ShowLoading
    | ApplyResult
    | ShowComplete
    | ShowTimeout
    | Emit
)
UI_ACTIONS = (ShowLoading, ApplyResult, ShowComplete, ShowTimeout)
"""The actions that change what the user sees: only ever for the latest intent."""


class Transition(NamedTuple):
    """What an event function returns: the new state and the plan to carry out in order."""

    state: SessionState
    plan: tuple[Action, ...]


# -- events ----------------------------------------------------------------------------------


def new_session(
    session_id: str,
    *,
    build_timeout: float = DEFAULT_BUILD_TIMEOUT,
    token_history: int = DEFAULT_TOKEN_HISTORY,
) -> SessionState:
    """Return an idle session: no build, empty queue, request counter at zero.

    :param build_timeout: the hard timeout of one build, in seconds.
    :param token_history: how many recent requests the state remembers for late results.
    """
    if not build_timeout > 0:
        raise TransitionError("bad_setting", f"build_timeout must be > 0, got {build_timeout}")
    if token_history < 2:
        raise TransitionError("bad_setting", f"token_history must be >= 2, got {token_history}")
    return SessionState(session_id, build_timeout, token_history)


def request_scope_change(
    state: SessionState, scope: Scope, oracles: Iterable[str], now: float
) -> Transition:
    """The user picked ``scope``; ``oracles`` is its dependency profile (the keys to hydrate).

    Starts a build when idle, queues the request behind the in-flight build, or replaces the
    queued request. The UI shows ``scope`` loading at once.
    """
    profile = tuple(sorted(set(oracles)))
    if not profile:
        raise TransitionError(
            "empty_profile",
            "a scope request needs at least one oracle",
            hint="pass the oracle keys the dashboard's tiles need",
        )
    counter = state.counter + 1
    token = f"{state.session_id}:{counter}"
    request = ScopeRequest(token, scope, profile, now)
    requests = dict(state.requests)
    requests[token] = request
    if len(requests) > state.token_history:
        for old in list(requests)[: len(requests) - state.token_history]:
            if not _in_use(state, old):
                del requests[old]
    show = ShowLoading(token, scope, profile)
    if state.active is None:
        started = evolve(state, counter=counter, requests=requests)
        return _start(started, request, now, (show,))
    if state.queued is None:
        event: Any = ScopeRequestQueued(
            state.session_id, token, scope.id, state.active.request.token
        )
    else:
        event = ScopeRequestQueueReplaced(state.session_id, token, state.queued.token, scope.id)
    new = evolve(state, counter=counter, queued=request, requests=requests)
    return Transition(new, (show, Emit(event)))


def handle_cache_lookup(
    state: SessionState,
    token: str,
    hits: Mapping[str, OracleResult] | Iterable[OracleResult],
    now: float,
) -> Transition:
    """The cache answered ``token``'s lookup with ``hits`` (results with source ``cache``).

    Applies the hits at once (if ``token`` is the intent) and loads only the misses.
    """
    found = _results(hits)
    build = state.active
    if build is None or build.request.token != token:
        _known(state, token)
        return Transition(state, ())  # the build timed out before the cache answered
    if build.stage != "lookup":
        raise TransitionError(
            "wrong_stage",
            f"request {token}: the cache lookup was already answered",
            hint="answer each LookupCache action once",
        )
    request = build.request
    for result in found.values():
        _check_result(request, result)
    misses = tuple(key for key in request.oracles if key not in found)
    outcome: CacheOutcome = "full_hit" if not misses else "partial_hit" if found else "miss"
    plan: list[Action] = [
        Emit(ScopeCacheConsulted(state.session_id, token, outcome, len(found), len(misses)))
    ]
    applied = state.intent == token
    if applied:
        plan += [ApplyResult(token, found[key]) for key in sorted(found)]
    build = evolve(
        build,
        stage="loading",
        pending=frozenset(misses),
        cached=len(found),
        first_ready_at=now if found else None,
    )
    if misses:
        inputs = tuple(found[key] for key in sorted(found))
        plan.append(LoadOracles(token, request.scope, misses, inputs))
        return Transition(evolve(state, active=build), tuple(plan))
    return _finish(evolve(state, active=build), now, plan)


def handle_oracle_result(state: SessionState, result: OracleResult, now: float) -> Transition:
    """An oracle load finished with ``result`` (source ``loaded``, ``skipped_optional`` or
    ``error``), for the request named by its ``request_token``.

    A loaded result is written to the cache for its own scope whatever its token; it reaches
    the UI only if its token is the latest intent and its oracle was still pending.
    """
    token = result.request_token
    request = _known(state, token)
    if result.source == "cache":
        raise TransitionError(
            "bad_source",
            f"request {token}: oracle {result.oracle!r} came from the cache as a load result",
            hint="pass cache hits to handle_cache_lookup",
        )
    if request is None:  # too old to remember its scope: nothing can be written
        assert token is not None
        return Transition(
            state,
            (
                Emit(
                    ScopeResultDiscarded(state.session_id, token, result.oracle, "forgotten", False)
                ),
            ),
        )
    _check_result(request, result)
    write = result.status == "ok" and result.source == "loaded"
    plan: list[Action] = [WriteCache(request.scope, result)] if write else []
    build = state.active
    if build is None or build.request.token != token:
        plan.append(
            Emit(
                ScopeResultDiscarded(state.session_id, request.token, result.oracle, "stale", write)
            )
        )
        return Transition(state, tuple(plan))
    if build.stage == "lookup":
        raise TransitionError(
            "wrong_stage",
            f"request {token}: oracle {result.oracle!r} "
            "finished before the cache lookup was answered",
            hint="load only what a LoadOracles action asks for",
        )
    if result.oracle not in build.pending:
        plan.append(
            Emit(
                ScopeResultDiscarded(
                    state.session_id, request.token, result.oracle, "duplicate", write
                )
            )
        )
        return Transition(state, tuple(plan))
    ok = result.status == "ok"
    build = evolve(
        build,
        pending=build.pending - {result.oracle},
        loaded=build.loaded + (1 if ok else 0),
        failed=build.failed + (0 if ok else 1),
        first_ready_at=build.first_ready_at if build.first_ready_at is not None or not ok else now,
    )
    if state.intent == token:
        plan.append(ApplyResult(token, result))
    else:
        plan.append(
            Emit(
                ScopeResultDiscarded(
                    state.session_id, request.token, result.oracle, "superseded", write
                )
            )
        )
    new = evolve(state, active=build)
    if build.pending:
        return Transition(new, tuple(plan))
    return _finish(new, now, plan)


def handle_timeout(state: SessionState, token: str, now: float) -> Transition:
    """``token``'s build timer fired: if that build is still in flight, give its missing
    oracles the timeout fallback, retire it and start the queued request (if any).

    A timer of a build that already finished changes nothing.
    """
    _known(state, token)
    build = state.active
    if build is None or build.request.token != token:
        return Transition(state, ())
    request = build.request
    missing = tuple(sorted(build.pending)) if build.stage == "loading" else request.oracles
    applied = state.intent == token
    plan: list[Action] = [
        Emit(
            ScopeRequestTimedOut(
                state.session_id,
                token,
                request.scope.id,
                missing,
                (now - build.started_at) * 1000,
                applied,
            )
        )
    ]
    if applied:
        plan.append(ShowTimeout(token, request.scope, missing))
    return _next(evolve(state, active=None), now, plan)


# -- helpers ---------------------------------------------------------------------------------


def _start(
    state: SessionState, request: ScopeRequest, now: float, plan: tuple[Action, ...] = ()
) -> Transition:
    build = Build(request, now)
    started = ScopeRequestStarted(
        state.session_id,
        request.token,
        request.scope.id,
        len(request.oracles),
        (now - request.requested_at) * 1000,
    )
    return Transition(
        evolve(state, active=build),
        (
            *plan,
            Emit(started),
            TouchCache(request.scope),
            LookupCache(request.token, request.scope, request.oracles),
            StartTimer(request.token, state.build_timeout),
        ),
    )


def _finish(state: SessionState, now: float, plan: list[Action]) -> Transition:
    build = state.active
    assert build is not None
    request = build.request
    applied = state.intent == request.token
    first = (
        (build.first_ready_at - build.started_at) * 1000
        if build.first_ready_at is not None
        else None
    )
    plan.append(CancelTimer(request.token))
    plan.append(
        Emit(
            ScopeRequestCompleted(
                state.session_id,
                request.token,
                request.scope.id,
                build.cached,
                build.loaded,
                build.failed,
                (now - build.started_at) * 1000,
                first,
                applied,
            )
        )
    )
    if applied:
        plan.append(ShowComplete(request.token, request.scope))
    return _next(evolve(state, active=None), now, plan)


def _next(state: SessionState, now: float, plan: list[Action]) -> Transition:
    if state.queued is None:
        return Transition(state, tuple(plan))
    queued = state.queued
    return _start(evolve(state, queued=None), queued, now, tuple(plan))


def _in_use(state: SessionState, token: str) -> bool:
    return (state.queued is not None and state.queued.token == token) or (
        state.active is not None and state.active.request.token == token
    )


def _known(state: SessionState, token: str | None) -> ScopeRequest | None:
    """The request of ``token``; ``None`` if it is too old to remember.

    :raises TransitionError: if this session never issued ``token``.
    """
    if token is not None:
        request = state.requests.get(token)
        if request is not None:
            return request
        session, _, number = token.rpartition(":")
        if session == state.session_id and number.isdigit() and 0 < int(number) <= state.counter:
            return None
    raise TransitionError(
        "unknown_token",
        f"session {state.session_id}: no request has token {token!r}",
        hint="results must carry the token of the LoadOracles action that asked for them",
    )


def _check_result(request: ScopeRequest, result: OracleResult) -> None:
    if result.oracle not in request.oracles:
        raise TransitionError(
            "unknown_oracle",
            f"request {request.token}: oracle {result.oracle!r} is not in its profile",
        )
    if result.scope_id != request.scope.id:
        raise TransitionError(
            "identity_mismatch",
            f"request {request.token}: oracle {result.oracle!r} carries another scope's identity",
        )


def _results(hits: Mapping[str, OracleResult] | Iterable[OracleResult]) -> dict[str, OracleResult]:
    if isinstance(hits, Mapping):
        return dict(hits)
    found: dict[str, OracleResult] = {}
    for result in hits:
        found[result.oracle] = result
    return found


__all__ = [
    "UI_ACTIONS",
    "Action",
    "ApplyResult",
    "Build",
    "CancelTimer",
    "DiscardReason",
    "Emit",
    "LoadOracles",
    "LookupCache",
    "ScopeRequest",
    "SessionState",
    "ShowComplete",
    "ShowLoading",
    "ShowTimeout",
    "StartTimer",
    "TouchCache",
    "Transition",
    "TransitionError",
    "WriteCache",
    "handle_cache_lookup",
    "handle_oracle_result",
    "handle_timeout",
    "new_session",
    "request_scope_change",
]
