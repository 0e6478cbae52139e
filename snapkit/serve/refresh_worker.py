"""A refresh in its own process, for the server: ``python -m snapkit.serve.refresh_worker
CONFIG [NICE]``.

The server runs the admin refresh here rather than in one of its threads, so the refresh's
CPU work (decoding, validating, compressing) never holds the server's interpreter lock while
it answers reads; ``NICE`` (``serve.refresh_nice``) is added to the process's nice value
first, so that the reads get the CPU before the refresh when both want it. The worker loads
the same config and plugins and calls :meth:`snapkit.project.Project.refresh` (the engine of
the CLI and the Python API). It writes one JSON object a line on stdout: ``{"started":
{"pid", "nice"}}`` first (its process id and nice value), ``{"progress": {...}}`` per
update, then ``{"outcome": {...}}`` or ``{"error": {...}}``. Nothing it writes holds a
record value.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, TextIO


def _emitter(out: TextIO) -> Any:
    lock = threading.Lock()
    broken = [False]

    def emit(message: dict[str, Any]) -> None:
        if broken[0]:
            return
        with lock:
            try:
                out.write(json.dumps(message) + "\n")
                out.flush()
            except (BrokenPipeError, ValueError):  # the server went away: finish quietly
                broken[0] = True

    return emit


def run(config: str, out: TextIO) -> int:
    """Refresh the project of ``config``, reporting to ``out``; the CLI's exit code."""
    from snapkit.errors import SnapkitError
    from snapkit.project import Project

    emit = _emitter(out)
    emit({"started": {"pid": os.getpid(), "nice": os.nice(0) if hasattr(os, "nice") else 0}})

    def progress(update: Any) -> None:
        emit(
            {
                "progress": {
                    "oracle": update.oracle,
                    "state": update.state,
                    "records": update.records,
                    "attempt": update.attempt,
                }
            }
        )

    try:
        # snapkit's own process: GC pacing on, as in the CLI (see snapkit.gcpace)
        outcome = Project.load(config, gc_pacing=True).refresh(progress=progress)
    except SnapkitError as exc:
        emit({"error": {"type": type(exc).__name__, "message": exc.message}})
        return exc.exit_code
    emit(
        {
            "outcome": {
                "snapshot_id": outcome.snapshot_id,
                "status": outcome.status,
                "pointer_moved": outcome.pointer_moved,
                "errors": [{"code": e.code, "message": e.message} for e in outcome.errors],
            }
        }
    )
    return 0


def lower_priority(nice: int) -> None:
    """Add ``nice`` to this process's nice value (a no-op for 0, and on Windows, which has
    no nice values)."""
    if nice and hasattr(os, "nice"):
        os.nice(nice)


if __name__ == "__main__":  # pragma: no cover - run by the server as a process
    lower_priority(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    sys.exit(run(sys.argv[1], sys.stdout))
