"""Keep a refresh lease alive from a timer while a refresh runs.

A lease whose heartbeat is older than the takers' ``stale_after`` is taken over, so a refresh
must renew it however long one oracle call takes. :class:`LeaseKeeper` renews it from a daemon
thread every ``stale_after / 3`` seconds until it is stopped. If a renewal fails — the lease was
taken over by another holder, or the store cannot be written — the keeper remembers why, calls
``on_lost`` (the engine stops its oracles), stops beating, and :meth:`check` raises that error,
so the refresh fails before it commits instead of committing over another holder's work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from snapkit.errors import LockHeldError, StoreError
from snapkit.store import Lease

log = logging.getLogger("snapkit.refresh")


class LeaseKeeper:
    """Renews ``lease`` every ``interval`` seconds from a thread; :meth:`heartbeat` checks.

    Use it as a context manager around the refresh; :meth:`heartbeat` (called by the engine
    between steps and before the commit) raises if a renewal failed, else renews at once.
    """

    def __init__(
        self, lease: Lease, interval: float, on_lost: Callable[[], None] | None = None
    ) -> None:
        self.lease = lease
        self.interval = max(interval, 0.01)
        self.on_lost = on_lost
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="snapkit-lease-heartbeat", daemon=True
        )

    @classmethod
    def for_stale_after(
        cls, lease: Lease, stale_after: float, on_lost: Callable[[], None] | None = None
    ) -> LeaseKeeper:
        """A keeper that beats three times per ``stale_after``."""
        return cls(lease, stale_after / 3, on_lost)

    @property
    def lost(self) -> BaseException | None:
        """Why a renewal failed, or ``None`` while the lease is held."""
        return self._error

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def heartbeat(self) -> None:
        """Renew the lease now; raise if it was lost (here or in the timer)."""
        self.check()
        self._beat()
        self.check()

    def check(self) -> None:
        """Raise if a renewal failed: :class:`LockHeldError` when another holder took the
        lease, else the store's error."""
        error = self._error
        if error is None:
            return
        if isinstance(error, LockHeldError):
            raise LockHeldError(
                f"{error.message}; this refresh stopped and committed nothing",
                hint="another refresh judged this one stale: check for one, or raise "
                "refresh.lock_stale_after above the longest oracle call",
            ) from error
        raise error

    def _beat(self) -> None:
        with self._lock:
            if self._error is not None:
                return
            try:
                self.lease.heartbeat()
            except (StoreError, OSError) as exc:
                self._error = exc
                log.error("the refresh lease could not be renewed: %s", exc)
                if self.on_lost is not None:
                    self.on_lost()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()
            if self._error is not None:
                return

    def __enter__(self) -> LeaseKeeper:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
