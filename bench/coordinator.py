"""Benchmark: the coordinator's transitions, its overhead on a cached hydration, cache rates.

Three figures, each beside a baseline measured in the same run:

- **transition cost**: every event function of the pure state machine
  (``request_scope_change`` while idle / in flight / queued, ``handle_cache_lookup`` partial
  hit, ``handle_oracle_result`` applied / superseded / completing, ``handle_timeout``), each
  call timed alone over many rounds of a rapid A -> B -> C session; p50 and p99 per event and
  overall. Target p99 < 100 µs (the dashboard's budget at the UI boundary is p95 100 ms).
- **cached hydration**: ``CoordinatorDriver.request`` for a scope whose oracles are all in a
  ``memory`` cache — lookup, state transitions, UI updates, telemetry — beside the bare
  ``OracleCache.lookup`` of the same oracles; the difference is the coordinator's overhead.
  Target < 1 ms (the dashboard's budget: coordinator overhead p95 <= 25 ms, cached dispatch
  p95 <= 50 ms).
- **cache rates**: get and put per second of the ``memory`` backend beside a plain dict, and
  of the ``redis`` backend beside raw redis-py ``GET``/``SET`` on the same server (started by
  the bench on a free loopback port; 1 KB values).

Run::

    python bench/coordinator.py [--rounds 2000] [--hydrations 2000] [--ops 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from snapkit import coordinator as co
from snapkit.cache import OracleCache
from snapkit.contracts import OracleResult, Scope
from snapkit.coordinator_driver import CoordinatorDriver, VirtualTimers

ORACLES = ("class", "line_items", "proficiency", "progress", "results", "roster")
SCOPES = [Scope("district", f"class-{i}") for i in range(3)]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def result(token: str, scope: Scope, key: str, source: str = "loaded") -> OracleResult:
    return OracleResult(key, "1", scope.id, token, "ok", source, payload={"n": 1})


def transitions(rounds: int) -> dict[str, list[float]]:
    """Time every event function over ``rounds`` of an A -> B -> C session."""
    times: dict[str, list[float]] = {}
    clock = time.perf_counter

    def timed(name: str, fn: Callable[..., co.Transition], *args: Any) -> co.Transition:
        start = clock()
        out = fn(*args)
        times.setdefault(name, []).append(clock() - start)
        return out

    state = co.new_session("bench", build_timeout=30)
    now = 0.0
    for _ in range(rounds):
        a, b, c = SCOPES
        state, _ = timed("request (idle)", co.request_scope_change, state, a, ORACLES, now)
        ta = state.active.request.token
        state, _ = timed("request (queue)", co.request_scope_change, state, b, ORACLES, now)
        state, _ = timed("request (replace)", co.request_scope_change, state, c, ORACLES, now)
        tc = state.queued.token
        hits = [result(ta, a, key, "cache") for key in ORACLES[:2]]
        state, _ = timed("cache lookup (partial hit)", co.handle_cache_lookup, state, ta, hits, now)
        for key in ORACLES[2:]:
            state, _ = timed(
                "result (superseded)", co.handle_oracle_result, state, result(ta, a, key), now
            )
        state, _ = timed("cache lookup (miss)", co.handle_cache_lookup, state, tc, [], now)
        for key in ORACLES[:-1]:
            state, _ = timed(
                "result (applied)", co.handle_oracle_result, state, result(tc, c, key), now
            )
        state, _ = timed(
            "result (completes)", co.handle_oracle_result, state, result(tc, c, ORACLES[-1]), now
        )
        state, _ = timed("request (idle)", co.request_scope_change, state, a, ORACLES, now)
        state, _ = timed("timeout", co.handle_timeout, state, state.active.request.token, now + 30)
        now += 60
    return times


def hydrations(
    count: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[list[float], list[float]]:
    """Full-hit hydrations through the driver, and bare lookups of the same oracles."""
    from snapkit_cache.memory import MemoryCache

    cache = OracleCache(MemoryCache(ttl=3600, capacity=10_000), kind="memory")
    scope = SCOPES[0]
    for key in ORACLES:
        cache.write(scope, result("warm", scope, key))
    versions = {key: "1" for key in ORACLES}

    async def never(action: co.LoadOracles) -> Any:  # a full hit loads nothing
        raise AssertionError("loaded on a full hit")
        yield  # pragma: no cover

    async def run() -> tuple[list[float], list[float]]:
        shown: list[Any] = []
        driver = CoordinatorDriver(
            never,
            cache=cache,
            versions=lambda keys: versions,
            on_update=shown.append,
            timers=VirtualTimers(),
        )
        full, bare = [], []
        for _ in range(count):
            start = clock()
            driver.request(scope, ORACLES)
            full.append(clock() - start)
            assert isinstance(shown[-1], co.ShowComplete)
            shown.clear()
            start = clock()
            cache.lookup(scope, versions, "t")
            bare.append(clock() - start)
        return full, bare

    return asyncio.run(run())


def rate(fn: Callable[[int], Any], ops: int) -> float:
    start = time.perf_counter()
    for i in range(ops):
        fn(i)
    return ops / (time.perf_counter() - start)


def cache_rates(ops: int) -> list[tuple[str, str, str, str, str]]:
    from snapkit_cache.memory import MemoryCache
    from snapkit_cache.redis_backend import RedisCache
    from snapkit_cache.testing import RedisServer

    value = bytes(1024)
    keys = [f"k{i % 1000}" for i in range(ops)]
    rows = []
    memory = MemoryCache(ttl=3600, capacity=100_000)
    plain: dict[str, bytes] = {}
    m_put = rate(lambda i: memory.put(keys[i], value, group="g"), ops)
    d_put = rate(lambda i: plain.__setitem__(keys[i], value), ops)
    m_get = rate(lambda i: memory.get(keys[i]), ops)
    d_get = rate(lambda i: plain.get(keys[i]), ops)
    rows.append(
        (
            "memory",
            f"{m_get:,.0f}/s",
            f"{m_put:,.0f}/s",
            f"dict {d_get:,.0f}/s get, {d_put:,.0f}/s put",
            f"{d_get / m_get:.1f}x / {d_put / m_put:.1f}x",
        )
    )
    redis_ops = max(1000, ops // 4)
    with RedisServer() as server:
        backend = RedisCache(url=server.url, ttl=3600, capacity=100_000, namespace="bench")
        raw = backend._client
        r_put = rate(lambda i: backend.put(keys[i], value, group="g"), redis_ops)
        x_put = rate(lambda i: raw.set(f"raw:{keys[i]}", value, px=3_600_000), redis_ops)
        r_get = rate(lambda i: backend.get(keys[i]), redis_ops)
        x_get = rate(lambda i: raw.get(f"raw:{keys[i]}"), redis_ops)
        backend.close()
    rows.append(
        (
            "redis",
            f"{r_get:,.0f}/s",
            f"{r_put:,.0f}/s",
            f"redis-py {x_get:,.0f}/s GET, {x_put:,.0f}/s SET",
            f"{x_get / r_get:.2f}x / {x_put / r_put:.2f}x",
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--hydrations", type=int, default=2000)
    parser.add_argument("--ops", type=int, default=20000)
    args = parser.parse_args()

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    times = transitions(args.rounds)
    every = [t for values in times.values() for t in values]
    rows = [
        (
            name,
            len(values),
            us(statistics.median(values)),
            us(pct(values, 0.95)),
            us(pct(values, 0.99)),
        )
        for name, values in times.items()
    ]
    rows.append(
        (
            "all transitions",
            len(every),
            us(statistics.median(every)),
            us(pct(every, 0.95)),
            us(pct(every, 0.99)),
        )
    )
    print("Transition cost (pure state machine; target p99 < 100 µs)")
    table(("event", "calls", "p50", "p95", "p99"), rows)

    print(
        f"\nCached hydration, {len(ORACLES)} oracles, all hits (target overhead < 1 ms); "
        "wall time, and this thread's CPU time (not counting time the machine gave other "
        "processes)"
    )
    rows = []
    for label, clock in (("wall", time.perf_counter), ("CPU", time.thread_time)):
        full, bare = hydrations(args.hydrations, clock)
        overhead = [f - b for f, b in zip(full, bare)]
        rows += [
            (
                f"{name} ({label})",
                us(statistics.median(values)),
                us(pct(values, 0.95)),
                us(pct(values, 0.99)),
            )
            for name, values in (
                ("driver.request, full hit", full),
                ("bare OracleCache.lookup", bare),
                ("coordinator overhead", overhead),
            )
        ]
    table(("", "p50", "p95", "p99"), rows)

    print(
        f"\nCache rates, 1 KB values ({args.ops:,} memory ops, {max(1000, args.ops // 4):,} "
        "redis ops on loopback)"
    )
    table(
        ("backend", "get", "put", "baseline (same run)", "baseline / backend"),
        cache_rates(args.ops),
    )


if __name__ == "__main__":
    main()
