"""The admin endpoint's pieces as pure functions: the sliding-window rate limit, the token's
source and minimum length, and the bearer check."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from snapkit.errors import ConfigError
from snapkit.serve.auth import MIN_TOKEN_LENGTH, check_bearer, resolve_token
from snapkit.serve.ratelimit import SlidingWindowLimiter, admit

TOKEN = "x" * MIN_TOKEN_LENGTH


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_admits_n_attempts_a_window_then_says_when_to_retry() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, 60.0, clock)
    for _ in range(3):
        assert limiter.attempt() is None
        clock.now += 10
    assert limiter.attempt() == 30.0  # at 1030: the one of 1000 leaves at 1060
    clock.now += 30.5  # 1060.5: the first attempt has left the window
    assert limiter.attempt() is None
    assert limiter.attempt() == 10.0  # rounded up: the one of 1010 leaves at 1070


def test_the_window_slides_rather_than_resets() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(2, 60.0, clock)
    limiter.attempt()
    clock.now += 59
    limiter.attempt()
    clock.now += 2  # a fixed per-minute bucket would admit two more here
    assert limiter.attempt() is None
    assert limiter.attempt() == 58.0  # the one of 1059 leaves at 1119


@given(
    st.lists(st.floats(min_value=0, max_value=600, allow_nan=False), max_size=60),
    st.integers(min_value=1, max_value=10),
)
@example(gaps=[196.62042828889773, 0.0], limit=1)  # rounding once put the wait at 60.00000000000003
def test_never_more_than_the_limit_in_any_window(gaps, limit) -> None:
    times: tuple[float, ...] = ()
    admitted: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        decision = admit(times, now, limit, 60.0)
        times = decision.kept
        if decision.allowed:
            admitted.append(now)
        else:
            assert 0 <= decision.retry_after <= 60.0
    for t in admitted:
        assert sum(1 for u in admitted if t - 60.0 < u <= t) <= limit


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0)


def test_the_token_comes_from_the_config_then_the_environment() -> None:
    other = "y" * 40
    assert resolve_token(TOKEN, {"SNAPKIT_SERVE_TOKEN": other}) == TOKEN
    assert resolve_token(None, {"SNAPKIT_SERVE_TOKEN": other}) == other
    assert resolve_token(None, {}) is None


@pytest.mark.parametrize(
    "configured, environ", [("s" * 31, {}), (None, {"SNAPKIT_SERVE_TOKEN": "short"})]
)
def test_a_short_token_is_a_config_error_that_does_not_show_it(configured, environ) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_token(configured, environ)
    token = configured or environ["SNAPKIT_SERVE_TOKEN"]
    assert token not in str(caught.value)
    assert "at least 32" in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize(
    "header, verdict",
    [
        (None, "missing"),
        ("", "missing"),
        ("Bearer", "missing"),
        ("Basic abc", "missing"),
        (f"Bearer {TOKEN}", "ok"),
        (f"bearer  {TOKEN} ", "ok"),
        (f"Bearer {TOKEN}x", "wrong"),
        ("Bearer " + "x" * (MIN_TOKEN_LENGTH - 1), "wrong"),
        ("Bearer é", "wrong"),
    ],
)
def test_the_bearer_check(header, verdict) -> None:
    assert check_bearer(header, TOKEN) == verdict
