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

The thresholds are a setting of the whole interpreter, so pacing is scoped: it is on only
inside :func:`enabled`. snapkit's own command line turns it on for its runs; in the Python
API it is off unless the host opts in, with ``Project(..., gc_pacing=True)`` or::

    from snapkit.gcpace import enabled

    with enabled():
        project.refresh()

Outside :func:`enabled` (a context variable: the thread or task that entered it, and the
contexts copied from it), :func:`spaced_collections` leaves the thresholds alone.
"""

from __future__ import annotations

import contextlib
import contextvars
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

_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("snapkit_gc_pacing", default=False)
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


def is_enabled() -> bool:
    """Whether :func:`spaced_collections` changes the thresholds here (see :func:`enabled`)."""
    return _enabled.get()


@contextlib.contextmanager
def enabled(on: bool = True) -> Iterator[None]:
    """Turn GC pacing on (or, with ``on=False``, off) for the body, in this context only."""
    token = _enabled.set(on)
    try:
        yield
    finally:
        _enabled.reset(token)


@contextlib.contextmanager
def spaced_collections(young: int = 0, middle: int = 0, old: int = 0) -> Iterator[None]:
    """Run the body with the collector's thresholds raised to at least ``(young, middle,
    old)`` (0: that one as it is) if pacing is :func:`enabled`; see the module docstring."""
    global _base, _applied
    if not _enabled.get():
        yield
        return
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
