"""SQLite: one database file, WAL mode, a busy timeout, nothing to start.

Each thread gets its own connection (and a forked child its own, never its parent's). Reads
open the file read-write but never create it: a store whose file does not exist reads as empty,
and the first write creates the file (``0600``, missing folders ``0700``) and its tables. WAL
lets readers go on while a writer commits; writers take turns (``BEGIN IMMEDIATE``, waiting up
to the busy timeout). ``synchronous=FULL`` makes each commit durable before it returns.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from snapkit.errors import StoreError
from snapkit_sql_store.backend import Backend, CommitOutcomeUnknown, Db, Row, first_line
from snapkit_sql_store.schema import check_known, migrate

FILE_MODE = 0o600
DIR_MODE = 0o700


class SqliteDb:
    """A SQLite connection seen through :class:`snapkit_sql_store.backend.Db`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(_sql(sql), params).rowcount

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._conn.execute(_sql(sql), params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(_sql(sql), params).fetchall()


_TEXT: dict[str, str] = {}


def _sql(text: str) -> str:
    out = _TEXT.get(text)
    if out is None:
        out = _TEXT[text] = text.replace("{p}", "")
    return out


class SqliteBackend(Backend):
    """A store in one SQLite file.

    :param path: the database file (absolute; its folder is created by the first write).
    :param busy_timeout: seconds a writer waits for another writer before failing.
    """

    dialect = "sqlite"
    for_update = ""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[int, sqlite3.Connection]] = []
        if path.is_dir():
            raise StoreError(
                f"the SQLite store path {path} is a folder",
                hint="point [store] path at a database file (e.g. snapkit.sqlite3) in it",
            )

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.schema_version() is not None

    def schema_version(self) -> int | None:
        if not self.path.is_file():
            return None
        with self.read() as db:
            try:
                row = db.one("SELECT max(version) FROM {p}schema_version")
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return None
                raise
        if row is None or row[0] is None:
            return None
        version = int(row[0])
        check_known(version, self.location)
        return version

    # -- connections -----------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == pid:
            return conn
        # mode=rw: a read never creates the file (create() makes it first)
        uri = f"file:{quote(str(self.path))}?mode=rw"
        try:
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc
        self._local.conn = conn
        self._local.pid = pid
        with self._lock:
            self._connections.append((pid, conn))
        return conn

    def translate(self, exc: sqlite3.Error) -> StoreError:
        """A one-line :class:`StoreError` for a SQLite error, naming the file and what to do."""
        text = first_line(exc)
        if "locked" in text or "busy" in text:
            return StoreError(
                f"the SQLite store {self.path} stayed locked by another writer for "
                f"{self.busy_timeout:g} s",
                hint="another process holds a long write; raise busy_timeout or look for a "
                "hung process",
            )
        if "not a database" in text:
            return StoreError(
                f"{self.path} is not a SQLite database",
                hint="point [store] path at a new file or a snapkit SQLite store",
            )
        if "unable to open" in text or "readonly" in text:
            return StoreError(
                f"cannot open the SQLite store {self.path}: {text}",
                hint="check the path and its permissions",
            )
        return StoreError(
            f"SQLite error in the store {self.path}: {text}", hint="run `snapkit snapshots verify`"
        )

    @contextmanager
    def read(self) -> Iterator[Db]:
        try:
            yield SqliteDb(self._connection())
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise  # the caller decides (a store being created reads as empty)
            raise self.translate(exc) from exc
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc

    autocommit = read

    @contextmanager
    def write(self, *, exclusive: bool = False) -> Iterator[Db]:
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc
        try:
            yield SqliteDb(conn)
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self.translate(exc) from exc
            raise
        try:
            self._commit(conn)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise CommitOutcomeUnknown(exc) from exc

    def _commit(self, conn: sqlite3.Connection) -> None:
        """Send ``COMMIT`` (a seam the tests use to lose its answer)."""
        conn.execute("COMMIT")

    def create(self) -> None:
        _make_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            _fsync_dir(self.path.parent)
        conn = self._connection()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc
        if not mode or str(mode[0]).lower() != "wal":
            raise StoreError(
                f"the SQLite store {self.path} cannot use WAL mode",
                hint="put it on a local file system",
            )
        with self.write(exclusive=True) as db:
            migrate(db, self.dialect, self.location)

    def close(self) -> None:
        pid = os.getpid()
        with self._lock:
            mine = [conn for owner, conn in self._connections if owner == pid]
            self._connections = [(o, c) for o, c in self._connections if o != pid]
        for conn in mine:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()


def _make_dir(path: Path) -> None:
    """Create ``path`` and missing parents with mode ``0700``, each made durable."""
    if path.is_dir():
        return
    _make_dir(path.parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return
    os.chmod(path, DIR_MODE)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
