"""The refresh lease as one object, taken and renewed with conditional writes.

Taking it is ``PutObject`` with ``If-None-Match: *``; a lease whose holder stopped renewing
(its heartbeat older than the taker's ``stale_after``) or died (a process of this host that is
gone) is taken over with ``If-Match`` on the ETag that was read, so two takers never both win.
Heartbeats and release use ``If-Match`` on the holder's own ETag: a holder whose lease was
taken over learns it at its next heartbeat (:class:`LockHeldError`) and never frees the new
holder's lease.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from typing import TYPE_CHECKING

from snapkit.contracts import parse_time, utc_now
from snapkit.errors import LockHeldError, StoreError
from snapkit.store import LockInfo
from snapkit_object_store.client import ConditionFailed

if TYPE_CHECKING:
    from snapkit_object_store.store import ObjectStore


def host_name() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _encode(info: LockInfo) -> bytes:
    return json.dumps(
        {
            "holder": info.holder,
            "host": info.host,
            "pid": info.pid,
            "acquired_at": info.acquired_at,
            "heartbeat_at": info.heartbeat_at,
        },
        sort_keys=True,
    ).encode()


def read_lease(store: ObjectStore) -> tuple[LockInfo, str] | None:
    """The lease object as ``(info, etag)``, or ``None`` if there is none."""
    found = store._get(store.keys.lease, "reading the refresh lease")
    if found is None:
        return None
    body, etag = found
    try:
        data = json.loads(body)
        info = LockInfo(
            holder=str(data["holder"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            acquired_at=str(data["acquired_at"]),
            heartbeat_at=str(data["heartbeat_at"]),
        )
        parse_time(info.heartbeat_at)
    except (ValueError, KeyError, TypeError):
        info = LockInfo(
            holder="(damaged lease)",
            host="",
            pid=0,
            acquired_at="",
            heartbeat_at="1970-01-01T00:00:00.000000Z",
        )
    return info, etag


def _stale(info: LockInfo, stale_after: float) -> bool:
    import datetime as _dt

    if info.host == host_name() and info.pid and not pid_alive(info.pid):
        return True
    age = (_dt.datetime.now(_dt.UTC) - parse_time(info.heartbeat_at)).total_seconds()
    return bool(age > stale_after)


class ObjectLease:
    """A held refresh lease; renew it with :meth:`heartbeat`, free it by leaving ``with``."""

    def __init__(self, store: ObjectStore, info: LockInfo, etag: str) -> None:
        self._store = store
        self.info = info
        self._etag = etag
        self._released = False

    @classmethod
    def take(cls, store: ObjectStore, holder: str, stale_after: float) -> ObjectLease:
        """Take the lease or raise :class:`LockHeldError` naming its holder."""
        now = utc_now()
        info = LockInfo(
            holder=holder, host=host_name(), pid=os.getpid(), acquired_at=now, heartbeat_at=now
        )
        body = _encode(info)
        for _attempt in range(5):
            current = read_lease(store)
            if current is None:
                condition: dict[str, str] = {"IfNoneMatch": "*"}
            else:
                held, etag = current
                if not _stale(held, stale_after):
                    raise LockHeldError(
                        f"the refresh lease of {store.location} is held by {held.holder!r} "
                        f"(pid {held.pid} on {held.host}) since {held.acquired_at}, last "
                        f"heartbeat {held.heartbeat_at}",
                        hint="wait for that refresh to finish; a lease whose holder stops "
                        "renewing it is taken over once stale",
                    )
                condition = {"IfMatch": etag}
            try:
                new_etag = store._put(
                    store.keys.lease, body, "taking the refresh lease", **condition
                )
            except ConditionFailed:
                continue  # someone else took or renewed it meanwhile: look again
            return cls(store, info, new_etag)
        raise LockHeldError(
            f"the refresh lease of {store.location} keeps changing hands",
            hint="another refresh is starting; try again shortly",
        )

    def heartbeat(self) -> None:
        """Renew the lease; :class:`LockHeldError` if another process took it over."""
        info = LockInfo(
            holder=self.info.holder,
            host=self.info.host,
            pid=self.info.pid,
            acquired_at=self.info.acquired_at,
            heartbeat_at=utc_now(),
        )
        try:
            self._etag = self._store._put(
                self._store.keys.lease,
                _encode(info),
                "renewing the refresh lease",
                IfMatch=self._etag,
            )
        except ConditionFailed:
            raise LockHeldError(
                f"the refresh lease of {self._store.location} was taken over by another "
                "process (this holder's heartbeat was stale)",
                hint="this refresh stops; the new holder's refresh carries on",
            ) from None
        self.info = info

    def release(self) -> None:
        """Free the lease if this holder still has it."""
        if self._released:
            return
        self._released = True
        current = read_lease(self._store)
        if current is None or current[1] != self._etag:
            return  # taken over: the new holder's lease is not ours to free
        try:
            self._store._delete(
                self._store.keys.lease, "freeing the refresh lease", IfMatch=self._etag
            )
        except ConditionFailed:
            return  # renewed or taken over by another process just now: not ours any more
        except StoreError:
            # a server without conditional deletes: the ETag was checked just above
            with contextlib.suppress(StoreError):
                self._store._delete(self._store.keys.lease, "freeing the refresh lease")

    def __enter__(self) -> ObjectLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
