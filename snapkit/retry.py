"""Retries with exponential backoff and full jitter, for transient oracle failures only.

A few lines of policy the kernel owns (its dependencies are fixed to five libraries); plugins
that talk HTTP bring their own client-level retries as well.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from attrs import frozen

from snapkit.errors import TransientOracleError

T = TypeVar("T")


@frozen
class RetryPolicy:
    """``attempts`` tries in all; waits grow as ``base * 2**n`` (capped), with full jitter."""

    attempts: int = 3
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Return how long to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        backoff = min(self.cap, self.base * 2 ** (attempt - 1))
        wait = rng.uniform(0, backoff)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait


def is_transient(exc: BaseException, extra: tuple[type[BaseException], ...] = ()) -> bool:
    """Return whether ``exc`` is worth a retry (never a cancellation or an interrupt)."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | InterruptedError):
        return False
    return isinstance(exc, TransientOracleError) or (bool(extra) and isinstance(exc, extra))


def call_with_retries(
    fn: Callable[[int], T],
    policy: RetryPolicy,
    *,
    transient: tuple[type[BaseException], ...] = (),
    sleep: Callable[[float], bool],
    remaining: Callable[[], float],
    rng: random.Random | None = None,
) -> tuple[T, int]:
    """Call ``fn(attempt)`` until it succeeds, retrying transient errors; return its result
    and the number of attempts.

    :param sleep: waits the given seconds; returns ``False`` if cancelled meanwhile.
    :param remaining: seconds left before the deadline; no retry starts past it.
    """
    rng = rng or random.Random()
    attempt = 1
    while True:
        try:
            return fn(attempt), attempt
        except BaseException as exc:
            if attempt >= policy.attempts or not is_transient(exc, transient):
                exc.add_note(f"snapkit: gave up after {attempt} attempt(s)")
                raise
            retry_after = getattr(exc, "retry_after", None)
            wait = policy.delay(attempt, retry_after, rng)
            if wait >= remaining() or not sleep(wait):
                raise
            attempt += 1
