"""Faults the local OneRoster server can inject, and the counters that spend them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0")


@attrs.frozen(kw_only=True)
class Faults:
    """What the server does wrong, on purpose. All off by default.

    :param rate_limit: answer the next N API requests with 429 and ``Retry-After``.
    :param retry_after: the seconds sent in ``Retry-After``.
    :param server_errors: answer the next N API requests with 500.
    :param server_errors_always: answer every API request with 500.
    :param delay: seconds to wait before answering each API request.
    :param truncate: cut the next N API response bodies short (the connection closes early).
    :param truncate_always: cut every API response body short.
    :param omit_total_count: leave out the ``X-Total-Count`` header.
    :param role_filter_cap: when set, a query that selects users by role (a ``role`` filter,
        or ``/students``, ``/teachers``) returns at most this many records and reports that
        as its total, like a known provider bug (1,000).
    """

    rate_limit: int = attrs.field(default=0, validator=_non_negative)
    retry_after: int = attrs.field(default=1, validator=_non_negative)
    server_errors: int = attrs.field(default=0, validator=_non_negative)
    server_errors_always: bool = False
    delay: float = attrs.field(default=0.0, validator=_non_negative)
    truncate: int = attrs.field(default=0, validator=_non_negative)
    truncate_always: bool = False
    omit_total_count: bool = False
    role_filter_cap: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        """Faults from a JSON object; unknown keys are an error.

        :raises ValueError: naming the unknown key or the bad value.
        """
        known = {a.name for a in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """The faults as a JSON object."""
        return attrs.asdict(self)


class FaultCounter:
    """Spends the counted faults (first N requests) of a :class:`Faults`, thread-safely."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.reset(faults)

    def reset(self, faults: Faults) -> None:
        """Start over with new faults; the counts begin again."""
        with self._lock:
            self.faults = faults
            self._left = {
                "rate_limit": faults.rate_limit,
                "server_errors": faults.server_errors,
                "truncate": faults.truncate,
            }

    def take(self, name: str) -> bool:
        """Whether the counted fault ``name`` applies to this request (and spend one)."""
        with self._lock:
            if self._left[name] > 0:
                self._left[name] -= 1
                return True
            return False

    def remaining(self) -> dict[str, int]:
        """How many of each counted fault are left."""
        with self._lock:
            return dict(self._left)
