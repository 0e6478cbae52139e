"""Several processes on one object store: the pointer's compare-and-swap and the lease hold up.

Eight processes race 50 commits each: every commit either wins (the pointer moves once, one
history event) or gets PointerConflictError; nothing is lost or doubled. Eight processes race
for the lease: exactly one gets it.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

from snapkit.errors import LockHeldError, PointerConflictError
from snapkit.testing.store_kit import commit
from snapkit_object_store.store import ObjectStore

WORKERS = 8
COMMITS = 50

_fork = multiprocessing.get_context("fork")


def _race_commits(
    open_store: Callable[[Path], ObjectStore],
    path: Path,
    worker: int,
    start: object,
    results: object,
) -> None:
    store = open_store(path)
    wins = conflicts = 0
    start.wait()  # type: ignore[attr-defined]
    for i in range(COMMITS):
        pointer = store.read_pointer()
        generation = pointer.generation if pointer else 0
        try:
            commit(
                store,
                payload=[worker, i],
                expected_generation=generation,
                records={"rows": [{"w": worker, "i": i}]} if i % 10 == 0 else None,
            )
        except PointerConflictError:
            conflicts += 1
        else:
            wins += 1
    results.put((worker, wins, conflicts))  # type: ignore[attr-defined]


def test_racing_commits_move_the_pointer_exactly_once_per_win(
    open_at: Callable[[Path], ObjectStore], tmp_path: Path
) -> None:
    path = tmp_path / "store"
    open_at(path).begin().abort()
    start = _fork.Barrier(WORKERS)
    results = _fork.Queue()
    procs = [
        _fork.Process(target=_race_commits, args=(open_at, path, w, start, results))
        for w in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0

    wins = sum(o[1] for o in outcomes)
    assert sum(o[1] + o[2] for o in outcomes) == WORKERS * COMMITS
    assert wins >= 1
    store = open_at(path)
    pointer = store.read_pointer()
    assert pointer is not None
    history = list(store.history())
    moves = [e for e in history if e.event == "pointer_moved"]
    assert len(moves) == wins == pointer.generation
    assert [e.generation for e in moves] == list(range(1, wins + 1))
    assert moves[-1].snapshot_id == pointer.snapshot_id
    recorded = [e for e in history if e.event == "snapshot_recorded"]
    assert len(recorded) == WORKERS * COMMITS - wins
    assert len({e.snapshot_id for e in history}) == len(history) == WORKERS * COMMITS
    assert len(store.list()) == WORKERS * COMMITS
    assert store.verify().ok


def _try_lock(
    open_store: Callable[[Path], ObjectStore],
    path: Path,
    worker: int,
    start: object,
    tried: object,
    results: object,
) -> None:
    store = open_store(path)
    start.wait()  # type: ignore[attr-defined]
    try:
        lease = store.lock(f"worker-{worker}", 3600.0)
    except LockHeldError:
        results.put((worker, False))  # type: ignore[attr-defined]
        tried.wait()  # type: ignore[attr-defined]
        return
    results.put((worker, True))  # type: ignore[attr-defined]
    tried.wait()  # type: ignore[attr-defined]
    lease.__exit__(None, None, None)


def test_exactly_one_of_eight_processes_gets_the_lock(
    open_at: Callable[[Path], ObjectStore], tmp_path: Path
) -> None:
    path = tmp_path / "store"
    open_at(path).begin().abort()
    start, tried = _fork.Barrier(WORKERS), _fork.Barrier(WORKERS)
    results = _fork.Queue()
    procs = [
        _fork.Process(target=_try_lock, args=(open_at, path, w, start, tried, results))
        for w in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    assert sum(1 for _w, got in outcomes if got) == 1
    assert open_at(path).lock_info() is None
