"""A refresh in its own process, for the server: ``python -m snapkit.serve.refresh_worker CONFIG``.

The server runs the admin refresh here rather than in one of its threads, so the refresh's
CPU work (decoding, validating, compressing) never holds the server's interpreter lock while
it answers reads. The worker loads the same config and plugins and calls
:meth:`snapkit.project.Project.refresh` (the engine of the CLI and the Python API). It writes
one JSON object a line on stdout: ``{"progress": {...}}`` per update, then ``{"outcome":
{...}}`` or ``{"error": {...}}``. Nothing it writes holds a record value.
"""

from __future__ import annotations

import json
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


if __name__ == "__main__":  # pragma: no cover - run by the server as a process
    sys.exit(run(sys.argv[1], sys.stdout))
