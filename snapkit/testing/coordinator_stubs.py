"""Stubs for testing code that drives the coordinator (docs/coordinator.md, testing): a cache
facade that records its calls, oracle-result producers a test steers, and helpers to build
results and read plans. Used by snapkit's own coordinator tests; hosts can use them too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from snapkit import coordinator as co
from snapkit.cache import CacheHit
from snapkit.contracts import ErrorInfo, OracleResult, Scope

A = Scope("district", "class-a")
B = Scope("district", "class-b")
C = Scope("district", "class-c")
ORACLES = ("class", "results", "roster")
VERSION = "1"


def versions(keys: Iterable[str]) -> dict[str, str]:
    return {key: VERSION for key in keys}


def loaded(token: str, scope: Scope, key: str) -> OracleResult:
    """A loaded result whose payload names its scope (so a test sees whose numbers show)."""
    return OracleResult(
        key,
        VERSION,
        scope.id,
        token,
        "ok",
        "loaded",
        payload={"oracle": key, "class": scope.context},
    )


def failed(token: str, scope: Scope, key: str) -> OracleResult:
    return OracleResult(
        key,
        VERSION,
        scope.id,
        token,
        "failed",
        "error",
        error=ErrorInfo("oracle_error", f"oracle {key!r}: source down", key),
    )


def cached(token: str, scope: Scope, key: str) -> OracleResult:
    return OracleResult(
        key,
        VERSION,
        scope.id,
        token,
        "ok",
        "cache",
        payload={"oracle": key, "class": scope.context},
    )


def of_type(plan: Iterable[Any], kind: type) -> list[Any]:
    return [action for action in plan if isinstance(action, kind)]


def events(plan: Iterable[Any], kind: type) -> list[Any]:
    return [a.event for a in plan if isinstance(a, co.Emit) and isinstance(a.event, kind)]


def ui(plan: Iterable[Any]) -> list[Any]:
    return [action for action in plan if isinstance(action, co.UI_ACTIONS)]


class StubCache:
    """The cache facade the driver talks to (lookup, write, touch), recording every call.

    Entries are keyed by (scope id, oracle); there is no policy at all: it is a stub.
    """

    def __init__(self, entries: Mapping[tuple[str, str], OracleResult] | None = None) -> None:
        self.entries: dict[tuple[str, str], OracleResult] = dict(entries or {})
        self.lookups: list[tuple[str, tuple[str, ...]]] = []
        self.writes: list[tuple[str, str, str | None]] = []
        self.touches: list[str] = []
        self.kind = "stub"

    def seed(self, scope: Scope, *keys: str) -> None:
        for key in keys:
            self.entries[(scope.id, key)] = loaded("seed", scope, key)

    def lookup(
        self, scope: Scope, oracles: Mapping[str, str], token: str | None = None
    ) -> dict[str, CacheHit]:
        self.lookups.append((scope.id, tuple(sorted(oracles))))
        hits = {}
        for key in sorted(oracles):
            entry = self.entries.get((scope.id, key))
            if entry is not None:
                hits[key] = CacheHit(
                    OracleResult(
                        key, entry.version, scope.id, token, "ok", "cache", payload=entry.payload
                    )
                )
        return hits

    def write(self, scope: Scope, result: OracleResult, part_data: bytes | None = None) -> bool:
        assert result.scope_id == scope.id
        self.writes.append((scope.id, result.oracle, result.request_token))
        self.entries[(scope.id, result.oracle)] = result
        return True

    def touch(self, scope: Scope) -> int:
        self.touches.append(scope.id)
        return sum(1 for scope_id, _ in self.entries if scope_id == scope.id)


class ScriptedRunner:
    """An oracle-result producer the test drives: each load waits for the results the test
    releases with :meth:`deliver` (in any order), or ends when :meth:`stop` is called."""

    def __init__(self) -> None:
        self.actions: dict[str, co.LoadOracles] = {}
        self.queues: dict[str, asyncio.Queue[OracleResult | None]] = {}

    def _queue(self, token: str) -> asyncio.Queue[OracleResult | None]:
        return self.queues.setdefault(token, asyncio.Queue())

    async def __call__(self, action: co.LoadOracles) -> AsyncIterator[OracleResult]:
        self.actions[action.token] = action
        queue = self._queue(action.token)
        remaining = set(action.oracles)
        while remaining:
            result = await queue.get()
            if result is None:
                return
            remaining.discard(result.oracle)
            yield result

    def deliver(self, token: str, key: str, *, fail: bool = False) -> None:
        scope = self.actions[token].scope
        make = failed if fail else loaded
        self._queue(token).put_nowait(make(token, scope, key))

    def deliver_all(self, token: str) -> None:
        for key in self.actions[token].oracles:
            self.deliver(token, key)

    def stop(self, token: str) -> None:
        self._queue(token).put_nowait(None)


class InstantRunner:
    """An oracle-result producer that loads everything at once (one key may fail)."""

    def __init__(self, failing: Iterable[str] = ()) -> None:
        self.failing = set(failing)
        self.loads: list[tuple[str, str]] = []

    async def __call__(self, action: co.LoadOracles) -> AsyncIterator[OracleResult]:
        for key in action.oracles:
            await asyncio.sleep(0)
            self.loads.append((action.scope.context or "", key))
            make = failed if key in self.failing else loaded
            yield make(action.token, action.scope, key)


async def spin(times: int = 20) -> None:
    """Let the event loop run the driver's load tasks for a while (no real time passes)."""
    for _ in range(times):
        await asyncio.sleep(0)
