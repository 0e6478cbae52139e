"""Refreshes from several processes at once, and a refresh whose lock holder was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from snapkit.testing.engine import make_project

SCRIPT = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from snapkit.errors import LockHeldError
    from snapkit.testing.engine import OraclePlugin, make_project

    folder, start_at, hold = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])

    def slow(call):
        print(json.dumps({"event": "running"}), flush=True)
        time.sleep(hold)
        return {"ok": True}

    project = make_project(folder, OraclePlugin().add("slow", slow))
    project.store.read_pointer()
    while time.time() < start_at:
        time.sleep(0.005)
    try:
        outcome = project.refresh()
    except LockHeldError as exc:
        print(json.dumps({"event": "locked", "message": str(exc)}), flush=True)
        sys.exit(5)
    print(json.dumps({"event": "done", "status": outcome.status}), flush=True)
""")


def _spawn(script: Path, folder: Path, start_at: float, hold: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), str(folder), str(start_at), str(hold)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_eight_processes_start_a_refresh_at_once_and_exactly_one_runs(tmp_path: Path) -> None:
    script = tmp_path / "refresh.py"
    script.write_text(SCRIPT)
    start_at = time.time() + 3.0
    processes = [_spawn(script, tmp_path, start_at, 2.0) for _ in range(8)]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        outcomes.append((process.returncode, lines[-1]["event"], lines[-1], err))
    done = [o for o in outcomes if o[1] == "done"]
    locked = [o for o in outcomes if o[1] == "locked"]
    assert len(done) == 1, outcomes
    assert len(locked) == 7, outcomes
    assert all(code == 5 for code, *_ in locked)
    assert all(
        "refresh" in o[2]["message"].lower() or "lock" in o[2]["message"].lower() for o in locked
    )
    project = make_project(tmp_path)
    assert project.current().payloads["slow"] == {"ok": True}


def test_a_refresh_whose_holder_was_killed_is_taken_over(tmp_path: Path) -> None:
    script = tmp_path / "refresh.py"
    script.write_text(SCRIPT)
    victim = _spawn(script, tmp_path, time.time(), 60.0)
    assert victim.stdout is not None
    assert json.loads(victim.stdout.readline())["event"] == "running"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    survivor = _spawn(script, tmp_path, time.time(), 0.0)
    out, err = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, err
    assert json.loads(out.splitlines()[-1]) == {"event": "done", "status": "success"}
    project = make_project(tmp_path)
    assert project.verify().ok
