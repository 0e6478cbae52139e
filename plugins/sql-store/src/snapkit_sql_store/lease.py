"""The refresh lease: one ``lease`` row naming its holder, host, pid, times and a secret token.

Taking it reads the row (locking it on PostgreSQL) and inserts ours in the same transaction; a
live holder makes the taker fail with :class:`LockHeldError` naming it. A holder is dead — and
the next taker replaces its row, with a warning — when its pid is gone on this host, or its
heartbeat is older than the taker's ``stale_after``. Heartbeats and the release touch the row
only while it still carries our token, so a holder that was taken over cannot renew or free
its successor's lease. The lease only saves wasted work; the pointer's compare-and-swap keeps
the store correct.

Heartbeats may come from a timer thread: each uses its own short statement.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import secrets
from typing import Any

import attrs

from snapkit.contracts import parse_time, utc_now
from snapkit.errors import LockHeldError, StoreError
from snapkit.store import LockInfo
from snapkit_sql_store.backend import Backend, host_name, pid_alive

log = logging.getLogger(__name__)

COLUMNS = "holder, host, pid, acquired_at, heartbeat_at"


def stale_reason(info: LockInfo, stale_after: float, now: _dt.datetime) -> str | None:
    """Why the lease ``info`` is stale, or ``None`` while its holder looks alive."""
    if info.host == host_name() and not pid_alive(info.pid):
        return f"its process {info.pid} on {info.host} is gone"
    try:
        age = (now - parse_time(info.heartbeat_at)).total_seconds()
    except ValueError:
        return "its heartbeat time cannot be read"
    if age > stale_after:
        return f"its last heartbeat was {age:.1f} s ago (stale after {stale_after:g} s)"
    return None


def read_lease(backend: Backend) -> LockInfo | None:
    """The lease row, or ``None``."""
    with backend.read() as db:
        row = db.one(f"SELECT {COLUMNS} FROM {{p}}lease WHERE id = 1")
    return None if row is None else _info(row)


def _info(row: tuple[Any, ...]) -> LockInfo:
    return LockInfo(
        holder=str(row[0]),
        host=str(row[1]),
        pid=int(row[2]),
        acquired_at=str(row[3]),
        heartbeat_at=str(row[4]),
    )


def _held(held: LockInfo, stale_after: float) -> LockHeldError:
    return LockHeldError(
        f"the refresh lock is held by {held.holder!r} (pid {held.pid} on {held.host}) since "
        f"{held.acquired_at}, last heartbeat {held.heartbeat_at}",
        hint="wait for that refresh to finish, or stop it; a dead or silent holder is taken "
        f"over after {stale_after:g} s",
    )


class SqlLease:
    """A held refresh lease; leaving the ``with`` block (or :meth:`release`) frees it."""

    def __init__(self, backend: Backend, info: LockInfo, token: str) -> None:
        self._backend = backend
        self._token = token
        self.info = info
        self._released = False

    @classmethod
    def take(cls, backend: Backend, holder: str, stale_after: float) -> SqlLease:
        """Take the lease, replacing a stale one.

        :raises LockHeldError: if a live holder has it, naming who and since when.
        """
        now_text = utc_now()
        info = LockInfo(
            holder=holder,
            host=host_name(),
            pid=os.getpid(),
            acquired_at=now_text,
            heartbeat_at=now_text,
        )
        token = secrets.token_hex(16)
        with backend.write() as db:
            row = db.one(f"SELECT {COLUMNS} FROM {{p}}lease WHERE id = 1{backend.for_update}")
            if row is not None:
                held = _info(row)
                why = stale_reason(held, stale_after, parse_time(now_text))
                if why is None:
                    raise _held(held, stale_after)
                log.warning(
                    "taking over the stale refresh lock of %r (pid %s on %s): %s",
                    held.holder,
                    held.pid,
                    held.host,
                    why,
                )
                db.execute("DELETE FROM {p}lease WHERE id = 1")
            inserted = db.execute(
                f"INSERT INTO {{p}}lease (id, {COLUMNS}, token) VALUES (1, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (info.holder, info.host, info.pid, info.acquired_at, info.heartbeat_at, token),
            )
            if inserted != 1:  # another taker got in first (PostgreSQL, no row to lock)
                row = db.one(f"SELECT {COLUMNS} FROM {{p}}lease WHERE id = 1")
                raise _held(_info(row) if row else info, stale_after)
        return cls(backend, info, token)

    def heartbeat(self) -> None:
        """Renew the lease.

        :raises LockHeldError: if the lease was taken over (this holder looked stale).
        """
        if self._released:
            raise StoreError("the refresh lease was already released", hint="take a new lock")
        beat = utc_now()
        with self._backend.autocommit() as db:
            changed = db.execute(
                "UPDATE {p}lease SET heartbeat_at = ? WHERE id = 1 AND token = ?",
                (beat, self._token),
            )
        if changed != 1:
            current = read_lease(self._backend)
            who = f"{current.holder!r} (pid {current.pid})" if current else "nobody"
            raise LockHeldError(
                f"the refresh lease of {self.info.holder!r} was taken over; it is now held by "
                f"{who}",
                hint="heartbeat more often than the takers' stale_after",
            )
        self.info = attrs.evolve(self.info, heartbeat_at=beat)

    def release(self) -> None:
        """Free the lease if it is still ours (a taken-over lease is left to its new holder)."""
        if self._released:
            return
        self._released = True
        try:
            with self._backend.autocommit() as db:
                db.execute("DELETE FROM {p}lease WHERE id = 1 AND token = ?", (self._token,))
        except StoreError as exc:
            log.warning(
                "could not release the refresh lease of %r (%s); it goes stale by itself",
                self.info.holder,
                exc.message,
            )

    def __enter__(self) -> SqlLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
