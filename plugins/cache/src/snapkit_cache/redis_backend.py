"""The ``redis`` cache backend: entries shared by every process that uses one Redis server.

Layout under the ``namespace`` prefix ``P`` (default ``snapkit:cache``):

================  =====================================================================
``P:v:<key>``     the value; expires by ``PX`` (``ttl``)
``P:lru``         a sorted set of live keys scored by a counter (``P:clock``): the recency
                  order capacity evicts by (lowest score first)
``P:g:<group>``   a set of the keys of one container, for revisit retention (``touch``)
``P:lock:<key>``  a short lock (``SET NX PX lock_timeout``) held while one process loads a
                  missing key: miss coalescing across processes
================  =====================================================================

Capacity is counted by this backend (the sorted set), not by ``maxmemory-policy``: a server
shared with other data keeps its own policy, and the count is exact and testable. Keys that
expired by TTL leave a member in ``P:lru`` until it is popped (expired members are the oldest,
so they go first); ``get`` removes a member whose value is gone. Every write path is one Lua
script, so concurrent writers never leave the set and the values disagreeing. The scripts
compute key names from the prefix, so the backend needs a single Redis node (not a cluster).

Within one process, concurrent misses on a key also share one in-process future, so N threads
make one lock attempt; other processes wait on the lock, polling for the value, and load
themselves only if the lock holder goes away without storing one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from snapkit.cache import CacheUnavailableError, Loaded, Loader, require_bytes

DEFAULT_TTL = 300.0
DEFAULT_CAPACITY = 1024
DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_NAMESPACE = "snapkit:cache"
DEFAULT_LOCK_TIMEOUT = 30.0

_GET = """
local value = redis.call('GET', ARGV[1] .. ':v:' .. ARGV[2])
if value then
  redis.call('ZADD', ARGV[1] .. ':lru', redis.call('INCR', ARGV[1] .. ':clock'), ARGV[2])
else
  redis.call('ZREM', ARGV[1] .. ':lru', ARGV[2])
end
return value
"""

_PUT = """
local p, key, value, ttl, group = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local capacity = tonumber(ARGV[6])
redis.call('SET', p .. ':v:' .. key, value, 'PX', ttl)
redis.call('ZADD', p .. ':lru', redis.call('INCR', p .. ':clock'), key)
redis.call('SADD', p .. ':g:' .. group, key)
redis.call('PEXPIRE', p .. ':g:' .. group, ttl)
local excess = redis.call('ZCARD', p .. ':lru') - capacity
if excess > 0 then
  local popped = redis.call('ZPOPMIN', p .. ':lru', excess)
  for i = 1, #popped, 2 do
    redis.call('DEL', p .. ':v:' .. popped[i])
  end
end
return 1
"""

_TOUCH = """
local p, group, ttl = ARGV[1], ARGV[2], ARGV[3]
local members = redis.call('SMEMBERS', p .. ':g:' .. group)
local renewed = 0
table.sort(members)
for _, key in ipairs(members) do
  if redis.call('PEXPIRE', p .. ':v:' .. key, ttl) == 1 then
    redis.call('ZADD', p .. ':lru', redis.call('INCR', p .. ':clock'), key)
    renewed = renewed + 1
  else
    redis.call('SREM', p .. ':g:' .. group, key)
    redis.call('ZREM', p .. ':lru', key)
  end
end
if renewed > 0 then
  redis.call('PEXPIRE', p .. ':g:' .. group, ttl)
end
return renewed
"""

_DELETE = """
redis.call('ZREM', ARGV[1] .. ':lru', ARGV[2])
return redis.call('DEL', ARGV[1] .. ':v:' .. ARGV[2])
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisCache:
    """A cache backend on a Redis server (see the module docstring)."""

    def __init__(
        self,
        *,
        url: str = DEFAULT_URL,
        ttl: float = DEFAULT_TTL,
        capacity: int = DEFAULT_CAPACITY,
        namespace: str = DEFAULT_NAMESPACE,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        socket_timeout: float = 5.0,
        client: Any = None,
    ) -> None:
        import redis

        self.url = url
        self.ttl = float(ttl)
        self.capacity = int(capacity)
        self.prefix = namespace
        self.lock_timeout = float(lock_timeout)
        self._redis = redis
        self._client = client or redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._get = self._client.register_script(_GET)
        self._put = self._client.register_script(_PUT)
        self._touch = self._client.register_script(_TOUCH)
        self._delete = self._client.register_script(_DELETE)
        self._release = self._client.register_script(_RELEASE)
        self._lock = threading.Lock()
        self._loading: dict[str, Future[bytes | None]] = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RedisCache:
        """Build from validated ``[cache]`` settings."""
        return cls(
            url=settings.get("url", DEFAULT_URL),
            ttl=settings.get("ttl", DEFAULT_TTL),
            capacity=settings.get("capacity", DEFAULT_CAPACITY),
            namespace=settings.get("namespace", DEFAULT_NAMESPACE),
            lock_timeout=settings.get("lock_timeout", DEFAULT_LOCK_TIMEOUT),
            socket_timeout=settings.get("socket_timeout", 5.0),
        )

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._redis.exceptions.ConnectionError as exc:
            raise CacheUnavailableError(
                f"redis cache: cannot {what}: {type(exc).__name__} ({self._where()})",
                hint="check that the Redis server is running and [cache] url points at it",
            ) from None
        except self._redis.exceptions.TimeoutError:
            raise CacheUnavailableError(
                f"redis cache: {what} timed out ({self._where()})",
                hint="check the server's load or raise [cache] socket_timeout",
            ) from None
        except self._redis.exceptions.RedisError as exc:
            raise CacheUnavailableError(
                f"redis cache: cannot {what}: {type(exc).__name__} ({self._where()})"
            ) from None

    def _where(self) -> str:
        # the URL without credentials
        rest = self.url.split("@", 1)[-1]
        return rest if "://" in rest else self.url.split("://", 1)[0] + "://" + rest

    def get(self, key: str) -> bytes | None:
        value: bytes | None = self._call("read", self._get, args=[self.prefix, key])
        return value

    def put(self, key: str, value: bytes, *, group: str) -> None:
        value = require_bytes(value)
        self._call(
            "write", self._put, args=[self.prefix, key, value, self._ttl_ms, group, self.capacity]
        )

    def get_or_load(self, key: str, loader: Loader, *, group: str) -> Loaded:
        value = self.get(key)
        if value is not None:
            return Loaded(value, False)
        with self._lock:
            future = self._loading.get(key)
            leader = future is None
            if future is None:
                future = Future()
                self._loading[key] = future
        if not leader:
            return Loaded(future.result(), False)
        try:
            outcome = self._load_across_processes(key, loader, group)
        except BaseException as exc:
            with self._lock:
                del self._loading[key]
            future.set_exception(exc)
            raise
        with self._lock:
            del self._loading[key]
        future.set_result(outcome.value)
        return outcome

    def _load_across_processes(self, key: str, loader: Loader, group: str) -> Loaded:
        lock_key = f"{self.prefix}:lock:{key}"
        lock_ms = max(1, int(self.lock_timeout * 1000))
        token = uuid.uuid4().hex
        give_up = time.monotonic() + 2 * self.lock_timeout
        pause = 0.002
        while True:
            if self._call("lock", self._client.set, lock_key, token, nx=True, px=lock_ms):
                try:
                    value = self.get(key)  # stored while we waited for the lock?
                    if value is not None:
                        return Loaded(value, False)
                    loaded = loader()
                    if loaded is not None:
                        loaded = require_bytes(loaded)
                        self.put(key, loaded, group=group)
                    return Loaded(loaded, True)
                finally:
                    self._call("unlock", self._release, keys=[lock_key], args=[token])
            value = self.get(key)
            if value is not None:
                return Loaded(value, False)
            if time.monotonic() > give_up:  # the holder is stuck: load without the lock
                loaded = loader()
                if loaded is not None:
                    loaded = require_bytes(loaded)
                    self.put(key, loaded, group=group)
                return Loaded(loaded, True)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def touch(self, group: str) -> int:
        renewed: int = self._call("touch", self._touch, args=[self.prefix, group, self._ttl_ms])
        return int(renewed)

    def delete(self, key: str) -> bool:
        return bool(self._call("delete", self._delete, args=[self.prefix, key]))

    def clear(self) -> None:
        def scan_delete() -> None:
            batch = []
            for name in self._client.scan_iter(match=f"{self.prefix}:*", count=500):
                batch.append(name)
                if len(batch) >= 500:
                    self._client.delete(*batch)
                    batch.clear()
            if batch:
                self._client.delete(*batch)

        self._call("clear", scan_delete)

    def close(self) -> None:
        self._client.close()

    def __len__(self) -> int:
        count: int = self._call("count", self._client.zcard, f"{self.prefix}:lru")
        return count
