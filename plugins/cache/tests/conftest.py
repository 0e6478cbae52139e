"""Fixtures of the cache backends' tests: one real redis-server for the session."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from snapkit_cache.testing import RedisServer

_names = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server process on a free loopback port (a missing binary fails the tests)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_namespace() -> str:
    """A key prefix no other test uses."""
    return f"test{next(_names)}:cache"
