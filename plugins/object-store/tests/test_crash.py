"""SIGKILL of a refresh at random moments, on the object store (moto S3 on loopback).

A forked child runs real refreshes (the engine: lease, heartbeats, a streamed part kept as
chunks: a pack and a chunk list, the commit)
of a small oracle in a loop; the parent kills it at a random moment within about one refresh's
duration (measured as it goes, so a loaded machine still spreads the kills over the whole
refresh), 50 times, so the kills land all over the refresh and commit path; every fourth child
is let commit once first, so commits land between kills. After every kill the store verifies,
and the pointer names a successful snapshot whose parts read back whole (or nothing, before the
first commit), and the history's last move is the pointer's.
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
from snapkit.store import RetentionPolicy
from snapkit.testing.engine import OraclePlugin
from snapkit_object_store.store import ObjectStore

KILLS = 50
ROWS = 2_000
"""Enough rows (about 100 KB) that the users part is kept as chunks: packs and chunk lists."""

_DAY = [0]


def _project(store_settings: dict[str, Any], folder: Path) -> Project:
    def users(call: Any) -> Any:
        _DAY[0] += 1
        today = _DAY[0]
        # a few rows change a day: the rest are chunks the current snapshot stores already
        return (
            {"id": i, "name": f"user {i}", "day": today if i % 250 == 0 else 0} for i in range(ROWS)
        )

    plugin = OraclePlugin()
    plugin.add("users", users, records=True, key_column="id")
    plugin.add("meta", lambda call: {"rows": ROWS})
    data = {"store": store_settings, "plugins": {}, "refresh": {"oracles": ["users", "meta"]}}
    config = config_from_data(data, None, folder)
    manager = PluginManager(PluginSelection(enabled=("object-store",)), config)
    manager.load_entry_points()
    manager.register(plugin, name="inline-0")
    return Project(config, manager)


def _refresh_until_killed(project: Project, day: int, done_fd: int) -> None:
    _DAY[0] = day
    try:
        while True:
            project.refresh()
            os.write(done_fd, b"c")
    except BaseException:
        traceback.print_exc()
        os._exit(1)


def _wait_for_commit(read_fd: int, timeout: float = 60.0) -> bool:
    ready, _w, _x = select.select([read_fd], [], [], timeout)
    return bool(ready) and os.read(read_fd, 1) == b"c"


def _check(store: ObjectStore) -> str | None:
    report = store.verify()
    assert report.ok, report.problems
    current = store.latest_successful()
    if current is None:
        assert store.read_pointer() is None
        return None
    assert current.status == "success"
    assert current.payloads["meta"] == {"rows": ROWS}
    for part in current.parts:
        assert store.part_chunks(part.sha256) is not None, "the part was not kept as chunks"
        assert sum(1 for _ in iter_records(store, part)) == part.records == ROWS
    moves = [e for e in store.history() if e.event == "pointer_moved"]
    pointer = store.read_pointer()
    assert pointer is not None and moves[-1].generation == pointer.generation
    assert moves[-1].snapshot_id == pointer.snapshot_id == current.id
    return current.id


def test_refreshes_killed_at_random_moments_leave_the_store_verified(
    open_at: Callable[[Path], ObjectStore], tmp_path: Path
) -> None:
    path = tmp_path / "store"
    probe = open_at(path)
    settings: dict[str, Any] = {
        "kind": "s3",
        "endpoint_url": probe.target.endpoint_url,
        "bucket": probe.target.bucket,
        "prefix": probe.target.prefix,
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    rng = random.Random(20261206)
    seen: set[str] = set()
    refresh_seconds = 0.2
    project = _project(settings, tmp_path)
    checker = open_at(path)  # one handle: its cache holds only history events (write-once)
    for kill in range(KILLS):
        read_fd, write_fd = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _refresh_until_killed(project, kill * 100, write_fd)
        os.close(write_fd)
        if kill % 4 == 0:
            assert _wait_for_commit(read_fd), "no refresh committed within 60 s"
            refresh_seconds = time.monotonic() - started
        time.sleep(rng.uniform(0.0, 1.3 * refresh_seconds))
        os.kill(pid, signal.SIGKILL)
        os.close(read_fd)
        _pid, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
            "the refresh failed by itself before it was killed (its traceback is above)"
        )
        snapshot_id = _check(checker)
        if snapshot_id:
            seen.add(snapshot_id)
    assert len(seen) >= 5, "the kills never let commits through; the test proves little"
    checker.prune(RetentionPolicy(keep_last=1))  # orphan packs and parts of killed commits go
    assert _check(checker) in seen
    current = checker.latest_successful()
    assert current is not None
    live = {
        checker.keys.pack(ref.name)
        for part in current.parts
        if (raw := checker._raw_list(part.sha256)) is not None
        for ref in raw.packs
    }
    stored = {str(item["Key"]) for item in checker._list(checker.keys.packs, "test")}
    assert stored == live
