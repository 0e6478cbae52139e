"""The admin endpoint's rate limit: a sliding window of attempts, counted per server.

:func:`admit` is the pure rule; :class:`SlidingWindowLimiter` keeps its state for a server,
thread-safe, with an injectable clock for tests.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from attrs import frozen


@frozen
class Decision:
    """Whether an attempt is admitted; if not, how many seconds until one would be.

    :param kept: the attempt times still inside the window (with this one, if admitted).
    """

    allowed: bool
    retry_after: float
    kept: tuple[float, ...]


def admit(times: tuple[float, ...], now: float, limit: int, window: float) -> Decision:
    """Admit an attempt at ``now`` if fewer than ``limit`` attempts fall in the window
    ``(now - window, now]``; else say when the oldest of them leaves it."""
    kept = tuple(t for t in times if t > now - window)
    if len(kept) < limit:
        return Decision(True, 0.0, (*kept, now))
    # within [0, window]: float rounding may put kept[0] + window - now a hair outside it
    return Decision(False, min(window, max(0.0, kept[0] + window - now)), kept)


class SlidingWindowLimiter:
    """At most ``limit`` attempts in any ``window`` seconds (a minute by default)."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1:
            raise ValueError("the limit must be at least 1")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._times: tuple[float, ...] = ()
        self._lock = threading.Lock()

    def attempt(self) -> float | None:
        """Count an attempt: ``None`` when admitted, else the seconds to wait (rounded up,
        at least 1: the ``Retry-After`` value)."""
        with self._lock:
            decision = admit(self._times, self.clock(), self.limit, self.window)
            self._times = decision.kept
        if decision.allowed:
            return None
        return float(max(1, math.ceil(decision.retry_after)))
