"""Chunked parts in the SQL stores: old stores stay readable, chunks are shared, pruned when no
snapshot needs them (never under a commit that does), checked by reads and ``verify``."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from snapkit.canonical import canonical_bytes
from snapkit.chunking import CHUNK_TARGET, MIN_CHUNK_TARGET
from snapkit.contracts import PartRef
from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit.store import RetentionPolicy
from snapkit.testing.store_kit import commit, record_lines, write_part
from snapkit.testing.store_kit import manifest as make_manifest
from snapkit_sql_store import open_sqlite, schema
from snapkit_sql_store.plugin import POSTGRESQL_SCHEMA, SQLITE_SCHEMA
from snapkit_sql_store.store import SqlStore
from snapkit_sql_store.testing import damage_chunk


def _rows(count: int, tag: str = "r") -> list[dict[str, object]]:
    return [{"id": f"{tag}{i}", "n": i, "name": f"row {i} of {tag}"} for i in range(count)]


def _count(store: SqlStore, table: str) -> int:
    with store.backend.read() as db:
        row = db.one(f"SELECT count(*) FROM {{p}}{table}")
    assert row is not None
    return int(row[0])


def _part(store: SqlStore, snapshot_id: str, name: str = "t") -> str:
    return store.get(snapshot_id).part(name).sha256


def _distinct_chunks(store: SqlStore, *parts: str) -> set[str]:
    return {chunk.sha256 for sha in parts for chunk in store.part_chunks(sha) or ()}


def test_chunking_is_opt_in_and_a_too_small_chunk_size_is_refused(tmp_path: Path) -> None:
    for settings in (SQLITE_SCHEMA, POSTGRESQL_SCHEMA):
        assert settings["properties"]["chunk_size"]["default"] == 0
    assert open_sqlite(tmp_path / "a.sqlite3").chunk_size == 0
    assert open_sqlite(tmp_path / "c.sqlite3", chunk_size=CHUNK_TARGET).chunk_size == CHUNK_TARGET
    with pytest.raises(StoreError, match="too small") as caught:
        open_sqlite(tmp_path / "b.sqlite3", chunk_size=MIN_CHUNK_TARGET - 1)
    assert str(MIN_CHUNK_TARGET) in (caught.value.hint or "")


def test_small_parts_stay_whole_and_large_ones_are_chunked(store: SqlStore) -> None:
    result = commit(store, payload=1, records={"small": _rows(100), "t": _rows(20_000)})
    assert store.part_chunks(_part(store, result.snapshot_id, "small")) is None
    chunks = store.part_chunks(_part(store, result.snapshot_id))
    assert chunks is not None and len(chunks) > 64
    assert _count(store, "chunks") == len({chunk.sha256 for chunk in chunks})


def test_an_old_store_of_whole_parts_is_migrated_and_stays_readable(
    open_at, tmp_path: Path
) -> None:
    old = open_at(tmp_path / "store")
    old.chunk_size = 0
    rows = _rows(20_000)
    first = commit(old, payload=1, records={"t": rows})
    with old.backend.write(exclusive=True) as db:  # what version 1 wrote: no chunk tables
        db.execute("DROP TABLE {p}chunks")
        db.execute("DROP TABLE {p}chunk_frames")
        db.execute("DELETE FROM {p}schema_version WHERE version = 2")
    old.close()
    assert old.backend.schema_version() == 1

    store = open_at(tmp_path / "store")
    assert store.read_pointer() == first.pointer  # reading migrates it to version 2
    assert store.backend.schema_version() == schema.LATEST == 2
    old_part = _part(store, first.snapshot_id)
    assert store.part_chunks(old_part) is None
    assert list(store.iter_part_lines(old_part)) == record_lines(rows)
    rows[777] = {**rows[777], "name": "changed"}
    second = commit(store, payload=2, records={"t": rows})
    new_part = _part(store, second.snapshot_id)
    assert store.part_chunks(new_part) is not None
    assert list(store.iter_part_lines(new_part)) == record_lines(rows)
    assert list(store.iter_part_lines(old_part)) == record_lines(_rows(20_000))
    assert store.verify().ok


def test_prune_removes_only_the_chunks_no_kept_snapshot_shares(store: SqlStore) -> None:
    rows = _rows(20_000)
    snapshots = []
    for day in range(3):
        rows[1000 + day * 5000] = {**rows[1000 + day * 5000], "name": f"changed on day {day}"}
        snapshots.append(commit(store, payload=day, records={"t": rows}).snapshot_id)
    parts = [_part(store, snapshot_id) for snapshot_id in snapshots]
    everything = _distinct_chunks(store, *parts)
    assert _count(store, "chunks") == len(everything)
    kept = _distinct_chunks(store, parts[-1])
    assert len(everything) - len(kept) <= 6  # the days share all but the changed chunks

    dry = store.prune(RetentionPolicy(keep_last=1), dry_run=True)
    assert dry.removed_snapshots == 2 and _count(store, "chunks") == len(everything)
    report = store.prune(RetentionPolicy(keep_last=1))
    assert report.removed_snapshots == 2 and report.removed_parts == 2
    assert report.freed_bytes == dry.freed_bytes > 0
    assert _count(store, "chunks") == len(kept)
    assert list(store.iter_part_lines(parts[-1])) == record_lines(rows)
    assert store.verify().ok


def test_a_commit_reusing_chunks_a_concurrent_prune_removed_records_nothing(
    store: SqlStore,
) -> None:
    rows = _rows(20_000, "gone")
    commit(store, payload="old", records={"t": rows})
    current = commit(store, payload="current", records={"other": _rows(10)})
    txn = store.begin()
    rows[5] = {**rows[5], "name": "changed"}
    ref = write_part(txn, "t", rows)  # reuses the old snapshot's chunks
    store.prune(RetentionPolicy(keep_last=1))  # drops the old snapshot and its chunks
    with pytest.raises(StoreError, match="removed while it was written"):
        txn.commit(
            make_manifest(payload="new", parts=[ref]),
            move_pointer=True,
            expected_generation=current.pointer.generation if current.pointer else 0,
        )
    assert store.read_pointer() == current.pointer
    assert [info.id for info in store.list()] == [current.snapshot_id]
    assert _count(store, "uploads") == 0
    assert store.verify().ok
    again = commit(store, payload="new", records={"t": rows})  # a refresh again succeeds
    assert list(store.iter_part_lines(_part(store, again.snapshot_id))) == record_lines(rows)


def test_abort_and_a_killed_writer_leave_no_chunks(
    store: SqlStore, open_at, tmp_path: Path
) -> None:
    txn = store.begin()
    write_part(txn, "t", _rows(20_000, "aborted"))
    assert _count(store, "chunks") > 0
    txn.abort()
    assert _count(store, "chunks") == 0 and _count(store, "uploads") == 0
    pid = os.fork()
    if pid == 0:  # the child stages a chunked part and dies without commit or abort
        try:
            txn = open_at(tmp_path / "store").begin()
            write_part(txn, "t", _rows(20_000, "doomed"))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert _count(store, "chunks") > 0
    assert store.verify().ok  # staged chunks are not data
    store.begin().abort()  # the next transaction removes the dead writer's staging
    assert _count(store, "chunks") == 0 and _count(store, "uploads") == 0


@pytest.mark.parametrize("how", ["flip", "delete"])
def test_verify_finds_a_damaged_chunk_and_the_next_refresh_writes_it_again(
    store: SqlStore, how: str
) -> None:
    rows = _rows(20_000)
    first = commit(store, payload=1, records={"t": rows})
    sha = _part(store, first.snapshot_id)
    damage_chunk(store, sha, 40, how)
    with pytest.raises(CorruptSnapshotError, match="chunk 40 of stored part"):
        list(store.iter_chunks(sha, [40]))
    problems = store.verify().problems
    assert any(p.kind == "part" and p.ref == sha and "chunk " in p.message for p in problems)
    if how == "flip":
        assert any(p.kind == "chunk" for p in problems)
    second = commit(store, payload=2, records={"t": rows})  # the same table, written again
    assert _part(store, second.snapshot_id) == sha
    assert list(store.iter_part_lines(sha)) == record_lines(rows)
    assert store.verify().ok


def test_a_chunked_part_reads_ranges_from_only_the_chunks_holding_them(store: SqlStore) -> None:
    rows = _rows(20_000)
    result = commit(store, payload=1, records={"t": rows})
    sha = _part(store, result.snapshot_id)
    data = b"".join(record_lines(rows))
    ranges = [(0, 10), (5, 3000), (100_000, 1), (len(data) - 7, 50), (len(data) + 5, 4)]
    assert list(store.read_part_ranges(sha, ranges)) == [
        data[offset : offset + length] for offset, length in ranges
    ]
    chunks = store.part_chunks(sha)
    assert chunks is not None
    middle = len(chunks) // 2
    damage_chunk(store, sha, middle, "flip")
    start = sum(chunks.sizes[:middle])
    assert list(store.read_part_ranges(sha, [(0, 100)])) == [data[:100]]  # another frame
    with pytest.raises(CorruptSnapshotError):
        list(store.read_part_ranges(sha, [(start + 1, 5)]))


def test_copy_into_and_out_of_a_chunked_store_keeps_ids_and_chunks(
    store: SqlStore, tmp_path: Path
) -> None:
    rows = _rows(20_000)
    first = commit(store, payload=1, records={"t": rows})
    rows[10] = {**rows[10], "name": "changed"}
    second = commit(store, payload=2, records={"t": rows})
    whole = open_sqlite(tmp_path / "whole.sqlite3", chunk_size=0)
    back = open_sqlite(tmp_path / "back.sqlite3", chunk_size=CHUNK_TARGET)
    try:
        for source, target in ((store, whole), (whole, back)):
            for snapshot_id in (first.snapshot_id, second.snapshot_id):
                assert target.import_snapshot(source.get(snapshot_id), source.open_part)
            target.import_history(source.history(), source.read_pointer())
            assert target.verify().ok
        assert whole.part_chunks(_part(whole, second.snapshot_id)) is None
        assert _distinct_chunks(
            back, _part(back, first.snapshot_id), _part(back, second.snapshot_id)
        ) == _distinct_chunks(
            store, _part(store, first.snapshot_id), _part(store, second.snapshot_id)
        )
        assert back.read_pointer().snapshot_id == second.snapshot_id  # type: ignore[union-attr]
        assert list(back.iter_part_lines(_part(back, second.snapshot_id))) == record_lines(rows)
    finally:
        whole.close()
        back.close()


def test_a_prune_that_drops_nothing_keeps_every_chunk(store: SqlStore) -> None:
    commit(store, payload=1, records={"t": _rows(20_000)})
    before = _count(store, "chunks")
    report = store.prune(RetentionPolicy(keep_last=5), now=_dt.datetime.now(_dt.UTC))
    assert report.removed_snapshots == 0 and report.freed_bytes == 0
    assert _count(store, "chunks") == before


def test_a_chunked_part_is_written_and_read_without_holding_it_in_memory(
    store: SqlStore,
) -> None:
    def block(start: int) -> bytes:  # 500 rows of about 100 bytes, made as they are written
        return b"".join(
            canonical_bytes({"id": i, "note": hashlib.sha256(b"%d" % i).hexdigest()}) + b"\n"
            for i in range(start, start + 500)
        )

    txn = store.begin()
    tracemalloc.start()
    try:
        writer = txn.part_writer()
        for start in range(0, 80_000, 500):
            writer.write(block(start))
        sha, size = writer.close()
        _now, write_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    ref = PartRef(name="t", sha256=sha, records=80_000, bytes=size, oracle="t")
    txn.commit(make_manifest(parts=[ref]), move_pointer=True, expected_generation=0)
    assert store.part_chunks(sha) is not None
    tracemalloc.start()
    try:
        read = sum(len(b) for b in store.iter_part_blocks(sha))
        _now, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == size > 6_000_000
    limit = size // 3  # the part's chunk list and a few frames, never the part
    assert write_peak < limit, f"writing {size} bytes peaked at {write_peak}"
    assert read_peak < limit, f"reading {read} bytes peaked at {read_peak}"
