"""The coordinator (docs/coordinator.md): every behaviour it documents, by name.

The pure state machine is exercised directly; the asyncio driver end to end with a stubbed
cache facade and stubbed oracle-result producers, and virtual time for timeouts.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import attrs
import pytest

from snapkit import coordinator as co
from snapkit.coordinator_driver import CoordinatorDriver, VirtualTimers
from snapkit.coordinator_events import (
    ScopeCacheConsulted,
    ScopeRequestCompleted,
    ScopeRequestQueued,
    ScopeRequestQueueReplaced,
    ScopeRequestStarted,
    ScopeRequestTimedOut,
    ScopeResultDiscarded,
)
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.testing.coordinator_stubs import (
    ORACLES,
    A,
    B,
    C,
    InstantRunner,
    ScriptedRunner,
    StubCache,
    cached,
    events,
    failed,
    loaded,
    of_type,
    spin,
    ui,
    versions,
)

ROOT = Path(__file__).resolve().parent.parent
COORDINATOR_MODULES = ["coordinator.py", "coordinator_driver.py", "coordinator_events.py"]


def start(state: co.SessionState, scope=A, now: float = 0.0) -> tuple[co.SessionState, str]:
    """Request ``scope`` and answer its lookup with a miss: the build is loading."""
    state, _ = co.request_scope_change(state, scope, ORACLES, now)
    token = state.active.request.token if state.queued is None else state.queued.token
    if state.active.request.token == token:
        state, _ = co.handle_cache_lookup(state, token, {}, now)
    return state, token


def session(**kwargs) -> co.SessionState:
    return co.new_session("s", **kwargs)


def driver(runner, cache=None, **kwargs) -> tuple[CoordinatorDriver, list, VirtualTimers]:
    shown: list = []
    timers = VirtualTimers()
    return (
        CoordinatorDriver(
            runner,
            cache=cache,
            versions=versions,
            on_update=shown.append,
            timers=timers,
            session_id="s",
            **kwargs,
        ),
        shown,
        timers,
    )


# -- FR-001 .. FR-012 ----------------------------------------------------------------------------


def test_fr001_at_most_one_active_scope_request_per_session():
    state, a = start(session())
    for scope in (B, C, B):
        state, plan = co.request_scope_change(state, scope, ORACLES, 1.0)
        assert not of_type(plan, co.LookupCache) and not of_type(plan, co.LoadOracles)
        assert state.active.request.token == a
    assert state.phase == "queued"


def test_fr002_one_queued_request_replaced_by_the_latest_intent():
    state, a = start(session())
    state, plan = co.request_scope_change(state, B, ORACLES, 1.0)
    b = state.queued.token
    assert events(plan, ScopeRequestQueued)[0].behind == a
    state, plan = co.request_scope_change(state, C, ORACLES, 2.0)
    c = state.queued.token
    assert [(e.token, e.replaced) for e in events(plan, ScopeRequestQueueReplaced)] == [(c, b)]
    assert state.queued.scope == C
    for key in ORACLES:  # A completes: C starts, B never does
        state, plan = co.handle_oracle_result(state, loaded(a, A, key), 3.0)
    assert state.active.request.token == c
    assert [action.token for action in of_type(plan, co.LookupCache)] == [c]


def test_fr003_tokens_propagate_and_stale_tokens_never_reach_the_ui():
    state, a = start(session())
    state, plan = co.request_scope_change(state, B, ORACLES, 1.0)
    b = state.intent
    assert ui(plan) == [co.ShowLoading(b, B, ORACLES)]
    state, plan = co.handle_oracle_result(state, loaded(a, A, "class"), 2.0)
    assert ui(plan) == []  # A is superseded by B: its result must not show
    assert [e.reason for e in events(plan, ScopeResultDiscarded)] == ["superseded"]
    for key in ("results", "roster"):
        state, plan = co.handle_oracle_result(state, loaded(a, A, key), 2.0)
    (lookup,) = of_type(plan, co.LookupCache)
    assert lookup.token == b
    state, plan = co.handle_cache_lookup(state, b, {}, 3.0)
    (load,) = of_type(plan, co.LoadOracles)
    assert load.token == b and load.scope == B
    state, plan = co.handle_oracle_result(state, loaded(b, B, "class"), 4.0)
    assert [(u.token, u.result.oracle) for u in ui(plan)] == [(b, "class")]


def test_fr004_incremental_readiness_and_scoped_failure_events():
    state, a = start(session())
    state, plan = co.handle_oracle_result(state, loaded(a, A, "roster"), 1.0)
    assert [(u.result.oracle, u.result.status) for u in ui(plan)] == [("roster", "ok")]
    state, plan = co.handle_oracle_result(state, failed(a, A, "results"), 2.0)
    assert [(u.result.oracle, u.result.status, u.result.error.code) for u in ui(plan)] == [
        ("results", "failed", "oracle_error")
    ]
    assert state.phase == "in_flight"  # one failure does not end the others
    state, plan = co.handle_oracle_result(state, loaded(a, A, "class"), 3.0)
    assert ui(plan) == [co.ApplyResult(a, loaded(a, A, "class")), co.ShowComplete(a, A)]
    (done,) = events(plan, ScopeRequestCompleted)
    assert (done.loaded, done.failed, done.cached) == (2, 1, 0)


def test_fr005_the_cache_is_consulted_before_missing_oracles_load():
    state, plan = co.request_scope_change(session(), A, ORACLES, 0.0)
    kinds = [type(action) for action in plan]
    assert co.LookupCache in kinds and co.LoadOracles not in kinds
    token = state.active.request.token
    with pytest.raises(co.TransitionError) as info:  # nothing may load before the answer
        co.handle_oracle_result(state, loaded(token, A, "class"), 0.5)
    assert info.value.code == "wrong_stage"
    state, plan = co.handle_cache_lookup(state, token, [cached(token, A, "class")], 1.0)
    (load,) = of_type(plan, co.LoadOracles)
    assert load.oracles == ("results", "roster")


def test_fr006_stale_completions_are_still_written_to_the_cache():
    state, a = start(session(build_timeout=5))
    state, _ = co.handle_timeout(state, a, 5.0)
    state, _b = start(state, B, 6.0)
    state, plan = co.handle_oracle_result(state, loaded(a, A, "class"), 7.0)
    assert of_type(plan, co.WriteCache) == [co.WriteCache(A, loaded(a, A, "class"))]
    assert ui(plan) == []
    assert [(e.reason, e.written) for e in events(plan, ScopeResultDiscarded)] == [("stale", True)]
    # a failed or mismatched result is not written
    _, plan = co.handle_oracle_result(state, failed(a, A, "roster"), 7.0)
    assert of_type(plan, co.WriteCache) == []
    with pytest.raises(co.TransitionError) as info:
        co.handle_oracle_result(state, loaded(a, B, "roster"), 7.0)
    assert info.value.code == "identity_mismatch"


def _code_of(name: str) -> ast.Module:
    return ast.parse((ROOT / "snapkit" / name).read_text(encoding="utf-8"))


def test_fr007_coordinator_modules_implement_no_cache_policy():
    forbidden = (
        "ttl",
        "lru",
        "evict",
        "expire",
        "capacity",
        "coalesc",
        "cache_key",
        "container_group",
        "content_id",
        "hashlib",
    )
    for name in COORDINATOR_MODULES:
        for node in ast.walk(_code_of(name)):
            names = []
            if isinstance(node, ast.Name):
                names.append(node.id)
            elif isinstance(node, ast.Attribute):
                names.append(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.arg):
                names.append(getattr(node, "name", getattr(node, "arg", "")))
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names += [alias.name for alias in node.names]
            for found in names:
                assert not any(word in found.lower() for word in forbidden), (name, found)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_fr010_the_cache_does_not_depend_on_the_coordinator():
    cache_modules = [
        ROOT / "snapkit" / "cache.py",
        *sorted((ROOT / "plugins" / "cache" / "src").rglob("*.py")),
    ]
    for path in cache_modules:
        assert not any("coordinator" in module for module in _imports(path)), path
    # and the coordinator reaches the cache only through its public API
    for name in COORDINATOR_MODULES:
        used = {m for m in _imports(ROOT / "snapkit" / name) if m.startswith("snapkit.cache")}
        assert used <= {"snapkit.cache", "snapkit.cache.OracleCache", "snapkit.cache.CacheError"}


def test_fr008_coordinator_telemetry_is_exposed_through_event_hooks():
    seen: list = []

    class Telemetry:
        @hookimpl
        def snapkit_scope_request_started(self, event):
            seen.append(event)

        @hookimpl
        def snapkit_scope_request_queue_replaced(self, event):
            seen.append(event)

        @hookimpl
        def snapkit_scope_result_discarded(self, event):
            seen.append(event)

        @hookimpl
        def snapkit_scope_cache_consulted(self, event):
            seen.append(event)

        @hookimpl
        def snapkit_scope_request_completed(self, event):
            seen.append(event)

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(Telemetry(), "telemetry")
    runner = ScriptedRunner()

    async def scenario():
        d, _, timers = driver(runner, StubCache(), emit=manager.emit)
        a = d.request(A, ORACLES)
        d.request(B, ORACLES)
        d.request(C, ORACLES)
        await spin()
        timers.advance(0.25)
        runner.deliver_all(a)
        await spin()

    asyncio.run(scenario())
    kinds = [type(e).__name__ for e in seen]
    assert "ScopeRequestQueueReplaced" in kinds
    assert kinds.count("ScopeResultDiscarded") == 3
    assert "ScopeCacheConsulted" in kinds
    (done,) = [e for e in seen if isinstance(e, ScopeRequestCompleted)]
    assert done.duration_ms == pytest.approx(250.0) and done.applied is False
    assert {e.token for e in seen if isinstance(e, ScopeRequestStarted)} == {"s:1", "s:3"}


def test_fr009_invalid_events_raise_typed_transition_errors_and_change_nothing():
    state, a = start(session())
    cases = [
        (lambda: co.handle_oracle_result(state, loaded("s:99", A, "class"), 1), "unknown_token"),
        (lambda: co.handle_oracle_result(state, loaded("other:1", A, "class"), 1), "unknown_token"),
        (lambda: co.handle_oracle_result(state, loaded(a, A, "grades"), 1), "unknown_oracle"),
        (lambda: co.handle_oracle_result(state, loaded(a, B, "class"), 1), "identity_mismatch"),
        (lambda: co.handle_oracle_result(state, cached(a, A, "class"), 1), "bad_source"),
        (lambda: co.handle_cache_lookup(state, a, {}, 1), "wrong_stage"),
        (lambda: co.request_scope_change(state, B, [], 1), "empty_profile"),
        (lambda: co.handle_timeout(state, "s:7", 1), "unknown_token"),
    ]
    for event, code in cases:
        with pytest.raises(co.TransitionError) as info:
            event()
        assert info.value.code == code
        assert info.value.message
    assert state.active.request.token == a and state.active.pending == frozenset(ORACLES)


def test_fr009_transitions_are_deterministic():
    def run():
        state, plans = session(), []
        for step, event in enumerate(
            [
                lambda s: co.request_scope_change(s, A, ORACLES, 0),
                lambda s: co.request_scope_change(s, B, ORACLES, 1),
                lambda s: co.handle_cache_lookup(s, "s:1", [cached("s:1", A, "roster")], 2),
                lambda s: co.handle_oracle_result(s, loaded("s:1", A, "class"), 3),
                lambda s: co.handle_oracle_result(s, failed("s:1", A, "results"), 4),
                lambda s: co.handle_timeout(s, "s:2", 5),
            ]
        ):
            state, plan = event(state)
            plans.append((step, plan))
        return state, plans

    assert run() == run()


def test_fr011_driver_end_to_end_with_stubbed_cache_and_oracle_producers():
    cache = StubCache()
    cache.seed(A, "class")
    runner = InstantRunner(failing=["results"])

    async def scenario():
        d, shown, _ = driver(runner, cache)
        d.request(A, ORACLES)
        await d.settle()
        return d, shown

    d, shown = asyncio.run(scenario())
    assert d.state.phase == "idle"
    assert [type(u).__name__ for u in shown] == [
        "ShowLoading",
        "ApplyResult",
        "ApplyResult",
        "ApplyResult",
        "ShowComplete",
    ]
    assert [(u.result.oracle, u.result.source) for u in shown[1:4]] == [
        ("class", "cache"),
        ("results", "error"),
        ("roster", "loaded"),
    ]
    assert runner.loads == [("class-a", "results"), ("class-a", "roster")]
    assert cache.touches == [A.id] and cache.lookups == [(A.id, ORACLES)]
    assert cache.writes == [(A.id, "roster", "s:1")]  # the failure is not cached


def test_fr012_hard_timeout_gives_a_deterministic_fallback_and_frees_the_session():
    runner = ScriptedRunner()

    async def scenario():
        d, shown, timers = driver(runner, StubCache(), build_timeout=10)
        a = d.request(A, ORACLES)
        await spin()
        runner.deliver(a, "roster")
        await spin()
        timers.advance(10)
        return d, shown, a

    d, shown, a = asyncio.run(scenario())
    assert shown[-1] == co.ShowTimeout(a, A, ("class", "results"))
    assert d.state.phase == "idle" and d.state.active is None


# -- AC-001 .. AC-008 ----------------------------------------------------------------------------


def test_ac001_rapid_cycling_keeps_one_active_and_the_latest_queued():
    state, a = start(session())
    scopes = [B, C, B, C, A, B, C]
    for i, scope in enumerate(scopes):
        state, _ = co.request_scope_change(state, scope, ORACLES, float(i))
        assert state.active.request.token == a
        assert state.queued is not None and state.queued.scope == scope
    assert state.intent == f"s:{len(scopes) + 1}"


def test_ac002_a_stale_completion_changes_nothing_in_the_ui():
    runner = ScriptedRunner()

    async def scenario():
        d, shown, timers = driver(runner, StubCache(), build_timeout=5)
        old = d.request(A, ORACLES)
        await spin()
        timers.advance(5)  # T_old times out
        new = d.request(B, ORACLES)
        await spin()
        before = list(shown)
        runner.deliver_all(old)  # T_old completes after T_new is active
        await spin()
        assert shown == before
        runner.deliver_all(new)
        await spin()
        return shown, old, new

    shown, _old, new = asyncio.run(scenario())
    applied = [u for u in shown if isinstance(u, co.ApplyResult)]
    assert {u.token for u in applied} == {new}
    assert all(u.result.payload["class"] == "class-b" for u in applied)


def test_ac003_a_partial_hit_applies_cached_payloads_at_once_and_loads_only_misses():
    state, plan = co.request_scope_change(session(), A, ORACLES, 0.0)
    token = state.active.request.token
    hits = [cached(token, A, "class"), cached(token, A, "roster")]
    state, plan = co.handle_cache_lookup(state, token, hits, 0.0)
    assert [u.result.oracle for u in ui(plan)] == ["class", "roster"]
    assert [e.outcome for e in events(plan, ScopeCacheConsulted)] == ["partial_hit"]
    (load,) = of_type(plan, co.LoadOracles)
    assert load.oracles == ("results",) and load.inputs == tuple(hits)


def test_ac004_a_stale_completion_warms_the_cache_for_its_own_key_only():
    cache = StubCache()
    runner = ScriptedRunner()

    async def scenario():
        d, shown, timers = driver(runner, cache, build_timeout=5)
        old = d.request(A, ORACLES)
        await spin()
        timers.advance(5)
        d.request(B, ORACLES)
        await spin()
        before = list(shown)
        runner.deliver(old, "results")
        await spin()
        return shown, before, old

    shown, before, old = asyncio.run(scenario())
    assert shown == before
    assert cache.writes == [(A.id, "results", old)]
    assert cache.lookup(A, {"results": "1"})["results"].result.payload["class"] == "class-a"
    assert cache.lookup(B, {"results": "1"}) == {}


def test_ac005_coordinator_code_holds_no_cache_policy():
    test_fr007_coordinator_modules_implement_no_cache_policy()
    source = "".join((ROOT / "snapkit" / n).read_text() for n in COORDINATOR_MODULES)
    for library in ("cachetools", "redis", "hashlib", "snapkit.canonical"):
        assert f"import {library}" not in source and f"from {library}" not in source


def test_ac006_queue_transitions_stale_discards_cache_outcomes_and_timings_are_observable():
    seen: list = []
    runner = ScriptedRunner()
    cache = StubCache()
    cache.seed(B, *ORACLES)
    cache.seed(C, "class")

    async def scenario():
        d, _, timers = driver(
            runner, cache, build_timeout=30, emit=lambda hook, event: seen.append((hook, event))
        )
        a = d.request(A, ORACLES)
        d.request(B, ORACLES)
        timers.advance(1)
        d.request(C, ORACLES)
        await spin()
        timers.advance(2)
        runner.deliver_all(a)
        await spin()
        c = d.state.active.request.token
        runner.deliver_all(c)
        await spin()

    asyncio.run(scenario())
    hooks = [hook for hook, _ in seen]
    assert hooks.count("snapkit_scope_request_queued") == 1
    assert hooks.count("snapkit_scope_request_queue_replaced") == 1
    assert hooks.count("snapkit_scope_result_discarded") == 3
    outcomes = [e.outcome for h, e in seen if isinstance(e, ScopeCacheConsulted)]
    assert outcomes == ["miss", "partial_hit"]
    completed = [e for _, e in seen if isinstance(e, ScopeRequestCompleted)]
    assert [(e.token, e.duration_ms, e.applied) for e in completed] == [
        ("s:1", 3000.0, False),
        ("s:3", 0.0, True),
    ]
    (c_started,) = [e for _, e in seen if isinstance(e, ScopeRequestStarted) and e.token == "s:3"]
    assert c_started.queue_wait_ms == 2000.0
    for _, event in seen:  # ids, counts and times only: never payload values
        for value in attrs.asdict(event).values():
            assert isinstance(value, str | int | float | bool | tuple | type(None))
            assert "class-" not in str(value)


def test_ac007_stubbed_components_exercise_token_guards_queue_and_stale_handling():
    runner = ScriptedRunner()
    cache = StubCache()

    async def scenario():
        d, shown, _timers = driver(runner, cache, build_timeout=60)
        a = d.request(A, ORACLES)
        b = d.request(B, ORACLES)
        c = d.request(C, ORACLES)  # replaces B in the queue
        await spin()
        runner.deliver(a, "class")
        runner.deliver(a, "class")  # a duplicate
        runner.deliver(a, "roster")
        runner.deliver(a, "results", fail=True)
        await spin()
        assert d.state.active.request.token == c
        runner.deliver_all(c)
        await spin()
        return d, shown, a, b, c

    d, shown, a, b, c = asyncio.run(scenario())
    assert b not in runner.actions  # the replaced request never loaded
    tokens_shown = [u.token for u in shown]
    assert tokens_shown[:3] == [a, b, c]  # each new intent shows loading at once
    assert set(tokens_shown[3:]) == {c}
    assert [u.result.payload["class"] for u in shown if isinstance(u, co.ApplyResult)] == [
        "class-c"
    ] * 3
    assert (A.id, "class", a) in cache.writes and (A.id, "roster", a) in cache.writes
    assert d.state.phase == "idle" and d.errors == []


def test_ac008_a_timed_out_build_falls_back_and_the_next_intent_runs():
    runner = ScriptedRunner()

    async def scenario():
        d, shown, timers = driver(runner, StubCache(), build_timeout=8)
        a = d.request(A, ORACLES)
        b = d.request(B, ORACLES)
        await spin()
        timers.advance(8)  # A times out while B is queued: B starts at once
        assert d.state.active.request.token == b
        await spin()
        runner.deliver_all(b)
        await spin()
        return d, shown, a, b, timers

    d, shown, a, b, timers = asyncio.run(scenario())
    assert not [u for u in shown if isinstance(u, co.ShowTimeout)]  # A was not the intent
    assert shown[-1] == co.ShowComplete(b, B)
    assert d.state.phase == "idle" and timers.pending == 0

    runner2 = ScriptedRunner()

    async def intent_times_out():
        d, shown, timers = driver(runner2, StubCache(), build_timeout=8)
        a = d.request(A, ORACLES)
        await spin()
        timers.advance(8)
        fallback = shown[-1]
        next_token = d.request(C, ORACLES)
        await spin()
        runner2.deliver_all(next_token)
        await spin()
        return fallback, shown, a, next_token

    fallback, shown, a, c = asyncio.run(intent_times_out())
    assert fallback == co.ShowTimeout(a, A, ORACLES)
    assert shown[-1] == co.ShowComplete(c, C)
    (timed_out,) = [s for s in [fallback] if isinstance(s, co.ShowTimeout)]
    assert timed_out.missing == tuple(sorted(ORACLES))


def test_timeout_event_reports_the_missing_oracles_and_elapsed_time():
    state, a = start(session(build_timeout=4))
    state, _ = co.handle_oracle_result(state, loaded(a, A, "class"), 1.0)
    state, plan = co.handle_timeout(state, a, 4.0)
    (event,) = events(plan, ScopeRequestTimedOut)
    assert (event.missing, event.elapsed_ms, event.applied) == (("results", "roster"), 4000.0, True)
    assert co.handle_timeout(state, a, 9.0) == (state, ())  # a late timer changes nothing
