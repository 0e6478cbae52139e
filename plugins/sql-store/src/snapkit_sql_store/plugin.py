"""Registers the SQL stores with snapkit (entry point ``sql-store`` in the group ``snapkit``).

Two store keys: ``sqlite`` (one file, nothing to start) and ``postgresql`` (several hosts).
Importing this module is cheap: sqlite3, psycopg and zstandard load only when the engine calls
a factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snapkit.descriptors import StoreDescriptor
from snapkit.markers import hookimpl

VERSION = "0.1.0"

_COMMON: dict[str, Any] = {
    "compression_level": {
        "type": "integer",
        "minimum": 0,
        "maximum": 22,
        "default": 3,
        "description": "zstd level for parts; 0 stores them uncompressed",
    },
    "chunk_size": {
        "type": "integer",
        "minimum": 0,
        "default": 0,
        "description": "plain bytes a chunk of a large part aims for (64 or more; 768 is the "
        "measured choice, see docs/stores.md): each chunk is stored once and shared between "
        "snapshots; 0, the default, stores every part whole (both are read)",
    },
    "upload_grace": {
        "type": "number",
        "minimum": 0,
        "default": 3600,
        "description": "seconds after which parts staged by a writer that may still be alive "
        "(another host's, or a live process here) are removed by the next refresh when no live "
        "lease holds them; a dead process's on this host go at once",
    },
}

SQLITE_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "sqlite store settings",
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "the database file, relative to the config file; created 0600 "
            "(its folder 0700) by the first write (a refresh), never by reads",
        },
        "busy_timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 30,
            "description": "seconds a write waits for another process's write to finish",
        },
        **_COMMON,
    },
}
"""JSON Schema of the ``sqlite`` store's settings (the ``[store]`` table of ``snapkit.toml``)."""

_TEXT = {"type": "string", "minLength": 1}

POSTGRESQL_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "postgresql store settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "dsn": {
            **_TEXT,
            "description": "a libpq connection URL or string, e.g. "
            "'postgresql://snapkit@db.example:5432/snapkit'; may hold the password, so "
            'give it as {env = "NAME"}',
        },
        "host": {**_TEXT, "description": "server host name or socket folder (overrides dsn)"},
        "port": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "description": "server port (overrides dsn)",
        },
        "dbname": {**_TEXT, "description": "database name (overrides dsn)"},
        "user": {**_TEXT, "description": "user name (overrides dsn)"},
        "password": {
            **_TEXT,
            "description": 'password: give it as {env = "NAME"}, never in the file',
        },
        "schema": {
            "type": "string",
            "pattern": "^[a-z_][a-z0-9_]{0,62}$",
            "default": "snapkit",
            "description": "the schema holding the store's tables; created by the first "
            "write, so several stores can share one database",
        },
        "pool_size": {
            "type": "integer",
            "minimum": 2,
            "maximum": 64,
            "default": 4,
            "description": "most connections one process opens (at least 2: a "
            "pointer recovery reads parts while it holds one)",
        },
        "connect_timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 10,
            "description": "seconds to wait for a connection",
        },
        **_COMMON,
    },
}
"""JSON Schema of the ``postgresql`` store's settings."""


def make_sqlite_store(settings: Mapping[str, Any]) -> Any:
    """Build the ``sqlite`` store from validated settings."""
    from snapkit_sql_store.settings import sqlite_store

    return sqlite_store(settings)


def make_postgresql_store(settings: Mapping[str, Any]) -> Any:
    """Build the ``postgresql`` store from validated settings."""
    from snapkit_sql_store.settings import postgresql_store

    return postgresql_store(settings)


@hookimpl
def snapkit_register_stores(register: Callable[[StoreDescriptor], None]) -> None:
    """Register the ``sqlite`` and ``postgresql`` snapshot stores."""
    register(
        StoreDescriptor(
            key="sqlite",
            version=VERSION,
            factory=make_sqlite_store,
            settings_schema=SQLITE_SCHEMA,
            description="snapshots in one SQLite file (WAL): insert-only tables, the pointer "
            "moved by compare-and-swap",
        )
    )
    register(
        StoreDescriptor(
            key="postgresql",
            version=VERSION,
            factory=make_postgresql_store,
            settings_schema=POSTGRESQL_SCHEMA,
            description="snapshots in a PostgreSQL schema, shared by several hosts: insert-only "
            "tables, the pointer moved by compare-and-swap",
        )
    )
