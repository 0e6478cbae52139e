"""What is specific to the SQL stores, on SQLite and PostgreSQL alike: the schema and its
version table, parts as chunk rows (streamed, checked, replaced when damaged), staged parts of
aborted and killed writers, the pointer's recovery and its history, a lost commit answer."""

from __future__ import annotations

import logging
import os
import stat
import time
import tracemalloc
from pathlib import Path

import pytest

from snapkit.contracts import PartRef
from snapkit.errors import CorruptSnapshotError, PointerConflictError, StoreError
from snapkit.testing.store_kit import commit, record_lines, write_part
from snapkit.testing.store_kit import manifest as make_manifest
from snapkit_sql_store import open_sqlite
from snapkit_sql_store.codec import CHUNK_BYTES
from snapkit_sql_store.schema import LATEST
from snapkit_sql_store.store import SqlStore
from snapkit_sql_store.testing import damage_part


def _rows(count: int, tag: str = "r") -> list[dict[str, object]]:
    return [{"id": f"{tag}{i}", "n": i, "name": f"row {i}"} for i in range(count)]


def _wide_rows(count: int) -> list[dict[str, object]]:
    """Rows of about 1 KiB each (few records, many bytes: quick to encode)."""
    return [{"id": i, "pad": f"{i:08d}" * 128} for i in range(count)]


def _count(store: SqlStore, table: str) -> int:
    with store.backend.read() as db:
        row = db.one(f"SELECT count(*) FROM {{p}}{table}")
    assert row is not None
    return int(row[0])


# -- the schema ----------------------------------------------------------------------------


def test_first_write_creates_the_schema_and_records_its_version(store: SqlStore) -> None:
    assert store.backend.schema_version() is None
    store.read_pointer()
    store.list()
    assert store.backend.schema_version() is None, "reads must not create the tables"
    commit(store, payload=1)
    assert store.backend.schema_version() == LATEST
    with store.backend.read() as db:
        rows = db.all("SELECT version, applied_by FROM {p}schema_version ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, LATEST + 1))
    assert all(str(r[1]).startswith("snapkit-sql-store ") for r in rows)


def test_a_schema_newer_than_the_package_is_refused_with_a_message(
    store: SqlStore, open_at, tmp_path: Path
) -> None:
    commit(store, payload=1)
    with store.backend.write() as db:
        db.execute(
            "INSERT INTO {p}schema_version (version, applied_at, applied_by) VALUES (?, ?, ?)",
            (LATEST + 1, "2030-01-01T00:00:00Z", "the future"),
        )
    other = open_at(tmp_path / "store")
    with pytest.raises(StoreError, match="upgrade snapkit-sql-store"):
        other.read_pointer()


def test_two_handles_creating_a_new_store_at_once_create_it_once(open_at, tmp_path: Path) -> None:
    first, second = open_at(tmp_path / "store"), open_at(tmp_path / "store")
    first.begin().abort()
    second.begin().abort()
    assert commit(second, payload=1).pointer is not None
    assert first.backend.schema_version() == LATEST


def test_sqlite_store_is_one_private_file_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store.sqlite3"
    store = open_sqlite(path)
    store.list()
    assert not path.parent.exists(), "reads must not create the folder or the file"
    commit(store, payload=1, records={"t": _rows(10)})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with store.backend.read() as db:
        assert db.one("PRAGMA journal_mode") == ("wal",)
    store.close()


def test_sqlite_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        open_sqlite(tmp_path)


def test_sqlite_file_that_is_not_a_database_gives_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = open_sqlite(path)
    with pytest.raises(StoreError, match="is not a SQLite database") as caught:
        store.list()
    assert "\n" not in str(caught.value)


# -- parts ---------------------------------------------------------------------------------


def test_a_large_part_spans_many_chunk_rows_and_reads_back(store: SqlStore) -> None:
    store.compression_level = 0  # plain bytes: the chunk count follows the size exactly
    store.chunk_size = 0  # a whole part (chunked parts: tests/test_chunks.py)
    rows = _wide_rows(2600)
    result = commit(store, records={"big": rows})
    ref = store.get(result.snapshot_id).part("big")
    assert ref.bytes > 2 * CHUNK_BYTES
    with store.backend.read() as db:
        chunks = db.one("SELECT chunks, codec FROM {p}parts WHERE sha256 = ?", (ref.sha256,))
    assert chunks == (-(-ref.bytes // CHUNK_BYTES), "raw")
    assert list(store.iter_part_lines(ref.sha256)) == record_lines(rows)
    assert b"".join(store.iter_part_blocks(ref.sha256, verify=False)) == b"".join(
        record_lines(rows)
    )
    assert store.verify().ok


@pytest.mark.parametrize("level", [0, 3])
@pytest.mark.parametrize("verify", [True, False])
def test_a_flipped_bit_in_a_middle_chunk_is_caught_by_every_read(
    store: SqlStore, level: int, verify: bool
) -> None:
    store.compression_level = level
    rows = (
        _wide_rows(2600)
        if level == 0
        else [{"id": i, "blob": os.urandom(512).hex()} for i in range(2600)]
    )
    result = commit(store, records={"big": rows})
    sha = store.get(result.snapshot_id).part("big").sha256
    damage_part(store, sha, "flip")
    with pytest.raises(CorruptSnapshotError):
        for _block in store.iter_part_blocks(sha, verify=verify):
            pass
    with pytest.raises(CorruptSnapshotError):
        list(store.iter_part_lines(sha))
    assert any(p.ref == sha for p in store.verify().problems)


def test_part_writes_and_reads_stream_without_holding_the_part_in_memory(
    store: SqlStore,
) -> None:
    block = os.urandom(1 << 18)  # incompressible: every byte written is a byte stored
    total = 48 * len(block)
    txn = store.begin()
    tracemalloc.start()
    try:
        writer = txn.part_writer()
        for _ in range(48):
            writer.write(block)
        _sha, size = writer.close()
        _now, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        txn.abort()
    finally:
        tracemalloc.stop()
    assert size == total
    assert write_peak < 8 * CHUNK_BYTES, f"writing {total} bytes peaked at {write_peak}"

    txn = store.begin()
    ref = write_part(txn, "blob", [{"x": block.hex()} for _ in range(12)], chunk=1)
    txn.commit(make_manifest(parts=[ref]), move_pointer=True, expected_generation=0)
    tracemalloc.start()
    try:
        read = sum(len(b) for b in store.iter_part_blocks(ref.sha256))
        _now, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == ref.bytes > 6 * CHUNK_BYTES
    assert read_peak < 8 * CHUNK_BYTES, f"reading {read} bytes peaked at {read_peak}"


def test_abort_and_commit_leave_no_staged_chunks(store: SqlStore) -> None:
    txn = store.begin()
    write_part(txn, "t", _rows(500, "aborted"))
    txn.abort()
    assert _count(store, "part_chunks") == 0 and _count(store, "uploads") == 0
    txn = store.begin()
    kept = write_part(txn, "kept", _rows(50, "kept"))
    write_part(txn, "unused", _rows(50, "unused"))  # staged, not in the manifest
    txn.commit(make_manifest(parts=[kept]), move_pointer=True, expected_generation=0)
    with store.backend.read() as db:
        blobs = {r[0] for r in db.all("SELECT DISTINCT blob_id FROM {p}part_chunks")}
        named = {r[0] for r in db.all("SELECT blob_id FROM {p}parts")}
    assert blobs == named and len(named) == 1
    assert _count(store, "uploads") == 0
    assert store.verify().ok


def test_staged_parts_of_a_killed_writer_are_invisible_and_cleaned_by_the_next_transaction(
    store: SqlStore, open_at, tmp_path: Path
) -> None:
    commit(store, payload="before")
    pid = os.fork()
    if pid == 0:  # the child stages a part and dies without commit or abort
        try:
            child = open_at(tmp_path / "store")
            txn = child.begin()
            writer = txn.part_writer()
            writer.write(b"".join(record_lines(_rows(5000, "doomed"))))
            writer.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert _count(store, "uploads") == 1 and _count(store, "part_chunks") >= 1
    assert [i.id for i in store.list()] and store.verify().ok  # nothing of it shows
    assert _count(store, "parts") == 0
    store.begin().abort()  # the next transaction removes the dead writer's staging
    assert _count(store, "uploads") == 0 and _count(store, "part_chunks") == 0


def test_a_live_writers_staging_is_left_alone(store: SqlStore) -> None:
    txn = store.begin()
    writer = txn.part_writer()
    writer.write(b"".join(record_lines(_rows(100))))
    other_txn = store.begin()  # cleans only what dead or old writers left
    other_txn.abort()
    sha, size = writer.close()
    ref = PartRef(name="t", sha256=sha, records=100, bytes=size, oracle="t")
    result = txn.commit(make_manifest(parts=[ref]), move_pointer=True, expected_generation=0)
    assert list(store.iter_part_lines(sha)) == record_lines(_rows(100))
    assert result.pointer is not None


def test_commit_replaces_a_damaged_stored_copy_it_wrote_again(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _rows(300)
    first = commit(store, payload=1, records={"t": rows})
    sha = store.get(first.snapshot_id).part("t").sha256
    damage_part(store, sha, "flip")
    with caplog.at_level(logging.WARNING):
        second = commit(store, payload=2, records={"t": rows})
    assert "damaged" in caplog.text
    assert second.pointer is not None
    assert list(store.iter_part_lines(sha)) == record_lines(rows)
    assert store.verify().ok


def test_commit_refuses_to_point_at_a_damaged_part_it_did_not_write(store: SqlStore) -> None:
    first = commit(store, payload=1, records={"t": _rows(300)})
    ref = store.get(first.snapshot_id).part("t")
    damage_part(store, ref.sha256, "truncate")
    txn = store.begin()
    with pytest.raises(StoreError, match="stored damaged"):
        txn.commit(make_manifest(payload=2, parts=[ref]), move_pointer=True, expected_generation=1)
    assert store.read_pointer() == first.pointer


def test_commit_refuses_a_manifest_that_references_an_unknown_part(store: SqlStore) -> None:
    txn = store.begin()
    ghost = PartRef(name="ghost", sha256="ab" * 32, records=1, bytes=3, oracle="ghost")
    with pytest.raises(StoreError, match="not written in this transaction"):
        txn.commit(make_manifest(parts=[ghost]), move_pointer=True, expected_generation=0)
    assert store.read_pointer() is None and store.list() == []


# -- the pointer and its history -----------------------------------------------------------


def test_every_pointer_move_is_one_history_row_in_the_same_transaction(store: SqlStore) -> None:
    for i in range(5):
        commit(store, payload=i)
    with pytest.raises(PointerConflictError):
        commit(store, payload="late", expected_generation=2)
    moves = [e for e in store.history() if e.event == "pointer_moved"]
    assert [e.generation for e in moves] == [1, 2, 3, 4, 5]
    recorded = [e for e in store.history() if e.event == "snapshot_recorded"]
    assert len(recorded) == 1  # the conflicting snapshot is recorded, not made current
    pointer = store.read_pointer()
    assert pointer is not None and pointer.generation == 5
    assert moves[-1].snapshot_id == pointer.snapshot_id


def test_a_damaged_pointer_row_is_recovered_with_a_warning(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    good = commit(store, payload=1, records={"t": _rows(10)})
    commit(store, payload="bad", status="failed")
    with store.backend.write() as db:
        db.execute("UPDATE {p}pointer SET snapshot_id = ? WHERE id = 1", ("../etc",))
    with caplog.at_level(logging.WARNING):
        pointer = store.read_pointer()
    assert pointer is not None and pointer.snapshot_id == good.snapshot_id
    assert pointer.generation == 2
    assert "recovered" in caplog.text
    report = store.verify()
    assert report.ok and report.pointer_recovered


def test_a_lost_pointer_row_is_recovered_and_skips_a_snapshot_with_a_damaged_part(
    store: SqlStore,
) -> None:
    older = commit(store, payload=1, records={"t": _rows(10, "a")})
    newer = commit(store, payload=2, records={"t": _rows(10, "b")})
    damage_part(store, store.get(newer.snapshot_id).part("t").sha256, "flip")
    with store.backend.write() as db:
        db.execute("DELETE FROM {p}pointer")
    pointer = store.read_pointer()
    assert pointer is not None and pointer.snapshot_id == older.snapshot_id
    assert pointer.generation == 3


# -- a commit whose answer is lost -----------------------------------------------------------


def _lose_commit_answer(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, *, applied: bool, calls: list[int]
) -> None:
    """Make the next COMMIT's answer get lost: after the commit happened, or before."""
    backend = store.backend
    real = backend._commit  # type: ignore[attr-defined]
    error = _connection_lost(store)

    def lossy(conn: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            if applied:
                real(conn)
            else:
                _rollback(store, conn)
            raise error
        real(conn)

    monkeypatch.setattr(backend, "_commit", lossy)


def _connection_lost(store: SqlStore) -> Exception:
    if store.key == "postgresql":
        import psycopg

        return psycopg.OperationalError("server closed the connection unexpectedly")
    import sqlite3

    return sqlite3.OperationalError("disk I/O error")


def _rollback(store: SqlStore, conn: object) -> None:
    conn.execute("ROLLBACK")  # type: ignore[attr-defined]


def test_a_commit_whose_answer_is_lost_after_it_happened_counts_as_done(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    commit(store, payload=1)
    calls: list[int] = []
    _lose_commit_answer(store, monkeypatch, applied=True, calls=calls)
    with caplog.at_level(logging.WARNING):
        result = commit(store, payload=2, records={"t": _rows(20)})
    assert calls, "the lost answer was not injected"
    assert "counting the commit as done" in caplog.text
    assert result.pointer is not None and result.pointer.generation == 2
    assert store.read_pointer() == result.pointer
    moves = [e for e in store.history() if e.event == "pointer_moved"]
    assert [e.generation for e in moves] == [1, 2]
    assert _count(store, "uploads") == 0
    assert store.verify().ok


def test_a_commit_whose_answer_is_lost_and_that_did_not_happen_raises_and_leaves_nothing(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = commit(store, payload=1)
    calls: list[int] = []
    _lose_commit_answer(store, monkeypatch, applied=False, calls=calls)
    with pytest.raises(StoreError, match="did not happen") as caught:
        commit(store, payload=2, records={"t": _rows(20)})
    assert "\n" not in caught.value.message
    assert store.read_pointer() == first.pointer
    assert len(store.list()) == 1
    assert _count(store, "part_chunks") == 0 and _count(store, "uploads") == 0
    assert store.verify().ok


@pytest.mark.parametrize("expected", ["read", None])
def test_a_lost_answer_counts_as_done_from_the_history_when_the_pointer_moved_on_since(
    store: SqlStore,
    open_at,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    expected: str | None,
) -> None:
    commit(store, payload=1)
    other = open_at(tmp_path / "store")
    backend = store.backend
    real = backend._commit  # type: ignore[attr-defined]
    calls: list[int] = []

    def lossy_then_overtaken(conn: object) -> None:
        calls.append(1)
        real(conn)
        if len(calls) == 1:
            commit(other, payload="overtakes")  # moves the pointer on before we look
            raise _connection_lost(store)

    monkeypatch.setattr(backend, "_commit", lossy_then_overtaken)
    kwargs = {} if expected == "read" else {"expected_generation": None}
    result = commit(store, payload=2, **kwargs)
    assert result.pointer is not None and result.pointer.generation == 2
    assert result.pointer.snapshot_id == result.snapshot_id
    pointer = store.read_pointer()
    assert pointer is not None and pointer.generation == 3
    assert store.verify().ok


def test_part_writers_in_parallel_threads_stage_into_one_commit(store: SqlStore) -> None:
    import threading

    txn = store.begin()
    refs: dict[str, PartRef] = {}

    def stream(name: str) -> None:
        refs[name] = write_part(txn, name, _wide_rows(1500) if name == "a" else _rows(4000, name))

    threads = [threading.Thread(target=stream, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = txn.commit(
        make_manifest(parts=[refs[n] for n in ("a", "b", "c")]),
        move_pointer=True,
        expected_generation=0,
    )
    assert result.pointer is not None
    assert list(store.iter_part_lines(refs["b"].sha256)) == record_lines(_rows(4000, "b"))
    assert _count(store, "uploads") == 0
    assert store.verify().ok


def test_a_lease_heartbeat_from_a_timer_thread_renews_it(store: SqlStore) -> None:
    import threading

    with store.lock("timed", 3600.0) as lease:
        first = lease.info.heartbeat_at
        time.sleep(0.002)
        beat = threading.Timer(0.0, lease.heartbeat)
        beat.start()
        beat.join()
        info = store.lock_info()
        assert info is not None and info.holder == "timed" and info.heartbeat_at > first
    assert store.lock_info() is None
