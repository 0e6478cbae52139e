"""Fixtures for the SQL store's tests: a real PostgreSQL server for the session, and stores.

The server is Debian's ``postgresql`` (see :class:`snapkit_sql_store.testing.PostgresServer`),
started once in a temporary folder on a free loopback port and stopped at the end. Without its
binaries the tests fail with a message saying what to install; they never skip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from snapkit.chunking import CHUNK_TARGET
from snapkit_sql_store import open_postgresql, open_sqlite
from snapkit_sql_store.store import SqlStore
from snapkit_sql_store.testing import PostgresServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def schema_for(path: Path) -> str:
    """A schema name of its own for each store path (so each test has a fresh store)."""
    return "kit_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]


@pytest.fixture
def handles() -> Iterator[Callable[[SqlStore], SqlStore]]:
    """Track store handles a test opens, and close them at its end."""
    opened: list[SqlStore] = []

    def track(store: SqlStore) -> SqlStore:
        opened.append(store)
        return store

    yield track
    for store in opened:
        store.close()


@pytest.fixture
def open_sqlite_at(handles: Callable[[SqlStore], SqlStore]) -> Callable[[Path], SqlStore]:
    """``open(path)``: the SQLite store in ``path/store.sqlite3``, keeping large parts as
    chunks (``chunk_size = 768``; the store's default keeps them whole)."""
    return lambda path: handles(open_sqlite(path / "store.sqlite3", chunk_size=CHUNK_TARGET))


@pytest.fixture
def open_pg_at(
    pg_server: PostgresServer, handles: Callable[[SqlStore], SqlStore]
) -> Callable[[Path], SqlStore]:
    """``open(path)``: the PostgreSQL store in a schema named after ``path`` (over the
    server's socket; the tests of credentials use its TCP port)."""
    return lambda path: handles(
        open_postgresql(pg_server.socket_dsn(), schema=schema_for(path), chunk_size=CHUNK_TARGET)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def open_at(request: pytest.FixtureRequest) -> Callable[[Path], SqlStore]:
    """Either store, by the test's parameter."""
    name = "open_sqlite_at" if request.param == "sqlite" else "open_pg_at"
    opener: Callable[[Path], SqlStore] = request.getfixturevalue(name)
    return opener


@pytest.fixture
def store(open_at: Callable[[Path], SqlStore], tmp_path: Path) -> SqlStore:
    """A fresh store of each kind."""
    return open_at(tmp_path / "store")
