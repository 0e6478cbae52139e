"""Refresh runs started by the server: one at a time, in a background thread, with progress.

A run goes through :meth:`snapkit.project.Project.refresh`, the engine the CLI and the Python
API use. Its progress (per-oracle state and record counts) is kept in a :class:`Run` that the
routes read as JSON (``GET /api/refresh/runs/{id}``) or follow as a stream of changes
(:meth:`RefreshRuns.subscribe`, served as server-sent events). Reads never wait on a run: the
store's current pointer only moves when the run commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from snapkit.errors import SnapkitError

if TYPE_CHECKING:
    from snapkit.project import Project

log = logging.getLogger("snapkit.serve")

KEEP_RUNS = 20
"""How many finished runs the server remembers (``GET /api/refresh/runs/{id}``)."""

STREAM_INTERVAL = 0.1
"""The shortest time between two events of a run's stream (changes in between coalesce)."""


class RefreshAlreadyRunning(SnapkitError):
    """A refresh is running, in this server or in another process holding the store's lease.

    :param holder: who holds it (JSON-able: the run of this server, or the store's lease).
    """

    def __init__(self, holder: dict[str, Any]) -> None:
        who = holder.get("holder") or holder.get("run_id") or "another process"
        super().__init__(
            f"a refresh is already running ({who})", hint="wait for it to finish, then try again"
        )
        self.holder = holder


def _now() -> str:
    from snapkit.contracts import utc_now

    return utc_now()


class Run:
    """One refresh started by the server. Thread-safe: the refresh thread writes, routes read.

    :meth:`as_json` is the contract's ``RUN`` form.
    """

    def __init__(self, run_id: str, client: str) -> None:
        self.run_id = run_id
        self.client = client
        self.started_at = _now()
        self._started = time.monotonic()
        self._elapsed: float | None = None
        self.state = "running"
        self.finished_at: str | None = None
        self.oracles: dict[str, dict[str, Any]] = {}
        self.snapshot_id: str | None = None
        self.pointer_moved: bool | None = None
        self.error: dict[str, str] | None = None
        self.version = 0
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def finished(self) -> bool:
        """``True`` once the run ended (success, partial or failed)."""
        return self.state != "running"

    def as_json(self) -> dict[str, Any]:
        """The run as JSON (the contract's ``RUN``)."""
        with self._lock:
            elapsed = (
                self._elapsed if self._elapsed is not None else time.monotonic() - self._started
            )
            return {
                "run_id": self.run_id,
                "state": self.state,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "elapsed_s": round(elapsed, 3),
                "client": self.client,
                "oracles": {key: dict(value) for key, value in sorted(self.oracles.items())},
                "snapshot_id": self.snapshot_id,
                "pointer_moved": self.pointer_moved,
                "error": dict(self.error) if self.error else None,
            }

    # -- written by the refresh thread -----------------------------------------------------

    def progress(self, update: Any) -> None:
        """Take a :class:`snapkit.refresh.Progress` update (called from worker threads)."""
        self.update(update.oracle, update.state, update.records, update.attempt)

    def update(self, oracle: str, state: str, records: int, attempt: int) -> None:
        """Record an oracle's state and record count so far."""
        with self._lock:
            self.oracles[oracle] = {"state": state, "records": records, "attempt": attempt}
        self._changed()

    def finish(
        self,
        state: str,
        *,
        snapshot_id: str | None = None,
        pointer_moved: bool | None = None,
        error: dict[str, str] | None = None,
    ) -> None:
        """Record how the run ended."""
        with self._lock:
            self.state = state
            self.snapshot_id = snapshot_id
            self.pointer_moved = pointer_moved
            self.error = error
            self.finished_at = _now()
            self._elapsed = time.monotonic() - self._started
        self._changed()

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: its subscriber is gone
                loop.call_soon_threadsafe(event.set)

    # -- read by subscribers ---------------------------------------------------------------

    async def changes(self, heartbeat: float | None = None) -> AsyncIterator[dict[str, Any] | None]:
        """Yield the run as JSON now and after every change, the last one when it ends.

        :param heartbeat: if set, yield ``None`` after this many seconds without a change
            (a stream's keep-alive).
        """
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._waiters.append(waiter)
        try:
            seen = -1
            while True:
                event.clear()
                version = self.version
                if version != seen:
                    seen = version
                    value = self.as_json()
                    yield value
                    if value["state"] != "running":
                        return
                try:
                    await asyncio.wait_for(event.wait(), heartbeat)
                except TimeoutError:
                    yield None
                    continue
                await asyncio.sleep(STREAM_INTERVAL)
        finally:
            with self._lock:
                self._waiters.remove(waiter)


class RefreshRuns:
    """The refresh runs of one server process (at most one at a time).

    :param isolate: run each refresh in its own process
        (:mod:`snapkit.serve.refresh_worker`, loading the project's config file), so that its
        CPU work never holds this process's interpreter lock while reads are answered. By
        default, when the project has a config file; a project built in memory (a host's
        :class:`snapkit.config.Config`, plugins registered by hand) refreshes in a thread.
    :param nice: added to the refresh process's nice value (``serve.refresh_nice``), so
        that this process's reads get the CPU first; refreshes in a thread keep the
        server's priority (the thread shares the reads' interpreter lock).
    """

    def __init__(self, project: Project, *, isolate: bool | None = None, nice: int = 0) -> None:
        self.project = project
        self.isolate = project.config.source is not None if isolate is None else isolate
        self.nice = nice
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._newest: Run | None = None

    def start(self, client: str) -> Run:
        """Start a refresh in a background thread and return its run.

        :param client: who asked (the client address), kept in the run and its events.
        :raises RefreshAlreadyRunning: when a run of this server is running, or another
            process holds the store's refresh lease.
        """
        with self._lock:
            newest = self._newest
            if newest is not None and not newest.finished:
                raise RefreshAlreadyRunning(
                    {
                        "holder": f"snapkit serve run {newest.run_id}",
                        "run_id": newest.run_id,
                        "started_at": newest.started_at,
                    }
                )
            lease = self.lock()
            if lease is not None:
                raise RefreshAlreadyRunning(lease)
            run = Run(uuid.uuid4().hex, client)
            self._runs[run.run_id] = run
            while len(self._runs) > KEEP_RUNS:
                self._runs.popitem(last=False)
            self._newest = run
        thread = threading.Thread(
            target=self._execute,
            args=(run,),
            name=f"snapkit-serve-refresh-{run.run_id[:8]}",
            daemon=True,
        )
        thread.start()
        return run

    def _execute(self, run: Run) -> None:
        log.info("admin refresh %s started by %s", run.run_id[:12], run.client)
        if self.isolate:
            self._execute_process(run)
        else:
            self._execute_thread(run)
        log.info("admin refresh %s ended: %s", run.run_id[:12], run.state)

    def _execute_process(self, run: Run) -> None:
        import json
        import subprocess
        import sys

        command = [
            sys.executable,
            "-m",
            "snapkit.serve.refresh_worker",
            str(self.project.config.source),
            str(self.nice),
        ]
        ended = False
        try:
            with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as worker:
                assert worker.stdout is not None
                for line in worker.stdout:
                    message = json.loads(line)
                    if "started" in message:
                        log.info(
                            "admin refresh %s: refresh process %d at nice %d",
                            run.run_id[:12],
                            message["started"]["pid"],
                            message["started"]["nice"],
                        )
                    elif "progress" in message:
                        p = message["progress"]
                        run.update(p["oracle"], p["state"], p["records"], p["attempt"])
                    elif "outcome" in message:
                        o = message["outcome"]
                        first = o["errors"][0] if o["errors"] else None
                        error = (
                            {"reason": first["code"], "message": first["message"]}
                            if first
                            else None
                        )
                        run.finish(
                            o["status"],
                            snapshot_id=o["snapshot_id"],
                            pointer_moved=o["pointer_moved"],
                            error=error,
                        )
                        ended = True
                    elif "error" in message:
                        e = message["error"]
                        reason = (
                            "refresh_running" if e["type"] == "LockHeldError" else _snake(e["type"])
                        )
                        run.finish("failed", error={"reason": reason, "message": e["message"]})
                        ended = True
                code = worker.wait()
        except (OSError, ValueError) as exc:
            log.error(
                "admin refresh %s: the refresh process failed: %s",
                run.run_id[:12],
                type(exc).__name__,
            )
            code = -1
        if not ended:
            run.finish(
                "failed",
                error={
                    "reason": "worker_exited",
                    "message": f"the refresh process exited with {code} "
                    "before it reported an outcome",
                },
            )

    def _execute_thread(self, run: Run) -> None:
        try:
            outcome = self.project.refresh(progress=run.progress)
        except SnapkitError as exc:
            reason = "refresh_running" if type(exc).__name__ == "LockHeldError" else _code(exc)
            run.finish("failed", error={"reason": reason, "message": exc.message})
        except Exception as exc:
            log.exception("admin refresh %s raised", run.run_id[:12])
            run.finish(
                "failed",
                error={"reason": "internal_error", "message": f"{type(exc).__name__}: {exc}"},
            )
        else:
            error = None
            if outcome.errors:
                first = outcome.errors[0]
                error = {"reason": first.code, "message": first.message}
            run.finish(
                outcome.status,
                snapshot_id=outcome.snapshot_id,
                pointer_moved=outcome.pointer_moved,
                error=error,
            )

    def get(self, run_id: str) -> Run | None:
        """The run with this id, if this server started it (and still remembers it)."""
        with self._lock:
            return self._runs.get(run_id)

    def newest(self) -> Run | None:
        """The newest run this server started, if any."""
        with self._lock:
            return self._newest

    def running(self) -> bool:
        """``True`` while a run of this server is running."""
        newest = self.newest()
        return newest is not None and not newest.finished

    def lock(self) -> dict[str, Any] | None:
        """The store's refresh lease (held by any process), as JSON, or ``None``."""
        info = self.project.store.lock_info()
        if info is None or _stale(info, self.project.config.refresh.lock_stale_after):
            return None
        return {
            "holder": info.holder,
            "host": info.host,
            "pid": info.pid,
            "acquired_at": info.acquired_at,
            "heartbeat_at": info.heartbeat_at,
        }

    def last_failure(self) -> dict[str, Any] | None:
        """The newest failed or partial snapshot newer than the current one, else ``None``."""
        from snapkit.store import ListFilter

        store = self.project.store
        listed = store.list(ListFilter(status=("failed", "partial")), limit=1)
        if not listed:
            return None
        info = listed[0]
        pointer = store.read_pointer()
        if pointer is not None:
            if pointer.snapshot_id == info.id:
                return None
            current = store.get(pointer.snapshot_id)
            if current.created_at >= info.created_at:
                return None
        manifest = store.get(info.id)
        first = manifest.errors[0] if manifest.errors else None
        return {
            "snapshot_id": info.id,
            "created_at": info.created_at,
            "status": info.status,
            "reason": first.code if first else info.status,
            "message": first.message if first else f"the snapshot is {info.status}",
        }

    def status(self) -> dict[str, Any]:
        """The refresh status (the body of ``GET /api/refresh``)."""
        newest = self.newest()
        lock = self.lock()
        run = newest.as_json() if newest is not None else None
        return {
            "running": bool((run is not None and run["state"] == "running") or lock),
            "run": run,
            "lock": lock,
            "last_failure": self.last_failure(),
        }

    async def subscribe(self, run_id: str) -> AsyncIterator[dict[str, Any]]:
        """Yield the run's JSON on every change until it ends (nothing for an unknown id)."""
        run = self.get(run_id)
        if run is None:
            return
        async for state in run.changes():
            if state is not None:
                yield state


def _stale(info: Any, stale_after: float) -> bool:
    """``True`` for a lease the next refresh would take over (dead pid here, old heartbeat)."""
    import datetime as _dt
    import os
    import socket

    from snapkit.contracts import parse_time

    if info.host == socket.gethostname() and info.pid != os.getpid():
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    try:
        beat = parse_time(info.heartbeat_at)
    except ValueError:
        return False
    return (_dt.datetime.now(_dt.UTC) - beat).total_seconds() > stale_after


def _code(exc: SnapkitError) -> str:
    """A snake_case reason code from an error's class (``NoSnapshotError`` -> ``no_snapshot``)."""
    return _snake(type(exc).__name__)


def _snake(name: str) -> str:
    import re

    name = name.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
