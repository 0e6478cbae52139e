"""Both backends pass the whole cache conformance kit (redis against a real server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from snapkit.testing.cache_kit import CacheConformance
from snapkit_cache.memory import MemoryCache
from snapkit_cache.redis_backend import RedisCache
from snapkit_cache.testing import FakeClock


class TestMemoryCacheConformance(CacheConformance):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def make_cache(self, clock):
        return lambda ttl, capacity: MemoryCache(ttl=ttl, capacity=capacity, timer=clock)

    @pytest.fixture
    def expire(self, clock):
        return lambda cache, seconds: clock.advance(seconds)


class TestRedisCacheConformance(CacheConformance):
    @pytest.fixture
    def make_cache(self, redis_server, redis_namespace) -> Iterator:
        made: list[RedisCache] = []

        def make(ttl: float, capacity: int) -> RedisCache:
            cache = RedisCache(
                url=redis_server.url,
                ttl=ttl,
                capacity=capacity,
                namespace=f"{redis_namespace}{len(made)}",
            )
            made.append(cache)
            return cache

        yield make
        for cache in made:
            cache.clear()
            cache.close()
