"""A hypothesis state machine over the coordinator: random scope changes, cache answers,
results in any order, duplicates, failures, forged and stale tokens, timeouts.

Invariants: at most one build in flight and one request queued; the latest intent wins (every
UI action names the newest request, and an idle session last showed that request complete or
timed out); a stale result never reaches the UI; every loaded result is written to the cache
for its own scope; a timeout always leaves the session ready for the next request.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from snapkit import coordinator as co
from snapkit.coordinator_events import ScopeRequestCompleted, ScopeRequestTimedOut
from snapkit.testing.coordinator_stubs import ORACLES, A, B, C, cached, failed, loaded

SCOPES = {"A": A, "B": B, "C": C}
profiles = st.sets(st.sampled_from(ORACLES), min_size=1).map(lambda s: tuple(sorted(s)))


class CoordinatorMachine(RuleBasedStateMachine):
    @initialize(timeout=st.sampled_from([1.0, 5.0, 30.0]))
    def open_session(self, timeout: float) -> None:
        self.state = co.new_session("s", build_timeout=timeout)
        self.now = 0.0
        self.latest: str | None = None
        self.scope_of: dict[str, co.Scope] = {}
        self.lookups: list[str] = []  # tokens whose lookup awaits an answer
        self.outstanding: dict[str, set[str]] = {}  # token -> oracles still to deliver
        self.delivered: list[tuple[str, str]] = []
        self.timers: set[str] = set()
        self.in_flight: set[str] = set()
        self.last_ui: co.Action | None = None

    # -- carrying out plans -----------------------------------------------------------------

    def apply(self, transition: co.Transition) -> tuple[co.Action, ...]:
        self.state, plan = transition
        for action in plan:
            if isinstance(action, co.UI_ACTIONS):
                assert action.token == self.latest, "a UI action for a superseded request"
                if isinstance(action, co.ApplyResult):
                    assert action.result.scope_id == self.scope_of[self.latest].id
                    assert action.result.request_token in (self.latest, None)
                self.last_ui = action
            elif isinstance(action, co.LookupCache):
                self.in_flight.add(action.token)
                assert len(self.in_flight) <= 1, "two builds in flight"
                self.lookups.append(action.token)
            elif isinstance(action, co.LoadOracles):
                assert action.token in self.in_flight
                self.outstanding[action.token] = set(action.oracles)
            elif isinstance(action, co.StartTimer):
                self.timers.add(action.token)
            elif isinstance(action, co.CancelTimer):
                self.timers.discard(action.token)
            elif isinstance(action, co.Emit) and isinstance(
                action.event, ScopeRequestCompleted | ScopeRequestTimedOut
            ):
                self.in_flight.discard(action.event.token)
        return plan

    # -- rules --------------------------------------------------------------------------------

    @rule(name=st.sampled_from(sorted(SCOPES)), profile=profiles)
    def change_scope(self, name: str, profile: tuple[str, ...]) -> None:
        scope = SCOPES[name]
        token = f"s:{self.state.counter + 1}"
        self.latest = token
        self.scope_of[token] = scope
        self.apply(co.request_scope_change(self.state, scope, profile, self.now))
        assert self.state.intent == token

    @precondition(lambda self: bool(self.lookups))
    @rule(data=st.data())
    def answer_lookup(self, data: st.DataObject) -> None:
        token = self.lookups.pop(0)
        request = self.state.requests[token]
        hits = data.draw(st.sets(st.sampled_from(request.oracles)))
        results = [cached(token, request.scope, key) for key in sorted(hits)]
        self.apply(co.handle_cache_lookup(self.state, token, results, self.now))

    @precondition(lambda self: any(self.outstanding.values()))
    @rule(data=st.data(), fail=st.booleans())
    def deliver(self, data: st.DataObject, fail: bool) -> None:
        token = data.draw(st.sampled_from(sorted(t for t, k in self.outstanding.items() if k)))
        key = data.draw(st.sampled_from(sorted(self.outstanding[token])))
        self.outstanding[token].discard(key)
        self.delivered.append((token, key))
        self._result(token, key, fail)

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data(), fail=st.booleans())
    def deliver_duplicate(self, data: st.DataObject, fail: bool) -> None:
        token, key = data.draw(st.sampled_from(self.delivered))
        self._result(token, key, fail)

    def _result(self, token: str, key: str, fail: bool) -> None:
        scope = self.scope_of[token]
        result = (failed if fail else loaded)(token, scope, key)
        plan = self.apply(co.handle_oracle_result(self.state, result, self.now))
        writes = [a for a in plan if isinstance(a, co.WriteCache)]
        if fail:
            assert writes == []
        else:  # every completed load is cached, for its own scope
            assert writes == [co.WriteCache(scope, result)]

    @precondition(lambda self: self.latest is not None)
    @rule(number=st.integers(min_value=1, max_value=60), session=st.sampled_from(["s", "x"]))
    def forged_token(self, number: int, session: str) -> None:
        token = f"{session}:{number}"
        if session == "s" and number <= self.state.counter:
            return
        before = self.state
        try:
            co.handle_oracle_result(self.state, loaded(token, A, "class"), self.now)
        except co.TransitionError as exc:
            assert exc.code == "unknown_token"
        else:
            raise AssertionError("a forged token was accepted")
        assert self.state is before

    @precondition(lambda self: bool(self.timers))
    @rule(data=st.data())
    def fire_timer(self, data: st.DataObject) -> None:
        token = data.draw(st.sampled_from(sorted(self.timers)))
        self.timers.discard(token)
        was_active = self.state.active is not None and self.state.active.request.token == token
        had_queue = self.state.queued is not None
        self.now += self.state.build_timeout
        self.lookups = [t for t in self.lookups if t != token]
        self.apply(co.handle_timeout(self.state, token, self.now))
        if was_active:  # the session is ready for the next request
            assert self.state.queued is None
            if had_queue:
                assert self.state.active is not None and self.state.active.stage == "lookup"
            else:
                assert self.state.phase == "idle"

    @precondition(lambda self: self.latest is not None)
    @rule(token_number=st.integers(min_value=1, max_value=40))
    def late_timer(self, token_number: int) -> None:
        if token_number > self.state.counter or f"s:{token_number}" in self.timers:
            return
        before = self.state
        self.apply(co.handle_timeout(self.state, f"s:{token_number}", self.now))
        assert self.state is before

    @rule(seconds=st.floats(min_value=0, max_value=3))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def at_most_one_in_flight_and_one_queued(self) -> None:
        state = getattr(self, "state", None)
        if state is None:
            return
        assert len(self.in_flight) <= 1
        if state.active is None:
            assert state.queued is None
        if state.active is not None:
            assert self.in_flight == {state.active.request.token}

    @invariant()
    def the_latest_intent_wins(self) -> None:
        state = getattr(self, "state", None)
        if state is None or self.latest is None:
            return
        assert state.intent in (None, self.latest)
        if state.phase == "idle":
            assert isinstance(self.last_ui, co.ShowComplete | co.ShowTimeout)
            assert self.last_ui.token == self.latest


TestCoordinatorStateMachine = CoordinatorMachine.TestCase
TestCoordinatorStateMachine.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
