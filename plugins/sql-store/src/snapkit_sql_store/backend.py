"""What the store needs from a database: short reads, write transactions, and its schema.

The store's logic (:mod:`snapkit_sql_store.store`) is written once, in SQL both SQLite and
PostgreSQL understand: ``?`` placeholders and ``{p}`` before every table name. A backend turns
that text into its dialect (``%s`` placeholders and a schema-qualified name for PostgreSQL) and
owns its connections.

``write()`` is one database transaction. Its ``COMMIT`` is the moment a commit's outcome can be
lost: if the database reports an error there (a connection lost after the ``COMMIT`` was sent),
the backend raises :class:`CommitOutcomeUnknown` and the store re-reads what it wrote to decide.
"""

from __future__ import annotations

import abc
import os
import socket
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from snapkit.errors import StoreError

Row = tuple[Any, ...]


class StoreConnectionError(StoreError):
    """The store's database cannot be reached, or refused the connection (credentials)."""


class Db(Protocol):
    """One connection, for the length of a ``read()`` or ``write()`` block."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return how many rows it changed."""
        ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query; return its first row, or ``None``."""
        ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query; return every row."""
        ...


class CommitOutcomeUnknown(Exception):
    """The database reported an error at ``COMMIT``: the transaction may or may not be in."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__} at COMMIT: {first_line(cause)}")
        self.cause = cause


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (database messages run long)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def host_name() -> str:
    """This host's name, as lease and upload rows record it."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[-1].split()
        return not (fields and fields[0] in (b"Z", b"X"))
    except OSError:
        return True


class Backend(abc.ABC):
    """A database holding one store. Subclasses: SQLite and PostgreSQL."""

    dialect: str
    """``sqlite`` or ``postgresql``."""

    for_update: str
    """What a ``SELECT`` ends with to lock the rows it reads until the transaction ends."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the store lives, for messages (never a password)."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether the store's tables have been created (by its first write)."""

    @abc.abstractmethod
    def schema_version(self) -> int | None:
        """The schema version recorded in the database, or ``None`` before the first write."""

    @abc.abstractmethod
    def create(self) -> None:
        """Create the store's storage and tables if missing, and migrate them (a write)."""

    @abc.abstractmethod
    def read(self) -> AbstractContextManager[Db]:
        """A connection for reads, each statement seeing committed data."""

    @abc.abstractmethod
    def write(self, *, exclusive: bool = False) -> AbstractContextManager[Db]:
        """A transaction, committed when the block ends, rolled back if it raises.

        :param exclusive: keep commits out while it runs (prune); without it, PostgreSQL
            commits run side by side (the pointer's compare-and-swap orders them) and SQLite
            writers take turns anyway.
        :raises CommitOutcomeUnknown: if the database reported an error at ``COMMIT``.
        """

    @abc.abstractmethod
    def autocommit(self) -> AbstractContextManager[Db]:
        """A connection whose every statement commits on its own (chunk writes, cleanup)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections (the store may be used again: they reopen on demand)."""

    def chunk_batch(self) -> int:
        """How many chunk rows one query reads (bounds memory: one chunk is up to 1 MiB)."""
        return 4
