"""SIGKILL of a refresh at random moments, on SQLite and PostgreSQL.

A forked child runs real refreshes (the engine: lease, heartbeats, a streamed part, the commit)
of a small oracle in a loop; the parent kills it at a random moment within about one refresh's
duration (learnt as it goes, so a busy machine still spreads the kills over the whole refresh),
50 times per store, so the kills land all over the refresh and commit path; every fourth child
is let commit once first, so commits do land between kills. After every kill the store
verifies, and the pointer names a successful snapshot whose parts read back whole (or nothing,
before the first commit). At the end the next transaction has removed every staged part the
killed refreshes left.
"""

from __future__ import annotations

import os
import random
import select
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from snapkit.config import config_from_data
from snapkit.manager import PluginManager, PluginSelection
from snapkit.parts import iter_records
from snapkit.project import Project
from snapkit.testing.engine import OraclePlugin
from snapkit_sql_store.store import SqlStore

KILLS = 50
ROWS = 500


_DAY = [0]
"""The day the next refresh's data is of (each child starts from its own)."""


def _project(store_settings: dict[str, Any], folder: Path) -> Project:
    """A project whose store is opened by its first use (so, in the child)."""

    def users(call: Any) -> Any:
        _DAY[0] += 1
        today = _DAY[0]
        return ({"id": i, "name": f"user {i}", "day": today} for i in range(ROWS))

    plugin = OraclePlugin()
    plugin.add("users", users, records=True, key_column="id")
    plugin.add("meta", lambda call: {"rows": ROWS})
    data = {"store": store_settings, "plugins": {}, "refresh": {"oracles": ["users", "meta"]}}
    config = config_from_data(data, None, folder)
    manager = PluginManager(PluginSelection(enabled=("sql-store",)), config)
    manager.load_entry_points()
    manager.register(plugin, name="inline-0")
    return Project(config, manager)


def _refresh_until_killed(project: Project, day: int, done_fd: int) -> None:
    _DAY[0] = day
    try:
        while True:
            project.refresh()
            os.write(done_fd, b"c")  # tell the parent a commit landed
    except BaseException:
        traceback.print_exc()
        os._exit(1)


def _wait_for_commit(read_fd: int, timeout: float = 60.0) -> bool:
    ready, _w, _x = select.select([read_fd], [], [], timeout)
    return bool(ready) and os.read(read_fd, 1) == b"c"


def _check(store: SqlStore) -> str | None:
    report = store.verify()
    assert report.ok, report.problems
    current = store.latest_successful()
    if current is None:
        assert store.read_pointer() is None
        return None
    assert current.status == "success"
    assert current.payloads["meta"] == {"rows": ROWS}
    for part in current.parts:
        assert sum(1 for _ in iter_records(store, part)) == part.records == ROWS
    moves = [e for e in store.history() if e.event == "pointer_moved"]
    pointer = store.read_pointer()
    assert pointer is not None and moves[-1].generation == pointer.generation
    assert moves[-1].snapshot_id == pointer.snapshot_id == current.id
    return current.id


def test_refreshes_killed_at_random_moments_leave_the_store_verified(
    open_at: Callable[[Path], SqlStore], tmp_path: Path
) -> None:
    path = tmp_path / "store"
    probe = open_at(path)
    if probe.key == "sqlite":
        settings: dict[str, Any] = {"kind": "sqlite", "path": str(path / "store.sqlite3")}
    else:
        backend: Any = probe.backend
        settings = {"kind": "postgresql", "dsn": backend._conninfo, "schema": backend.schema}
    probe.close()
    rng = random.Random(20261206)
    seen: set[str] = set()
    refresh_seconds = 0.1  # learnt below: how long one refresh takes on this machine now
    project = _project(settings, tmp_path)  # its store opens in each child, never here
    for kill in range(KILLS):
        read_fd, write_fd = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _refresh_until_killed(project, kill * 100, write_fd)
        os.close(write_fd)
        if kill % 4 == 0:  # every fourth run: let one commit land, then kill the next one
            assert _wait_for_commit(read_fd), "no refresh committed within 60 s"
            refresh_seconds = time.monotonic() - started
        # a random moment within about one refresh: before, inside or after its commit
        time.sleep(rng.uniform(0.0, 1.3 * refresh_seconds))
        os.kill(pid, signal.SIGKILL)
        os.close(read_fd)
        _pid, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
            "the refresh failed by itself before it was killed (its traceback is above)"
        )
        store = open_at(path)
        snapshot_id = _check(store)
        if snapshot_id:
            seen.add(snapshot_id)
        store.close()
    assert len(seen) >= 5, "the kills never let commits through; the test proves little"
    store = open_at(path)
    store.begin().abort()  # the next transaction cleans what the killed refreshes staged
    with store.backend.read() as db:
        uploads = db.one("SELECT count(*) FROM {p}uploads")
        strays = db.one(
            "SELECT count(*) FROM {p}part_chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM {p}parts p WHERE p.blob_id = c.blob_id)"
        )
    assert uploads == (0,) and strays == (0,)
