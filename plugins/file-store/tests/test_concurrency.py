"""Several processes on one file store: the pointer CAS and the refresh lease hold up."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from pathlib import Path

from snapkit.errors import LockHeldError, PointerConflictError
from snapkit.testing.store_kit import commit
from snapkit_file_store import FileStore

WORKERS = 8
COMMITS = 50

_fork = multiprocessing.get_context("fork")


def _race_commits(path: Path, worker: int, start: object, results: object) -> None:
    store = FileStore(path)
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


def test_racing_commits_move_the_pointer_exactly_once_per_win(tmp_path: Path) -> None:
    path = tmp_path / "store"
    FileStore(path)
    start = _fork.Barrier(WORKERS)
    results = _fork.Queue()
    procs = [
        _fork.Process(target=_race_commits, args=(path, w, start, results)) for w in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0

    wins = sum(o[1] for o in outcomes)
    assert sum(o[1] + o[2] for o in outcomes) == WORKERS * COMMITS
    store = FileStore(path)
    pointer = store.read_pointer()
    assert pointer is not None
    moves = [e for e in store.history() if e.event == "pointer_moved"]
    assert len(moves) == wins
    assert pointer.generation == wins
    assert [e.generation for e in moves] == list(range(1, wins + 1))
    assert moves[-1].snapshot_id == pointer.snapshot_id
    assert len(store.list()) == WORKERS * COMMITS
    assert store.verify().ok


def _try_lock(path: Path, worker: int, start: object, tried: object, results: object) -> None:
    store = FileStore(path)
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


def test_exactly_one_of_eight_processes_gets_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "store"
    FileStore(path)
    start, tried = _fork.Barrier(WORKERS), _fork.Barrier(WORKERS)
    results = _fork.Queue()
    procs = [
        _fork.Process(target=_try_lock, args=(path, w, start, tried, results))
        for w in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    winners = [worker for worker, got in outcomes if got]
    assert len(winners) == 1
    assert FileStore(path).lock_info() is None


def _hold_lock_forever(path: Path, ready: object) -> None:
    store = FileStore(path)
    store.lock("killed-holder", 3600.0)
    ready.set()  # type: ignore[attr-defined]
    signal.pause()


def test_lock_of_a_sigkilled_holder_is_taken_over_with_a_warning(
    tmp_path: Path, caplog: object
) -> None:
    path = tmp_path / "store"
    store = FileStore(path)
    ready = _fork.Event()
    holder = _fork.Process(target=_hold_lock_forever, args=(path, ready))
    holder.start()
    assert ready.wait(30)
    try:
        try:
            store.lock("too-early", 3600.0)
        except LockHeldError as exc:
            assert "killed-holder" in str(exc)
            assert str(holder.pid) in str(exc)
        else:
            raise AssertionError("the lock was free while its holder was alive")
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(30)
    assert holder.exitcode == -signal.SIGKILL
    with caplog.at_level(logging.WARNING, logger="snapkit_file_store"):  # type: ignore[attr-defined]
        lease = store.lock("successor", 3600.0)
    with lease:
        assert lease.info.holder == "successor"
        assert "killed-holder" in caplog.text  # type: ignore[attr-defined]
        assert "stale" in caplog.text  # type: ignore[attr-defined]


def test_threads_reading_one_handle_while_another_commits_see_consistent_data(
    tmp_path: Path,
) -> None:
    import threading

    path = tmp_path / "store"
    reader = FileStore(path)
    writer = FileStore(path)
    committed: list[str] = []
    problems: list[str] = []
    done = threading.Event()

    def read_loop() -> None:
        while not done.is_set():
            current = reader.latest_successful()
            listed = [info.id for info in reader.list()]
            if len(set(listed)) != len(listed):
                problems.append("duplicate ids in a listing")
            if current is not None and current.id not in listed + committed:
                problems.append("current snapshot not listed")
            moves = [e.generation for e in reader.history() if e.event == "pointer_moved"]
            if moves != list(range(1, len(moves) + 1)):
                problems.append("history generations out of order")

    threads = [threading.Thread(target=read_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for i in range(40):
            committed.append(commit(writer, payload=i).snapshot_id)
    finally:
        done.set()
        for thread in threads:
            thread.join(30)
    assert problems == []
    current = reader.latest_successful()
    assert current is not None and current.id == committed[-1]
    assert len(reader.list()) == 40
