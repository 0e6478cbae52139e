"""The conformance kit every cache backend passes (docs/cache.md), first-party or not.

Subclass :class:`CacheConformance` in a test module (its name must start with ``Test``) and
supply a ``make_cache`` fixture: a function ``make_cache(ttl, capacity)`` that returns a new,
empty backend with that TTL (seconds) and capacity (entries). Backends that take an injectable
clock should also supply ``expire``: ``expire(cache, seconds)`` makes that much time pass for
``cache`` (the default sleeps, which suits a server with its own clock)::

    import pytest
    from snapkit.testing.cache_kit import CacheConformance

    class TestMyCache(CacheConformance):
        @pytest.fixture
        def make_cache(self):
            return lambda ttl, capacity: MyCache(ttl=ttl, capacity=capacity)

What the kit checks: get/put/delete/clear; bytes only (:class:`CacheValueError`); expiry after
the TTL; capacity evicting the least recently used; revisit retention (``touch`` renews the TTL
and the recency of a group's live entries, and only those); miss coalescing (N threads missing
one key run one load and all get its value); a failing loader propagates and caches nothing;
and the oracle cache (:class:`snapkit.cache.OracleCache`) round-tripping results over the
backend. Time-based checks only assert what holds after TTL plus a margin; a backend on a real
clock may raise ``real_ttl`` (the TTL the retention check uses) on a slow machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from snapkit.cache import (
    CacheBackend,
    CacheValueError,
    OracleCache,
    cache_key,
    container_group,
)
from snapkit.canonical import sha256_hex
from snapkit.contracts import OracleResult, PartRef, Scope

MakeCache = Callable[[float, int], CacheBackend]
Expire = Callable[[CacheBackend, float], None]

LONG_TTL = 3600.0


class CacheConformance:
    """Behaviour every cache backend must have (see the module docstring)."""

    short_ttl: float = 0.5
    """TTL of the expiry check (seconds)."""
    real_ttl: float = 3.0
    """TTL of the revisit-retention check (seconds); fake clocks make it instant."""
    margin: float = 0.3
    """Extra time the expiry checks wait past the TTL."""
    concurrency: int = 8
    """Threads racing on one missing key in the coalescing check."""

    @pytest.fixture
    def make_cache(self) -> MakeCache:
        """Override: return ``make_cache(ttl, capacity) -> a new, empty backend``."""
        pytest.fail(
            "define a make_cache fixture: make_cache(ttl, capacity) -> a new, empty backend"
        )

    @pytest.fixture
    def expire(self) -> Expire:
        return lambda cache, seconds: time.sleep(seconds)

    @pytest.fixture
    def cache(self, make_cache: MakeCache) -> CacheBackend:
        return make_cache(LONG_TTL, 100)

    # -- basics ----------------------------------------------------------------------------

    def test_backend_implements_the_protocol(self, cache: CacheBackend) -> None:
        assert isinstance(cache, CacheBackend)

    def test_get_of_a_missing_key_is_none(self, cache: CacheBackend) -> None:
        assert cache.get("missing") is None

    def test_put_then_get_returns_the_same_bytes(self, cache: CacheBackend) -> None:
        value = bytes(range(256)) + "é\n".encode()
        cache.put("k:1", value, group="g")
        assert cache.get("k:1") == value

    def test_put_replaces_the_value(self, cache: CacheBackend) -> None:
        cache.put("k", b"one", group="g")
        cache.put("k", b"two", group="g")
        assert cache.get("k") == b"two"

    def test_keys_are_opaque_strings(self, cache: CacheBackend) -> None:
        keys = ["a:b:c", "spaces in key", "ünïcödé", "*glob?[x]", "x" * 300]
        for i, key in enumerate(keys):
            cache.put(key, str(i).encode(), group="g")
        assert [cache.get(key) for key in keys] == [str(i).encode() for i in range(len(keys))]

    def test_put_refuses_a_value_that_is_not_bytes(self, cache: CacheBackend) -> None:
        with pytest.raises(CacheValueError, match="bytes"):
            cache.put("k", "text", group="g")  # type: ignore[arg-type]
        assert cache.get("k") is None

    def test_delete_removes_one_key(self, cache: CacheBackend) -> None:
        cache.put("a", b"1", group="g")
        cache.put("b", b"2", group="g")
        assert cache.delete("a") is True
        assert cache.delete("a") is False
        assert (cache.get("a"), cache.get("b")) == (None, b"2")

    def test_clear_removes_everything(self, cache: CacheBackend) -> None:
        for i in range(5):
            cache.put(f"k{i}", b"v", group=f"g{i % 2}")
        cache.clear()
        assert all(cache.get(f"k{i}") is None for i in range(5))
        assert cache.touch("g0") == 0

    # -- TTL ---------------------------------------------------------------------------------

    def test_an_entry_expires_after_its_ttl(self, make_cache: MakeCache, expire: Expire) -> None:
        cache = make_cache(self.short_ttl, 100)
        cache.put("k", b"v", group="g")
        expire(cache, self.short_ttl + self.margin)
        assert cache.get("k") is None

    def test_an_expired_entry_is_not_renewed_by_touch(
        self, make_cache: MakeCache, expire: Expire
    ) -> None:
        cache = make_cache(self.short_ttl, 100)
        cache.put("k", b"v", group="g")
        expire(cache, self.short_ttl + self.margin)
        assert cache.touch("g") == 0
        assert cache.get("k") is None

    # -- capacity ----------------------------------------------------------------------------

    def test_capacity_evicts_the_least_recently_used(self, make_cache: MakeCache) -> None:
        cache = make_cache(LONG_TTL, 3)
        for key in ("k1", "k2", "k3"):
            cache.put(key, key.encode(), group="g")
        assert cache.get("k1") == b"k1"  # k1 is now more recent than k2 and k3
        cache.put("k4", b"k4", group="g")
        live = [key for key in ("k1", "k2", "k3", "k4") if cache.get(key) is not None]
        assert live == ["k1", "k3", "k4"]

    def test_capacity_is_never_exceeded(self, make_cache: MakeCache) -> None:
        cache = make_cache(LONG_TTL, 5)
        for i in range(40):
            cache.put(f"k{i}", b"v", group=f"g{i % 3}")
        live = [i for i in range(40) if cache.get(f"k{i}") is not None]
        assert live == list(range(35, 40))

    # -- revisit retention -------------------------------------------------------------------

    def test_touch_renews_the_recency_of_a_groups_entries(self, make_cache: MakeCache) -> None:
        cache = make_cache(LONG_TTL, 3)
        cache.put("a", b"a", group="revisited")
        cache.put("b", b"b", group="other")
        cache.put("c", b"c", group="other")
        assert cache.touch("revisited") == 1  # "a" is now the most recently used
        cache.put("d", b"d", group="other")
        assert [k for k in "abcd" if cache.get(k) is not None] == ["a", "c", "d"]

    def test_touch_renews_the_ttl_of_a_groups_entries_only(
        self, make_cache: MakeCache, expire: Expire
    ) -> None:
        ttl = self.real_ttl
        cache = make_cache(ttl, 100)
        cache.put("kept", b"1", group="revisited")
        cache.put("also kept", b"2", group="revisited")
        cache.put("left", b"3", group="other")
        expire(cache, ttl * 0.6)
        assert cache.touch("revisited") == 2
        expire(cache, ttl * 0.6)  # past the TTL of the first writes, within the touch's
        assert cache.get("left") is None
        assert (cache.get("kept"), cache.get("also kept")) == (b"1", b"2")
        expire(cache, ttl + self.margin)
        assert cache.get("kept") is None

    def test_touch_counts_live_members_only(self, cache: CacheBackend) -> None:
        assert cache.touch("nobody") == 0
        cache.put("a", b"1", group="g")
        cache.put("b", b"2", group="g")
        cache.delete("a")
        assert cache.touch("g") == 1

    def test_a_key_written_again_moves_to_its_new_group(self, cache: CacheBackend) -> None:
        cache.put("k", b"1", group="old")
        cache.put("k", b"2", group="new")
        assert cache.touch("new") == 1

    # -- coalescing --------------------------------------------------------------------------

    def test_get_or_load_on_a_hit_does_not_load(self, cache: CacheBackend) -> None:
        cache.put("k", b"cached", group="g")
        outcome = cache.get_or_load("k", _fail_if_called, group="g")
        assert (outcome.value, outcome.loaded) == (b"cached", False)

    def test_get_or_load_on_a_miss_loads_and_stores(self, cache: CacheBackend) -> None:
        outcome = cache.get_or_load("k", lambda: b"fresh", group="g")
        assert (outcome.value, outcome.loaded) == (b"fresh", True)
        assert cache.get("k") == b"fresh"
        assert cache.touch("g") == 1

    def test_concurrent_misses_on_one_key_run_one_load(self, cache: CacheBackend) -> None:
        n = self.concurrency
        loads: list[int] = []
        lock = threading.Lock()
        release = threading.Event()

        def loader() -> bytes:
            with lock:
                loads.append(1)
            # hold the load open while the others miss too (if one arrives later, it hits:
            # either way, exactly one load runs)
            release.wait(0.5)
            return b"value"

        barrier = threading.Barrier(n)
        outcomes: list[Any] = [None] * n
        errors: list[BaseException] = []

        def worker(i: int) -> None:
            try:
                barrier.wait()
                outcomes[i] = cache.get_or_load("shared", loader, group="g")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        release.set()
        assert not errors
        assert len(loads) == 1
        assert [o.value for o in outcomes] == [b"value"] * n
        assert sum(o.loaded for o in outcomes) == 1

    def test_misses_on_different_keys_load_each(self, cache: CacheBackend) -> None:
        calls: list[str] = []

        def loader_of(key: str) -> Callable[[], bytes]:
            def load() -> bytes:
                calls.append(key)
                return key.encode()

            return load

        for key in ("a", "b", "a"):
            cache.get_or_load(key, loader_of(key), group="g")
        assert calls == ["a", "b"]

    def test_a_failing_load_propagates_and_caches_nothing(self, cache: CacheBackend) -> None:
        def broken() -> bytes:
            raise RuntimeError("source down")

        with pytest.raises(RuntimeError, match="source down"):
            cache.get_or_load("k", broken, group="g")
        assert cache.get("k") is None
        outcome = cache.get_or_load("k", lambda: b"later", group="g")
        assert (outcome.value, outcome.loaded) == (b"later", True)

    def test_a_load_with_nothing_to_cache_stores_nothing(self, cache: CacheBackend) -> None:
        outcome = cache.get_or_load("k", lambda: None, group="g")
        assert (outcome.value, outcome.loaded) == (None, True)
        assert cache.get("k") is None

    def test_a_loader_returning_text_is_refused(self, cache: CacheBackend) -> None:
        with pytest.raises(CacheValueError):
            cache.get_or_load("k", lambda: "text", group="g")  # type: ignore[arg-type,return-value]
        assert cache.get("k") is None

    # -- the oracle cache over this backend ------------------------------------------------

    def test_oracle_results_round_trip_through_the_backend(self, cache: CacheBackend) -> None:
        oracles = OracleCache(cache)
        scope = Scope("district", "class-1", "unit-2", {"threshold": 0.5})
        lines = b'{"id":"s1"}\n{"id":"s2"}\n'
        part = PartRef("roster", sha256_hex(lines), 2, len(lines), "roster", "id")
        small = OracleResult("class", "3", scope.id, "t1", "ok", "loaded", payload={"n": 1})
        records = OracleResult("roster", "2", scope.id, "t1", "ok", "loaded", part=part)
        assert oracles.write(scope, small)
        assert oracles.write(scope, records, lines)
        hits = oracles.lookup(scope, {"class": "3", "roster": "2", "results": "1"}, "t9")
        assert sorted(hits) == ["class", "roster"]
        assert hits["class"].result == OracleResult(
            "class", "3", scope.id, "t9", "ok", "cache", payload={"n": 1}
        )
        assert hits["roster"].result.part == part
        assert hits["roster"].part_data == lines
        assert oracles.lookup(scope, {"class": "4"}) == {}  # a new version misses
        assert oracles.touch(scope) == 2
        assert cache.get(cache_key(scope, "class", "3")) is not None
        assert container_group(scope) == container_group(
            Scope("district", "class-1", "unit-2", {"threshold": 0.9})
        )

    def test_the_oracle_cache_writes_loaded_results_of_its_scope_only(
        self, cache: CacheBackend
    ) -> None:
        oracles = OracleCache(cache)
        scope, other = Scope("d", "class-1"), Scope("d", "class-2")
        failed = OracleResult("class", "1", scope.id, "t1", "failed", "error")
        foreign = OracleResult("class", "1", other.id, "t1", "ok", "loaded", payload=1)
        lines = b'{"id":"s1"}\n'
        part = PartRef("roster", sha256_hex(lines), 1, len(lines), "roster")
        records = OracleResult("roster", "1", scope.id, "t1", "ok", "loaded", part=part)
        assert not oracles.write(scope, failed)
        assert not oracles.write(scope, foreign)
        assert not oracles.write(scope, records)  # a record stream needs its bytes
        assert not oracles.write(scope, records, b'{"id":"tampered"}\n')
        assert oracles.lookup(scope, {"class": "1", "roster": "1"}) == {}


def _fail_if_called() -> bytes:
    raise AssertionError("the loader ran on a cache hit")
