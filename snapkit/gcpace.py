"""Pacing CPython's garbage collector while snapkit works through large data.

Refreshes and derivations build many container objects (decoded records, lists of
thousands of values) that reference counting frees; CPython's collector still walks them
after every few hundred allocations, and walks the whole process every few dozen walks.
While one of them runs, :func:`spaced_collections` raises the collector's thresholds to at
least what it asks for (the collector keeps running, less often; cyclic garbage is still
found). Concurrent users share one setting, the highest of their requests; the thresholds
in place before the first user come back when the last one ends, unless someone changed
them meanwhile (their setting is then kept). A host that disabled collection with a
zero first threshold keeps it disabled.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

FULL_COLLECTION_EVERY = 100
"""While a refresh runs, the oldest generation is collected after this many collections of
the middle one at the least (CPython's default is 10)."""

YOUNG_COLLECTION_EVERY = 100_000
"""While a derivation runs, the youngest generation is collected after this many
allocations of container objects at the least (CPython's default is 700)."""

Thresholds = tuple[int, int, int]

_lock = threading.Lock()
_requests: list[Thresholds] = []
_base: Thresholds | None = None
_applied: Thresholds | None = None


def _apply() -> None:
    global _applied
    assert _base is not None
    target = tuple(max(values) for values in zip(_base, *_requests))
    if _base[0] == 0:  # collection disabled by the host: left so
        target = (0, *target[1:])
    gc.set_threshold(*target)
    _applied = gc.get_threshold()


@contextlib.contextmanager
def spaced_collections(young: int = 0, middle: int = 0, old: int = 0) -> Iterator[None]:
    """Run the body with the collector's thresholds raised to at least ``(young, middle,
    old)`` (0: that one as it is); see the module docstring."""
    global _base, _applied
    request = (young, middle, old)
    with _lock:
        current = gc.get_threshold()
        if not _requests or current != _applied:  # first user, or changed meanwhile
            _base = current
        _requests.append(request)
        _apply()
    try:
        yield
    finally:
        with _lock:
            _requests.remove(request)
            current = gc.get_threshold()
            if current != _applied:  # someone changed them meanwhile: theirs is kept
                _base = current
                if _requests:
                    _apply()
            elif _requests:
                _apply()
            else:
                assert _base is not None
                gc.set_threshold(*_base)
            if not _requests:
                _base = _applied = None
