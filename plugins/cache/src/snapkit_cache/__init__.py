"""snapkit cache backends: ``memory`` (in-process, cachetools) and ``redis`` (redis-py).

Both implement :class:`snapkit.cache.CacheBackend` and pass the cache conformance kit
(:mod:`snapkit.testing.cache_kit`). Importing this package is cheap: cachetools and redis load
with the backend that needs them.
"""

from __future__ import annotations

__all__ = ["MemoryCache", "RedisCache"]


def __getattr__(name: str) -> object:
    if name == "MemoryCache":
        from snapkit_cache.memory import MemoryCache

        return MemoryCache
    if name == "RedisCache":
        from snapkit_cache.redis_backend import RedisCache

        return RedisCache
    raise AttributeError(name)
