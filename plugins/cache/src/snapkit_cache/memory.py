"""The ``memory`` cache backend: one process, cachetools' TTL + LRU cache, locks.

- TTL and capacity: a :class:`cachetools.TTLCache` (entries expire ``ttl`` seconds after their
  last write or touch; beyond ``capacity`` the least recently used goes first);
- revisit retention: a set of keys per group; :meth:`touch` re-stores every live member, which
  renews its TTL and recency;
- miss coalescing: one :class:`concurrent.futures.Future` per key being loaded; concurrent
  misses wait on it, so N threads missing one key run the loader once.

The clock is injectable (``timer``) so tests make time pass without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from cachetools import TTLCache

from snapkit.cache import Loaded, Loader, require_bytes

DEFAULT_TTL = 300.0
DEFAULT_CAPACITY = 1024


class MemoryCache:
    """An in-process cache backend (see the module docstring)."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        capacity: int = DEFAULT_CAPACITY,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = float(ttl)
        self.capacity = int(capacity)
        self._entries: TTLCache[str, bytes] = TTLCache(
            maxsize=self.capacity, ttl=self.ttl, timer=timer
        )
        self._group_of: dict[str, str] = {}
        self._groups: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, Future[bytes | None]] = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MemoryCache:
        """Build from validated ``[cache]`` settings (``ttl``, ``capacity``)."""
        return cls(
            ttl=settings.get("ttl", DEFAULT_TTL),
            capacity=settings.get("capacity", DEFAULT_CAPACITY),
        )

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, value: bytes, *, group: str) -> None:
        value = require_bytes(value)
        with self._lock:
            self._entries[key] = value
            previous = self._group_of.get(key)
            if previous is not None and previous != group:
                self._groups.get(previous, set()).discard(key)
            self._group_of[key] = group
            self._groups.setdefault(group, set()).add(key)
            if len(self._group_of) > 2 * self.capacity:
                self._forget_dead()

    def get_or_load(self, key: str, loader: Loader, *, group: str) -> Loaded:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                return Loaded(value, False)
            future = self._loading.get(key)
            leader = future is None
            if future is None:
                future = Future()
                self._loading[key] = future
        if not leader:
            return Loaded(future.result(), False)
        try:
            loaded = loader()
            if loaded is not None:
                loaded = require_bytes(loaded)
                self.put(key, loaded, group=group)
        except BaseException as exc:
            with self._lock:
                del self._loading[key]
            future.set_exception(exc)
            raise
        with self._lock:
            del self._loading[key]
        future.set_result(loaded)
        return Loaded(loaded, True)

    def touch(self, group: str) -> int:
        with self._lock:
            members = self._groups.get(group, set())
            renewed = 0
            for key in sorted(members):
                value = self._entries.get(key)
                if value is None:
                    members.discard(key)
                    self._group_of.pop(key, None)
                    continue
                self._entries[key] = value  # re-storing renews the TTL and the recency
                renewed += 1
            if not members:
                self._groups.pop(group, None)
            return renewed

    def delete(self, key: str) -> bool:
        with self._lock:
            group = self._group_of.pop(key, None)
            if group is not None:
                self._groups.get(group, set()).discard(key)
            return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._group_of.clear()
            self._groups.clear()

    def close(self) -> None:
        self.clear()

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def _forget_dead(self) -> None:
        """Drop group bookkeeping of keys that expired or were evicted."""
        self._entries.expire()
        for key in [k for k in self._group_of if k not in self._entries]:
            group = self._group_of.pop(key)
            members = self._groups.get(group)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._groups[group]
