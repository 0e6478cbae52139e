"""The redis backend beyond the kit: coalescing across separate clients (as separate processes
would be), an unreachable server, and the test server helper itself."""

from __future__ import annotations

import threading

import pytest
import redis

from snapkit.cache import CacheUnavailableError
from snapkit_cache.redis_backend import RedisCache
from snapkit_cache.testing import RedisServer, free_port


def test_misses_from_separate_clients_run_one_load(redis_server, redis_namespace):
    n = 6
    clients = [RedisCache(url=redis_server.url, namespace=redis_namespace) for _ in range(n)]
    counter = redis.Redis.from_url(redis_server.url)
    counter_key = f"{redis_namespace}:test-loads"
    barrier = threading.Barrier(n)
    values: list[bytes | None] = []

    def loader() -> bytes:
        counter.incr(counter_key)
        threading.Event().wait(0.3)  # hold the lock while the other clients miss
        return b"shared"

    def worker(cache: RedisCache) -> None:
        barrier.wait()
        values.append(cache.get_or_load("k", loader, group="g").value)

    threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert values == [b"shared"] * n
    assert int(counter.get(counter_key)) == 1
    assert not counter.exists(f"{redis_namespace}:lock:k")  # released by its holder
    for cache in clients:
        cache.close()
    counter.close()


def test_a_failed_load_releases_the_lock_for_the_next_client(redis_server, redis_namespace):
    first = RedisCache(url=redis_server.url, namespace=redis_namespace)
    second = RedisCache(url=redis_server.url, namespace=redis_namespace)

    def broken() -> bytes:
        raise RuntimeError("source down")

    with pytest.raises(RuntimeError):
        first.get_or_load("k", broken, group="g")
    outcome = second.get_or_load("k", lambda: b"ok", group="g")
    assert (outcome.value, outcome.loaded) == (b"ok", True)
    first.close()
    second.close()


def test_an_unreachable_server_is_a_cache_unavailable_error_without_the_password():
    cache = RedisCache(url=f"redis://user:s3cret@127.0.0.1:{free_port()}/0", socket_timeout=1)
    with pytest.raises(CacheUnavailableError) as info:
        cache.get("k")
    message = str(info.value)
    assert "s3cret" not in message and "127.0.0.1" in message
    assert "Redis server is running" in message
    cache.close()


def test_the_cache_only_clears_its_own_namespace(redis_server, redis_namespace):
    mine = RedisCache(url=redis_server.url, namespace=f"{redis_namespace}:a")
    other = RedisCache(url=redis_server.url, namespace=f"{redis_namespace}:b")
    mine.put("k", b"1", group="g")
    other.put("k", b"2", group="g")
    mine.clear()
    assert (mine.get("k"), other.get("k")) == (None, b"2")
    mine.close()
    other.close()


def test_a_missing_redis_server_binary_fails_loudly(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="apt-get install -y redis-server"):
        RedisServer()


def test_the_test_server_stops_and_leaves_nothing(redis_server):
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()
        folder = server._dir.name
    import os

    assert not os.path.exists(folder)
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(server.url, socket_connect_timeout=1).ping()
