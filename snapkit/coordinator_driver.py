"""The coordinator's asyncio driver: carries out the plans of :mod:`snapkit.coordinator`.

The driver is the thin I/O shell around the pure state machine. It keeps one session's state,
feeds it events (a scope change, the cache's answer, each oracle result, a timer) and runs each
plan's actions in order:

- cache actions through :class:`snapkit.cache.OracleCache` only (a cache error is logged and
  counts as a miss or an unwritten entry: the dashboard keeps working without its cache);
- :class:`~snapkit.coordinator.LoadOracles` as an asyncio task that iterates the *runner*
  (``runner(action)`` yields one :class:`~snapkit.contracts.OracleResult` per oracle; a runner
  that raises gives the oracles it did not yield an ``error`` result, ``runner_error``);
- timers through a :class:`Timers` (the event loop's by default; :class:`VirtualTimers` makes
  time pass by hand in tests);
- UI actions to ``on_update`` and telemetry to ``emit(hook_name, event)`` (for a plugin
  manager, ``manager.emit``).

Actions run in plan order; an event raised while a plan runs (the cache answering a lookup)
queues its own plan behind the rest, so every plan runs whole and in order.

Example, with a stub runner and the memory backend::

    import asyncio
    from snapkit.contracts import OracleResult, Scope
    from snapkit.coordinator_driver import CoordinatorDriver

    async def runner(action):
        for key in action.oracles:
            yield OracleResult(key, "1", action.scope.id, action.token, "ok", "loaded",
                               payload={"key": key})

    async def main():
        seen = []
        driver = CoordinatorDriver(runner, versions=lambda keys: {k: "1" for k in keys},
                                   on_update=seen.append)
        driver.request(Scope("district", "class-a"), ["roster", "results"])
        await driver.settle()
        return [type(update).__name__ for update in seen]

    assert asyncio.run(main()) == ["ShowLoading", "ApplyResult", "ApplyResult",
                                   "ShowComplete"]
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Protocol

from snapkit import coordinator as co
from snapkit.cache import CacheError, OracleCache
from snapkit.contracts import ErrorInfo, OracleResult, Scope

log = logging.getLogger("snapkit.coordinator")

Runner = Callable[[co.LoadOracles], AsyncIterator[OracleResult]]
"""Loads the oracles of a :class:`~snapkit.coordinator.LoadOracles` action, yielding each
result (carrying the action's token and scope identity) as it completes."""


class TimerHandle(Protocol):
    """What :meth:`Timers.call_later` returns."""

    def cancel(self) -> None: ...


class Timers(Protocol):
    """The driver's clock: the current time and delayed calls."""

    def now(self) -> float: ...

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle: ...


class LoopTimers:
    """Timers of the running asyncio event loop (monotonic seconds)."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(seconds, callback)


class _VirtualHandle:
    def __init__(self, timers: VirtualTimers) -> None:
        self.cancelled = False
        self._timers = timers

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._timers._cancelled += 1


class VirtualTimers:
    """Virtual time for tests and simulations: nothing fires until :meth:`advance`."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._due: list[tuple[float, int, _VirtualHandle, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cancelled = 0

    def now(self) -> float:
        return self._now

    def call_later(self, seconds: float, callback: Callable[[], None]) -> TimerHandle:
        if self._cancelled > 64 and self._cancelled * 2 > len(self._due):
            # drop cancelled timers, so a long session does not keep every one it ever set
            self._due = [entry for entry in self._due if not entry[2].cancelled]
            heapq.heapify(self._due)
            self._cancelled = 0
        handle = _VirtualHandle(self)
        heapq.heappush(self._due, (self._now + seconds, next(self._order), handle, callback))
        return handle

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, in due order."""
        target = self._now + seconds
        while self._due and self._due[0][0] <= target:
            when, _, handle, callback = heapq.heappop(self._due)
            self._now = when
            if handle.cancelled:
                self._cancelled -= 1
            else:
                handle.cancelled = True  # fired: a later cancel() changes nothing
                callback()
        self._now = target

    @property
    def pending(self) -> int:
        """Timers not yet fired nor cancelled."""
        return sum(1 for _, _, handle, _ in self._due if not handle.cancelled)


class CoordinatorDriver:
    """One dashboard session: the coordinator's state and the I/O its plans ask for.

    :param runner: loads oracles (see :data:`Runner`); :meth:`snapkit.assemble.Assembler.runner`
        runs the registered oracles the way refresh does.
    :param cache: the oracle cache, or ``None`` to run without one (every lookup misses).
    :param versions: returns the version of each oracle key (cache keys are made of them).
    :param on_update: receives the UI actions (``ShowLoading``, ``ApplyResult``,
        ``ShowComplete``, ``ShowTimeout``), only ever for the latest intent.
    :param emit: ``emit(hook_name, event)`` for telemetry, e.g. ``manager.emit``.
    :param build_timeout: the hard timeout of one build, in seconds.
    :param part_data: bytes of record-stream parts by SHA-256, shared with the runner: a
        cached part's bytes are put here, a loaded part's bytes are read from here to be cached.
    """

    def __init__(
        self,
        runner: Runner,
        *,
        cache: OracleCache | None = None,
        versions: Callable[[Iterable[str]], Mapping[str, str]],
        on_update: Callable[[Any], None] | None = None,
        emit: Callable[[str, Any], None] | None = None,
        session_id: str = "session",
        build_timeout: float = co.DEFAULT_BUILD_TIMEOUT,
        timers: Timers | None = None,
        part_data: dict[str, bytes] | None = None,
    ) -> None:
        self.runner = runner
        self.cache = cache
        self.versions = versions
        self.on_update = on_update or (lambda action: None)
        self.emit = emit or (lambda hook, event: None)
        self.timers: Timers = timers or LoopTimers()
        self.part_data: dict[str, bytes] = part_data if part_data is not None else {}
        self.errors: list[co.TransitionError] = []
        self._state = co.new_session(session_id, build_timeout=build_timeout)
        self._plan: deque[co.Action] = deque()
        self._running = False
        self._timers: dict[str, TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> co.SessionState:
        """The session's current coordinator state."""
        return self._state

    # -- events ------------------------------------------------------------------------------

    def request(self, scope: Scope, oracles: Iterable[str]) -> str:
        """The user picked ``scope`` (needing ``oracles``); return the request's token.

        Call it from the event loop's thread.

        :raises TransitionError: if ``oracles`` is empty.
        :raises UnknownKeyError: (from ``versions``) naming an oracle no plugin registers;
            the session is unchanged.
        """
        oracles = tuple(oracles)
        self.versions(oracles)
        transition = co.request_scope_change(self._state, scope, oracles, self.timers.now())
        token = transition.state.intent
        assert token is not None
        self._feed(transition)
        return token

    def _event(self, make: Callable[[co.SessionState, float], co.Transition]) -> None:
        try:
            transition = make(self._state, self.timers.now())
        except co.TransitionError as exc:
            log.warning("coordinator: %s", exc)
            self.errors.append(exc)
            return
        self._feed(transition)

    def _feed(self, transition: co.Transition) -> None:
        self._state = transition.state
        self._plan.extend(transition.plan)
        if self._running:
            return  # the outer drain runs it after the current plan
        self._running = True
        try:
            while self._plan:
                self._execute(self._plan.popleft())
        finally:
            self._running = False

    # -- actions -----------------------------------------------------------------------------

    def _execute(self, action: co.Action) -> None:
        if isinstance(action, co.UI_ACTIONS):
            self._safely("apply a UI update", self.on_update, action)
        elif isinstance(action, co.Emit):
            self._safely("emit telemetry", self.emit, action.hook, action.event)
        elif isinstance(action, co.LookupCache):
            hits = self._lookup(action)
            self._event(lambda state, now: co.handle_cache_lookup(state, action.token, hits, now))
        elif isinstance(action, co.WriteCache):
            self._write(action)
        elif isinstance(action, co.TouchCache):
            if self.cache is not None:
                self._cache_call("touch", self.cache.touch, action.scope)
        elif isinstance(action, co.LoadOracles):
            task = asyncio.get_running_loop().create_task(self._load(action))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(action, co.StartTimer):
            token = action.token
            self._timers[token] = self.timers.call_later(
                action.seconds, lambda: self._timed_out(token)
            )
        elif isinstance(action, co.CancelTimer):
            handle = self._timers.pop(action.token, None)
            if handle is not None:
                handle.cancel()
        else:  # pragma: no cover - every action type is handled above
            raise TypeError(f"unknown coordinator action {type(action).__name__}")

    def _timed_out(self, token: str) -> None:
        self._timers.pop(token, None)
        self._event(lambda state, now: co.handle_timeout(state, token, now))

    def _lookup(self, action: co.LookupCache) -> dict[str, OracleResult]:
        if self.cache is None:
            return {}
        hits = self._cache_call(
            "look up", self.cache.lookup, action.scope, self.versions(action.oracles), action.token
        )
        if hits is None:
            return {}
        for hit in hits.values():
            if hit.part_data is not None and hit.result.part is not None:
                self.part_data[hit.result.part.sha256] = hit.part_data
        return {key: hit.result for key, hit in hits.items()}

    def _write(self, action: co.WriteCache) -> None:
        if self.cache is None:
            return
        part = action.result.part
        data = self.part_data.get(part.sha256) if part is not None else None
        self._cache_call("write", self.cache.write, action.scope, action.result, data)

    def _cache_call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except CacheError as exc:
            log.warning(
                "coordinator: cannot %s the cache (%s): %s",
                what,
                getattr(self.cache, "kind", "?"),
                exc,
            )
            return None

    @staticmethod
    def _safely(what: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("coordinator: could not %s", what)

    async def _load(self, action: co.LoadOracles) -> None:
        done: set[str] = set()
        try:
            async for result in self.runner(action):
                done.add(result.oracle)
                self._result(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "coordinator: the runner failed for request %s: %s",
                action.token,
                type(exc).__name__,
            )
            for key in action.oracles:
                if key in done:
                    continue
                error = ErrorInfo(
                    "runner_error",
                    f"oracle {key!r} was not loaded: the runner raised {type(exc).__name__}",
                    key,
                )
                versions = self.versions([key])
                self._result(
                    OracleResult(
                        key,
                        versions.get(key, ""),
                        action.scope.id,
                        action.token,
                        "failed",
                        "error",
                        error=error,
                    )
                )

    def _result(self, result: OracleResult) -> None:
        def event(state: co.SessionState, now: float) -> co.Transition:
            return co.handle_oracle_result(state, result, now)

        self._event(event)

    # -- lifecycle ---------------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until every load task started so far (and any they lead to) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel running loads and timers (the session ends); the cache is left open."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
