"""Behaviour specific to the file store: layout, modes, temp files, recovery, the index."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from snapkit import convert
from snapkit.canonical import sha256_hex
from snapkit.contracts import PartRef
from snapkit.errors import (
    CorruptSnapshotError,
    InvalidIdentifierError,
    StoreError,
)
from snapkit.testing.store_kit import at, commit, manifest, record_lines, write_part
from snapkit_file_store import FileStore
from snapkit_file_store import store as store_module
from snapkit_file_store.paths import host_tag
from snapkit_file_store.testing import damage_part, open_store

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SKIPPABLE_HEADER_MAGIC = b"\x5b\x2a\x4d\x18"


def _rows(n: int, tag: str = "r") -> list[dict[str, object]]:
    return [{"id": f"{tag}{i}", "v": i} for i in range(n)]


def _all_paths(root: Path) -> list[Path]:
    return [root, *sorted(root.rglob("*"))]


def test_store_directory_is_private_and_every_file_owner_only(store: FileStore) -> None:
    commit(store, payload=1, records={"t": _rows(10)})
    commit(store, payload=2, status="failed")
    with store.lock("refresh", 3600.0):
        for path in _all_paths(store.layout.root):
            mode = stat.S_IMODE(path.stat().st_mode)
            if path.is_dir():
                assert mode == 0o700, path
            else:
                assert mode == 0o600, path


def test_parts_are_zstd_files_named_by_the_sha256_of_their_plain_bytes(
    store: FileStore,
) -> None:
    rows = _rows(100)
    result = commit(store, records={"t": rows})
    sha = store.get(result.snapshot_id).part("t").sha256
    assert sha == sha256_hex(b"".join(record_lines(rows)))
    path = store.layout.root / "parts" / sha[:2] / f"{sha}.jsonl.zst"
    stored = path.read_bytes()
    assert stored[:4] == SKIPPABLE_HEADER_MAGIC and ZSTD_MAGIC in stored  # seekable zstd
    reader = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
    assert reader.decompress(stored) == b"".join(record_lines(rows))
    manifest_file = store.layout.root / "snapshots" / f"{result.snapshot_id}.json"
    assert manifest_file.read_bytes() == convert.dumps(store.get(result.snapshot_id))


def test_a_part_already_stored_is_not_rewritten(store: FileStore) -> None:
    rows = _rows(50)
    first = commit(store, payload=1, records={"t": rows})
    path = store.layout.part(store.get(first.snapshot_id).part("t").sha256)
    before = path.stat()
    commit(store, payload=2, records={"t": rows})
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_abort_and_commit_leave_no_temp_files(store: FileStore) -> None:
    txn = store.begin()
    write_part(txn, "t", _rows(30))
    unfinished = txn.part_writer()
    unfinished.write(b'{"half":true}\n')
    txn.abort()
    assert list(store.layout.tmp.iterdir()) == []
    assert list(store.layout.parts.rglob("*.zst")) == []
    commit(store, payload=1, records={"t": _rows(3)})
    commit(store, payload=2, status="failed", records={"u": _rows(3, "f")})
    assert list(store.layout.tmp.iterdir()) == []
    assert len(list(store.layout.parts.rglob("*.zst"))) == 1


def test_commit_refuses_a_manifest_that_references_an_unknown_part(store: FileStore) -> None:
    good = commit(store, payload=1)
    txn = store.begin()
    ghost = PartRef(name="ghost", sha256="ab" * 32, records=1, bytes=3, oracle="o")
    with pytest.raises(StoreError, match="ghost"):
        txn.commit(manifest(payload=2, parts=[ghost]), move_pointer=True, expected_generation=1)
    assert store.read_pointer() == good.pointer
    assert [i.id for i in store.list()] == [good.snapshot_id]
    assert list(store.layout.tmp.iterdir()) == []


@pytest.mark.parametrize(
    "ref",
    ["../x", "../../../etc/passwd", "/etc/passwd", "a" * 64 + "\n", "a" * 63 + "/", "..", "A" * 64],
)
def test_path_traversal_is_refused_before_any_path_is_built(
    store: FileStore, tmp_path: Path, ref: str
) -> None:
    commit(store, payload=1)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(InvalidIdentifierError):
        store.get(ref)
    with pytest.raises(InvalidIdentifierError), store.open_part(ref):
        pass
    with pytest.raises(InvalidIdentifierError):
        list(store.iter_part_lines(ref))


def test_damaged_pointer_is_recovered_with_a_warning(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    commit(store, payload=1)
    second = commit(store, payload=2)
    commit(store, payload=3, status="failed")
    store.layout.pointer.write_bytes(b'{"snapshot_id": "garb')
    reader = open_store(store.layout.root)
    with caplog.at_level(logging.WARNING, logger="snapkit_file_store"):
        current = reader.latest_successful()
    assert current is not None and current.id == second.snapshot_id
    assert "recovered" in caplog.text
    pointer = reader.read_pointer()
    assert pointer is not None and pointer.generation == 3
    moves = [e for e in reader.history() if e.event == "pointer_moved"]
    assert [e.generation for e in moves] == [1, 2, 3]
    assert reader.verify().ok


def test_missing_pointer_is_recovered_and_verify_reports_it_then_passes(
    store: FileStore,
) -> None:
    first = commit(store, payload=1)
    store.layout.pointer.unlink()
    report = open_store(store.layout.root).verify()
    assert report.pointer_recovered
    assert [p.kind for p in report.problems] == ["pointer"]
    assert "recovered it to snapshot " + first.snapshot_id in report.problems[0].message
    pointer = store.read_pointer()
    assert pointer is not None and pointer.snapshot_id == first.snapshot_id
    again = store.verify()
    assert again.ok and not again.pointer_recovered


def test_recovery_skips_a_snapshot_whose_part_is_damaged(store: FileStore) -> None:
    older = commit(store, payload=1, records={"t": _rows(5, "a")}, created_at=at(2))
    newer = commit(store, payload=2, records={"t": _rows(5, "b")}, created_at=at(1))
    damage_part(store, store.get(newer.snapshot_id).part("t").sha256, "flip")
    store.layout.pointer.write_text("not json")
    recovered = open_store(store.layout.root).read_pointer()
    assert recovered is not None and recovered.snapshot_id == older.snapshot_id


def test_pointer_with_nothing_to_recover_to_reads_as_no_snapshot(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    only = commit(store, payload=1, records={"t": _rows(3)})
    damage_part(store, store.get(only.snapshot_id).part("t").sha256, "truncate")
    store.layout.pointer.write_text("{}")
    with caplog.at_level(logging.WARNING, logger="snapkit_file_store"):
        assert open_store(store.layout.root).latest_successful() is None
    assert "no verified snapshot" in caplog.text


def test_verify_ignores_staging_and_temp_leftovers(store: FileStore) -> None:
    commit(store, payload=1, records={"t": _rows(3)})
    txn = store.begin()
    write_part(txn, "pending", _rows(3, "p"))
    (store.layout.tmp / f"write-{host_tag()}-{os.getpid()}-abc").write_bytes(b"half")
    report = store.verify()
    assert report.ok, report.problems
    assert report.parts == 1
    txn.abort()


def test_verify_reports_a_part_file_at_the_wrong_place(store: FileStore) -> None:
    result = commit(store, payload=1, records={"t": _rows(3)})
    sha = store.get(result.snapshot_id).part("t").sha256
    stray = store.layout.parts / "zz"
    stray.mkdir()
    os.replace(store.layout.part(sha), stray / f"{sha}.jsonl.zst")
    problems = store.verify().problems
    assert {p.kind for p in problems} >= {"part", "pointer"}


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_leftovers_of_a_dead_process_are_removed_on_open(store: FileStore) -> None:
    commit(store, payload=1)
    dead = store.layout.tmp / f"txn-{host_tag()}-{_dead_pid()}-0a0a0a"
    dead.mkdir()
    (dead / "part-x").write_bytes(b"junk")
    alive = store.layout.tmp / f"txn-{host_tag()}-{os.getpid()}-0b0b0b"
    alive.mkdir()
    open_store(store.layout.root)
    assert not dead.exists()
    assert alive.exists()


def test_old_temp_leftovers_are_removed_on_open_when_no_lease_holds_them(
    store: FileStore,
) -> None:
    commit(store, payload=1)
    old = store.layout.tmp / f"write-{host_tag()}-{os.getpid()}-0c0c0c"
    old.write_bytes(b"junk")
    os.utime(old, (1, 1))
    with store.lock("refresh", 3600.0):
        open_store(store.layout.root)
        assert old.exists()
    FileStore(store.layout.root, temp_grace=60)
    assert not old.exists()


def test_damaged_index_is_rebuilt_from_manifests(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [commit(store, payload=i, created_at=at(5 - i)).snapshot_id for i in range(4)]
    lines = store.layout.index.read_bytes().splitlines(keepends=True)
    lines[1] = b"{garbage\n"
    store.layout.index.write_bytes(b"".join(lines))
    reopened = open_store(store.layout.root)
    with caplog.at_level(logging.WARNING, logger="snapkit_file_store"):
        listed = [i.id for i in reopened.list()]
    assert "rebuilt" in caplog.text
    assert listed == list(reversed(ids))


def test_missing_index_is_rebuilt_from_manifests(store: FileStore) -> None:
    ids = [commit(store, payload=i, created_at=at(5 - i)).snapshot_id for i in range(3)]
    store.layout.index.unlink()
    assert [i.id for i in open_store(store.layout.root).list()] == list(reversed(ids))


def test_warm_current_read_is_served_from_memory(store: FileStore) -> None:
    commit(store, payload=1)
    first = store.latest_successful()
    assert store.latest_successful() is first
    second = commit(open_store(store.layout.root), payload=2)
    current = store.latest_successful()
    assert current is not None and current.id == second.snapshot_id


def test_changed_manifest_of_the_current_snapshot_is_not_served(store: FileStore) -> None:
    result = commit(store, payload=1)
    path = store.layout.manifest(result.snapshot_id)
    path.write_bytes(path.read_bytes().replace(b'"value":1', b'"value":2'))
    with pytest.raises(CorruptSnapshotError):
        open_store(store.layout.root).latest_successful()


def test_pointer_rename_with_unknown_outcome_counts_as_done_when_it_names_the_snapshot(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store_module.write_pointer_file

    def lost_reply(layout, pointer):  # type: ignore[no-untyped-def]
        real(layout, pointer)
        raise OSError("reply lost after rename")

    monkeypatch.setattr(store_module, "write_pointer_file", lost_reply)
    result = commit(store, payload=1)
    assert result.pointer is not None and result.pointer.snapshot_id == result.snapshot_id
    assert store.read_pointer() == result.pointer


def test_pointer_rename_that_failed_raises_and_leaves_the_pointer(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = commit(store, payload=1)

    def disk_full(layout, pointer):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "write_pointer_file", disk_full)
    with pytest.raises(StoreError, match="could not move the current pointer"):
        commit(store, payload=2)
    assert store.read_pointer() == good.pointer


def test_reading_a_damaged_part_raises_instead_of_returning_short_data(
    store: FileStore,
) -> None:
    result = commit(store, records={"t": _rows(2000)})
    sha = store.get(result.snapshot_id).part("t").sha256
    damage_part(store, sha, "truncate")
    with pytest.raises(CorruptSnapshotError, match=r"truncated|SHA-256"):
        for _line in store.iter_part_lines(sha):
            pass


def test_part_writer_streams_to_disk_without_holding_the_part_in_memory(
    store: FileStore,
) -> None:
    txn = store.begin()
    writer = txn.part_writer()
    line = b'{"k":"' + b"x" * 1000 + b'"}\n'
    tracemalloc.start()
    try:
        for _ in range(20_000):
            writer.write(line)
        sha, size = writer.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == 20_000 * len(line)
    assert peak < size // 20
    assert (txn.staging / f"{sha}.zst").stat().st_size < size // 50
    txn.abort()


def test_verify_adds_a_pointer_move_a_crash_left_out_of_the_history(store: FileStore) -> None:
    commit(store, payload=1)
    second = commit(store, payload=2)
    lines = store.layout.history.read_bytes().splitlines(keepends=True)
    store.layout.history.write_bytes(b"".join(lines[:-1]))
    reopened = open_store(store.layout.root)
    assert reopened.verify().ok
    moves = [e for e in reopened.history() if e.event == "pointer_moved"]
    assert [e.generation for e in moves] == [1, 2]
    assert moves[-1].snapshot_id == second.snapshot_id


def test_a_part_cut_short_never_reads_as_complete_through_buffered_lines(tmp_path):
    """A truncated zstd frame must raise on line-by-line reads, not look like a shorter part."""
    from snapkit.canonical import canonical_bytes
    from snapkit.errors import CorruptSnapshotError
    from snapkit_file_store.store import FileStore

    store = FileStore(tmp_path / "store")
    txn = store.begin()
    writer = txn.part_writer()
    lines = [canonical_bytes({"id": i, "pad": "x" * 50}) + b"\n" for i in range(20000)]
    writer.write(b"".join(lines))
    sha, _ = writer.close()
    from snapkit.contracts import PartRef, Scope, SnapshotManifest

    manifest = SnapshotManifest(
        scope=Scope("t"),
        schema_version="1",
        calculation_version="1",
        status="success",
        parts=(PartRef("t", sha, len(lines), sum(map(len, lines)), "t"),),
    )
    txn.commit(manifest, move_pointer=True, expected_generation=0)
    stored = next(p for p in (tmp_path / "store").rglob(f"{sha}*") if p.is_file())
    data = stored.read_bytes()
    stored.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptSnapshotError):
        for _ in store.iter_part_lines(sha):
            pass
