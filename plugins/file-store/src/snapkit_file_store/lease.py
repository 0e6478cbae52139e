"""The refresh lease: who may run a refresh on this store now.

The lease is a file (``lease.json``) naming its holder, host, pid, when it was taken and when it
was last renewed, plus a random token. Reading, comparing and writing it happens under a short
inter-process mutex (a :mod:`filelock` on ``lease.lock``), never held while a refresh runs.

A lease is stale — and the next taker replaces it, with a warning — when its holder's pid is
dead on this host, or its heartbeat is older than the taker's ``stale_after``. The lease only
saves wasted work; correctness comes from the pointer's compare-and-swap.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import filelock
from attrs import frozen

from snapkit import convert
from snapkit.contracts import parse_time, utc_now
from snapkit.errors import ContractError, LockHeldError, StoreError
from snapkit.store import LockInfo
from snapkit_file_store.atomic import FILE_MODE, remove_quietly, replace_atomic
from snapkit_file_store.paths import Layout, writer_tag

log = logging.getLogger(__name__)


@frozen
class _LeaseRecord:
    """The lease file's content: the public lease info and the holder's secret token."""

    info: LockInfo
    token: str


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


def stale_reason(info: LockInfo, stale_after: float, now: _dt.datetime) -> str | None:
    """Why the lease ``info`` is stale, or ``None`` while its holder looks alive."""
    if info.host == socket.gethostname() and not pid_alive(info.pid):
        return f"its process {info.pid} on {info.host} is gone"
    try:
        age = (now - parse_time(info.heartbeat_at)).total_seconds()
    except ValueError:
        return "its heartbeat time cannot be read"
    if age > stale_after:
        return f"its last heartbeat was {age:.1f} s ago (stale after {stale_after:g} s)"
    return None


class LeaseFile:
    """Reads and writes ``lease.json`` under the lease mutex."""

    def __init__(self, layout: Layout, mutex_timeout: float) -> None:
        self._layout = layout
        self._timeout = mutex_timeout

    @contextmanager
    def mutex(self) -> Iterator[None]:
        """The short mutex around read-compare-write of the lease file.

        :raises StoreError: if it cannot be taken within the mutex timeout.
        """
        lock = filelock.FileLock(self._layout.lease_lock, timeout=self._timeout, mode=FILE_MODE)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise StoreError(
                f"could not take the lease mutex {self._layout.lease_lock} within "
                f"{self._timeout:g} s",
                hint="another process is stuck inside a lock operation; check for hung processes",
            ) from None
        try:
            yield
        finally:
            lock.release()

    def read(self) -> tuple[LockInfo, str] | None:
        """Return the lease on file and its token, or ``None`` (no lease, or unreadable)."""
        try:
            data = self._layout.lease.read_bytes()
        except FileNotFoundError:
            return None
        try:
            raw = convert.parse(data, _LeaseRecord)
        except ContractError:
            log.warning(
                "lease file %s cannot be read; treating the lease as free", self._layout.lease
            )
            return None
        return raw.info, raw.token

    def write(self, info: LockInfo, token: str) -> None:
        """Replace the lease file atomically."""
        data = convert.dumps(_LeaseRecord(info=info, token=token))
        replace_atomic(self._layout.lease, data, self._layout.tmp, writer_tag())

    def remove(self) -> None:
        """Remove the lease file."""
        remove_quietly(self._layout.lease)


class FileLease:
    """A held refresh lease; leaving the ``with`` block (or :meth:`release`) frees it."""

    def __init__(self, lease_file: LeaseFile, info: LockInfo, token: str) -> None:
        self._file = lease_file
        self._token = token
        self.info = info
        self._released = False

    @classmethod
    def take(cls, lease_file: LeaseFile, holder: str, stale_after: float) -> FileLease:
        """Take the lease, replacing a stale one.

        :raises LockHeldError: if a live holder has it, naming who and since when.
        """
        now_text = utc_now()
        now = parse_time(now_text)
        with lease_file.mutex():
            current = lease_file.read()
            if current is not None:
                held, _token = current
                why = stale_reason(held, stale_after, now)
                if why is None:
                    raise LockHeldError(
                        f"the refresh lock is held by {held.holder!r} (pid {held.pid} on "
                        f"{held.host}) since {held.acquired_at}, last heartbeat "
                        f"{held.heartbeat_at}",
                        hint="wait for that refresh to finish, or stop it; a dead or silent "
                        f"holder is taken over after {stale_after:g} s",
                    )
                log.warning(
                    "taking over the stale refresh lock of %r (pid %s on %s): %s",
                    held.holder,
                    held.pid,
                    held.host,
                    why,
                )
            info = LockInfo(
                holder=holder,
                host=socket.gethostname(),
                pid=os.getpid(),
                acquired_at=now_text,
                heartbeat_at=now_text,
            )
            token = secrets.token_hex(16)
            lease_file.write(info, token)
        return cls(lease_file, info, token)

    def heartbeat(self) -> None:
        """Renew the lease.

        :raises LockHeldError: if the lease was taken over (this holder looked stale).
        """
        if self._released:
            raise StoreError("the refresh lease was already released", hint="take a new lock")
        with self._file.mutex():
            self._check_ours()
            self.info = LockInfo(
                holder=self.info.holder,
                host=self.info.host,
                pid=self.info.pid,
                acquired_at=self.info.acquired_at,
                heartbeat_at=utc_now(),
            )
            self._file.write(self.info, self._token)

    def release(self) -> None:
        """Free the lease if it is still ours (a taken-over lease is left to its new holder)."""
        if self._released:
            return
        self._released = True
        with self._file.mutex():
            current = self._file.read()
            if current is not None and current[1] == self._token:
                self._file.remove()

    def _check_ours(self) -> None:
        current = self._file.read()
        if current is None or current[1] != self._token:
            who = f"{current[0].holder!r} (pid {current[0].pid})" if current else "nobody"
            raise LockHeldError(
                f"the refresh lease of {self.info.holder!r} was taken over; it is now held by "
                f"{who}",
                hint="heartbeat more often than the takers' stale_after",
            )

    def __enter__(self) -> FileLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def live_lease(lease_file: LeaseFile, stale_after: float) -> LockInfo | None:
    """Return the lease on file if it is not stale, else ``None``."""
    current = lease_file.read()
    if current is None:
        return None
    info = current[0]
    now = _dt.datetime.now(_dt.UTC)
    return None if stale_reason(info, stale_after, now) else info
