"""Settings -> a store: the SQLite file, or the PostgreSQL connection string and schema.

Secrets (``{env = "NAME"}`` in ``snapkit.toml``) are resolved by snapkit before the settings get
here. The PostgreSQL password may come inside ``dsn`` or as ``password``; it is passed to libpq
only and never appears in the store's location or in messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snapkit.errors import ConfigError
from snapkit_sql_store.store import DEFAULT_COMPRESSION_LEVEL, DEFAULT_UPLOAD_GRACE, SqlStore

DEFAULT_SCHEMA = "snapkit"
DEFAULT_POOL_SIZE = 4
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_BUSY_TIMEOUT = 30.0
_CONNECTION_KEYS = ("host", "port", "dbname", "user", "password")


def _common(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "compression_level": int(settings.get("compression_level", DEFAULT_COMPRESSION_LEVEL)),
        "upload_grace": float(settings.get("upload_grace", DEFAULT_UPLOAD_GRACE)),
        "chunk_size": int(settings.get("chunk_size", 0)),
    }


def sqlite_store(settings: Mapping[str, Any]) -> SqlStore:
    """A store in the SQLite file ``settings["path"]`` (resolved by snapkit against the
    config's folder)."""
    from snapkit_sql_store.sqlite_backend import SqliteBackend

    path = Path(settings["path"]).expanduser().absolute()
    backend = SqliteBackend(
        path, busy_timeout=float(settings.get("busy_timeout", DEFAULT_BUSY_TIMEOUT))
    )
    return SqlStore(backend, **_common(settings))


def conninfo_of(settings: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """The libpq connection string, a password-free display form, and the password.

    :raises ConfigError: if ``dsn`` cannot be parsed.
    """
    from psycopg import conninfo as pg_conninfo

    extra = {key: str(settings[key]) for key in _CONNECTION_KEYS if settings.get(key) is not None}
    try:
        conninfo = pg_conninfo.make_conninfo(str(settings.get("dsn", "")), **extra)
        parts = pg_conninfo.conninfo_to_dict(conninfo)
    except Exception:  # psycopg.ProgrammingError (its text may quote the password: not shown)
        raise ConfigError(
            "store.dsn is not a PostgreSQL connection string or URL",
            hint="use e.g. 'postgresql://user@host:5432/dbname' or 'host=... dbname=...'",
        ) from None
    user = parts.get("user")
    host = parts.get("host") or "localhost"
    port = parts.get("port")
    dbname = parts.get("dbname") or user or ""
    display = "postgresql://" + (f"{user}@" if user else "") + str(host)
    display += (f":{port}" if port else "") + f"/{dbname}"
    password = parts.get("password")
    return conninfo, display, None if password is None else str(password)


def postgresql_store(settings: Mapping[str, Any]) -> SqlStore:
    """A store in a PostgreSQL schema (the connection is opened by the first use)."""
    from snapkit_sql_store.postgres_backend import PostgresBackend

    conninfo, display, password = conninfo_of(settings)
    backend = PostgresBackend(
        conninfo,
        schema=str(settings.get("schema", DEFAULT_SCHEMA)),
        display=display,
        password=password,
        pool_size=int(settings.get("pool_size", DEFAULT_POOL_SIZE)),
        connect_timeout=float(settings.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)),
    )
    return SqlStore(backend, **_common(settings))
