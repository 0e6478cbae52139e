"""Fixtures for the object store's tests: one moto S3 server for the session, a bucket each."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from snapkit_object_store.store import ObjectStore
from snapkit_object_store.testing import MotoServer, open_store


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto S3 server on loopback for the whole session (a missing moto fails, never skips)."""
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bucket(moto_server: MotoServer) -> str:
    return moto_server.make_bucket()


@pytest.fixture
def open_at(moto_server: MotoServer, bucket: str) -> Callable[[Path], ObjectStore]:
    """``open_at(path)``: the store whose prefix is named after ``path`` (same path, same store)."""
    run = uuid.uuid4().hex[:8]
    return lambda path: open_store(moto_server.endpoint_url, bucket, f"{run}{path}")


@pytest.fixture
def store(open_at: Callable[[Path], ObjectStore], tmp_path: Path) -> ObjectStore:
    return open_at(tmp_path / "store")
