"""PostgreSQL: a store in one schema of a database, for several hosts (psycopg 3 + a pool).

Connections come from a :class:`psycopg_pool.ConnectionPool` in autocommit mode, so a read is
one round trip; a write is an explicit ``BEGIN`` ... ``COMMIT``. Before the pool opens, one
plain connection is tried, so an unreachable server or wrong credentials fail at once with the
server's own reason (a pool would only say it timed out).

Commits run side by side under a shared transaction-level advisory lock of the store; a prune
takes it exclusively, so no commit adds a reference to a part while a prune judges it unused.
The pointer's correctness does not depend on it: the ``UPDATE ... WHERE generation = ?`` does.

A forked child never touches its parent's connections: the backend notices the new pid and
opens its own pool (the parent's objects are kept alive, unclosed, so that nothing in the
child ends the parent's sessions).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool

from snapkit.errors import StoreError
from snapkit_sql_store.backend import (
    Backend,
    CommitOutcomeUnknown,
    Db,
    Row,
    StoreConnectionError,
    first_line,
)
from snapkit_sql_store.schema import check_known, migrate

_INHERITED: list[Any] = []
"""Pools a forked child inherited from its parent: kept, never closed, never used."""


class PgDb:
    """A psycopg connection seen through :class:`snapkit_sql_store.backend.Db`."""

    def __init__(self, conn: psycopg.Connection[Any], prefix: str) -> None:
        self._conn = conn
        self._prefix = prefix

    def _sql(self, text: str) -> Any:
        key = (self._prefix, text)
        out = _TEXT.get(key)
        if out is None:
            out = _TEXT[key] = text.replace("{p}", self._prefix).replace("?", "%s")
        return out

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(self._sql(sql), params).rowcount

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self._conn.execute(self._sql(sql), params, binary=True).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(self._sql(sql), params, binary=True).fetchall()


_TEXT: dict[tuple[str, str], str] = {}


def lock_key(schema: str) -> int:
    """The advisory lock key of a store's schema (a signed 64-bit integer)."""
    digest = hashlib.sha256(f"snapkit-sql-store:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresBackend(Backend):
    """A store in schema ``schema`` of the database ``conninfo`` names.

    :param conninfo: a libpq connection string (may hold a password; never shown).
    :param schema: the schema holding the store's tables (created by the first write).
    :param display: where the store lives, for messages: ``postgresql://user@host:port/db``.
    :param password: the password, only so that messages can be scrubbed of it.
    :param pool_size: the most connections this process opens.
    :param connect_timeout: seconds to wait for a connection.
    """

    dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str,
        display: str,
        password: str | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        self._conninfo = conninfo
        self.schema = schema
        self._display = display
        self._password = password
        self._pool_size = pool_size
        self._timeout = connect_timeout
        self._prefix = f'"{schema}".'
        self._key = lock_key(schema)
        self._pool: psycopg_pool.ConnectionPool[Any] | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return f"{self._display} (schema {self.schema})"

    # -- connections -----------------------------------------------------------------------

    def _get_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        pool = self._pool
        if pool is not None and self._pid == os.getpid():
            return pool
        with self._lock:
            if self._pool is not None and self._pid != os.getpid():
                _INHERITED.append(self._pool)
                self._pool = None
            if self._pool is None:
                self._probe()
                new = psycopg_pool.ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self._pool_size,
                    open=False,
                    timeout=self._timeout,
                    kwargs={"autocommit": True},
                    name=f"snapkit-{self.schema}",
                )
                new.open(wait=False)
                self._pool, self._pid = new, os.getpid()
            return self._pool

    def _probe(self) -> None:
        """Open and close one connection, so that a refusal says why."""
        try:
            conn = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=max(1, round(self._timeout))
            )
        except psycopg.Error as exc:
            raise self._connection_error(exc) from None
        conn.close()

    def _connection_error(self, exc: BaseException) -> StoreError:
        text = self._scrub(first_line(exc))
        for noise in ("connection failed: ", "connection is bad: "):
            text = text.replace(noise, "")
        if " failed: " in text and text.startswith("connection to server"):
            text = text.split(" failed: ", 1)[1].strip()
        lowered = text.lower()
        if "password" in lowered or "authentication" in lowered or "role" in lowered:
            hint = "check the user and password (the dsn, user or password settings)"
        elif "does not exist" in lowered and "database" in lowered:
            hint = "create the database (createdb) or fix dbname in the store settings"
        else:
            hint = "check that the server runs and is reachable, and the host/port settings"
        return StoreConnectionError(
            f"cannot connect to PostgreSQL at {self._display}: {text}", hint=hint
        )

    def _scrub(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")
        return text

    def translate(self, exc: psycopg.Error) -> StoreError:
        """A one-line :class:`StoreError` for a database error (never holding a password)."""
        if isinstance(exc, psycopg_pool.PoolTimeout):
            return StoreConnectionError(
                f"no PostgreSQL connection to {self._display} within {self._timeout:g} s",
                hint="check that the server runs and accepts connections (max_connections)",
            )
        if isinstance(exc, psycopg.OperationalError) and not isinstance(
            exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
        ):
            return self._connection_error(exc)
        text = self._scrub(first_line(exc))
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return StoreError(
                f"PostgreSQL refused an operation on the store {self.location}: {text}",
                hint="grant the user CREATE on the database, or USAGE and rights on the schema",
            )
        return StoreError(
            f"PostgreSQL error in the store {self.location}: {text}",
            hint="run `snapkit snapshots verify`",
        )

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        pool = self._get_pool()
        try:
            with pool.connection(timeout=self._timeout) as conn:
                yield conn
        except psycopg.Error as exc:
            raise self.translate(exc) from exc

    @contextmanager
    def read(self) -> Iterator[Db]:
        with self._conn() as conn:
            yield PgDb(conn, self._prefix)

    autocommit = read

    @contextmanager
    def write(self, *, exclusive: bool = False) -> Iterator[Db]:
        with self._conn() as conn:
            conn.execute("BEGIN")
            try:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s)"
                    if exclusive
                    else "SELECT pg_advisory_xact_lock_shared(%s)",
                    (self._key,),
                )
                yield PgDb(conn, self._prefix)
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                raise
            try:
                self._commit(conn)
            except psycopg.Error as exc:
                raise CommitOutcomeUnknown(exc) from exc

    def _commit(self, conn: psycopg.Connection[Any]) -> None:
        """Send ``COMMIT`` (a seam the tests use to lose its answer)."""
        conn.execute("COMMIT")

    # -- the schema ------------------------------------------------------------------------

    def schema_version(self) -> int | None:
        with self.read() as db:
            row = db.one("SELECT to_regclass(?)::text", (f"{self._prefix}schema_version",))
            if row is None or row[0] is None:
                return None
            row = db.one("SELECT max(version) FROM {p}schema_version")
        if row is None or row[0] is None:
            return None
        version = int(row[0])
        check_known(version, self.location)
        return version

    def exists(self) -> bool:
        return self.schema_version() is not None

    def create(self) -> None:
        with self._conn() as conn:
            conn.execute("BEGIN")
            try:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                migrate(PgDb(conn, self._prefix), self.dialect, self.location)
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()
        elif pool is not None:
            _INHERITED.append(pool)
