"""snapkit-sql-store: snapkit snapshot stores in SQLite (one file) and PostgreSQL (many hosts).

Use them through the ``sqlite`` or ``postgresql`` store keys in ``snapkit.toml``, or directly::

    from snapkit_sql_store import open_sqlite, open_postgresql
    store = open_sqlite("/var/lib/snapkit/store.sqlite3")
    store = open_postgresql("postgresql://snapkit@db.example/snapkit", schema="district_9")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["SqlStore", "open_postgresql", "open_sqlite"]

if TYPE_CHECKING:
    from snapkit_sql_store.store import SqlStore


def open_sqlite(path: Any, **settings: Any) -> SqlStore:
    """Open the SQLite store in file ``path`` (created by the first write).

    :param settings: the other ``sqlite`` settings (``busy_timeout``, ``compression_level``,
        ``chunk_size``...).
    """
    from snapkit_sql_store.settings import sqlite_store

    return sqlite_store({"path": str(path), **settings})


def open_postgresql(dsn: str | None = None, **settings: Any) -> SqlStore:
    """Open the PostgreSQL store ``dsn`` names (its schema is created by the first write).

    :param settings: the other ``postgresql`` settings (``schema``, ``host``, ``pool_size``...).
    """
    from snapkit_sql_store.settings import postgresql_store

    return postgresql_store({**({"dsn": dsn} if dsn else {}), **settings})


def __getattr__(name: str) -> Any:
    if name == "SqlStore":
        from snapkit_sql_store.store import SqlStore

        return SqlStore
    raise AttributeError(f"module 'snapkit_sql_store' has no attribute {name!r}")
