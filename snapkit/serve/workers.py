"""How ``snapkit serve`` runs its server processes (``serve.workers``; see docs/serve.md,
"Workers").

One worker is uvicorn in this process, as a host would run :func:`snapkit.serve.create_app`.
Several: this process binds the port (:func:`listening_socket`: on Linux one socket per
worker, ``SO_REUSEPORT``, else one shared socket) and a Unix socket in a private directory
for the owner (:mod:`snapkit.serve.forward`), forks the workers, and supervises them. Every
worker builds its own app on its own :class:`~snapkit.project.Project` (the store opened in
the worker, never shared across a fork), freezes its start-up objects
(:mod:`snapkit.serve.process`) and accepts connections. The first worker, the owner,
answers the routes that keep state in the process; the others forward those to it.

The parent waits: SIGINT or SIGTERM stops every worker (SIGKILL after
:data:`STOP_TIMEOUT` s) and it exits 0; a worker that exits on its own (crashed, killed)
stops the others and the parent exits 1 -- it never restarts them. A worker whose parent is
gone stops too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from snapkit.project import Project

log = logging.getLogger("snapkit.serve")

MAX_WORKERS = 64
"""The most ``serve.workers`` takes."""

STOP_TIMEOUT = 10.0
"""Seconds the workers get to stop (uvicorn's graceful shutdown is 5 s) before SIGKILL."""

BACKLOG = 2048

Build = Callable[["Project"], Any]
"""Builds a worker's app from its project (:func:`snapkit.serve.create_app` by default)."""


def uvicorn_config(app: ASGIApp, log_level: str, **options: Any) -> uvicorn.Config:
    """The uvicorn settings of every ``snapkit serve`` worker."""
    return uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=5,
        **options,
    )


def serve_one(
    app: ASGIApp, sock: socket.socket, log_level: str, *, freeze: bool = True, **options: Any
) -> None:
    """Serve ``app`` on ``sock`` in this process until interrupted (one worker).

    :param freeze: freeze the start-up objects first (:mod:`snapkit.serve.process`; off only
        to measure what it changes).
    :param options: more :class:`uvicorn.Config` settings.
    """
    config = uvicorn_config(app, log_level, **options)
    if freeze:  # this process is snapkit's own (a host mounting create_app keeps its GC)
        _freeze("")
    uvicorn.Server(config).run(sockets=[sock])


def _freeze(who: str) -> None:
    from snapkit.serve.process import freeze_startup_objects

    frozen = freeze_startup_objects()
    log.debug("%sfroze %d start-up objects out of the garbage collector's reach", who, frozen)


def serve_many(
    project: Project,
    sock: socket.socket,
    workers: int,
    log_level: str,
    build: Build | None = None,
    *,
    freeze: bool = True,
    **options: Any,
) -> int:
    """Fork ``workers`` processes serving ``project`` on ``sock``; supervise them until
    SIGINT/SIGTERM (0) or until one exits on its own (1). The exit code.

    :param build: builds a worker's app from its project (default: ``create_app``).
    :param freeze: and ``options``: as for :func:`serve_one`, in every worker.
    """
    runtime = tempfile.mkdtemp(prefix="snapkit-serve-")  # private: mode 0700
    path = os.path.join(runtime, "owner.sock")
    owner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listeners = _listeners(sock, workers)
    try:
        owner.bind(path)
        owner.listen(BACKLOG)
        for listener in listeners:
            listener.listen(BACKLOG)
        secret = secrets.token_hex(16)
        parent = os.getpid()
        pids: list[int] = []
        for index in range(workers):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the worker process (covered by the tests' servers)
                code = 1
                try:
                    for other in listeners:  # a worker keeps its own listener only
                        if other is not listeners[index]:
                            other.close()
                    code = _worker(
                        project,
                        (listeners[index], owner, path),
                        index,
                        secret,
                        parent,
                        log_level,
                        build,
                        freeze,
                        options,
                    )
                finally:
                    os._exit(code)
            pids.append(pid)
        owner.close()
        for listener in listeners:
            listener.close()
        log.info("serving with %d workers (pids %s)", workers, ", ".join(map(str, pids)))
        return _supervise(pids)
    finally:
        owner.close()
        shutil.rmtree(runtime, ignore_errors=True)


def listening_socket(host: str, port: int, workers: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` for ``workers`` processes (not listening yet).

    Where the kernel balances a port's connections over sockets (Linux ``SO_REUSEPORT``),
    it is made for that: :func:`serve_many` then gives every worker a socket of its own on
    the same port. Otherwise the workers share this one.

    :raises OSError: if the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if workers > 1 and _balanced():
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _balanced() -> bool:
    import sys

    return sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _listeners(sock: socket.socket, workers: int) -> list[socket.socket]:
    """One listening socket per worker on ``sock``'s port when ``sock`` allows it (see
    :func:`listening_socket`), else ``sock`` for all. One shared socket hands a burst of
    new connections to whichever worker wakes first (15 to 49 of 64 were seen on one of two
    workers); sockets of their own get them spread by the kernel."""
    if not _balanced() or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
        return [sock] * workers
    address = sock.getsockname()
    listeners = [sock]
    for _ in range(workers - 1):
        other = socket.socket(sock.family, socket.SOCK_STREAM)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(address)
        listeners.append(other)
    return listeners


def _worker(
    project: Project,
    listening: tuple[socket.socket, socket.socket, str],
    index: int,
    secret: str,
    parent: int,
    log_level: str,
    build: Build | None,
    freeze: bool,
    options: dict[str, Any],
) -> int:  # pragma: no cover - runs in the forked worker
    from snapkit.project import Project
    from snapkit.serve.forward import ForwardToOwner, TrustForwarded

    sock, owner, path = listening
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    # the store is opened here, in the worker: never a connection shared across the fork
    mine = Project(project.config, project.manager, gc_pacing=project.gc_pacing)
    if build is None:
        from snapkit.serve import create_app

        build = create_app
    inner: ASGIApp = build(mine)
    sockets = [sock]
    app: ASGIApp
    if index == 0:
        app = TrustForwarded(inner, secret)
        sockets.append(owner)
    else:
        owner.close()
        app = ForwardToOwner(inner, path, secret)
    config = uvicorn_config(app, log_level, **options)
    if freeze:
        _freeze(f"worker {index}: ")
    server = WorkerServer(config, parent)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
    return 0


class WorkerServer(uvicorn.Server):
    """uvicorn's server that also stops when the parent that forked it is gone."""

    def __init__(self, config: uvicorn.Config, parent: int) -> None:
        super().__init__(config)
        self.parent = parent

    async def on_tick(self, counter: int) -> bool:
        if counter % 10 == 0 and os.getppid() != self.parent:
            log.error("the snapkit serve parent process is gone: stopping")
            return True
        return await super().on_tick(counter)


def _supervise(pids: list[int]) -> int:
    """Wait for the workers; the exit code (see the module docstring)."""
    alive = set(pids)
    stopping: list[str] = []

    def stop(signum: int, frame: Any) -> None:
        if not stopping:
            stopping.append(signal.Signals(signum).name)
            _signal(alive, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    deadline: float | None = None
    try:
        while alive:
            for pid in sorted(alive):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    continue
                alive.discard(pid)
                if not stopping:
                    log.error(
                        "worker %d (pid %d) exited with %s: stopping the server",
                        pids.index(pid),
                        pid,
                        _exit_text(status),
                    )
                    code = 1
                    stopping.append("worker exit")
                    _signal(alive, signal.SIGTERM)
            if stopping and deadline is None:
                deadline = time.monotonic() + STOP_TIMEOUT
            if deadline is not None and time.monotonic() > deadline and alive:
                log.error("workers %s did not stop in time: killing them", sorted(alive))
                _signal(alive, signal.SIGKILL)
                deadline = time.monotonic() + STOP_TIMEOUT
            time.sleep(0.1)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def _signal(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _exit_text(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
