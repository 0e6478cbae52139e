"""Chunked parts in the file store (``chunk_size`` set): content-defined chunks of whole
lines kept once in packs, chunk lists under the part's usual name; old whole parts still
read; crashes, prune and copies keep every snapshot readable and verifiable."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit.chunking import CHUNK_TARGET, LineCutter
from snapkit.copy import copy_store
from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit.store import RetentionPolicy
from snapkit.testing.store_kit import commit, record_lines
from snapkit_file_store import FileStore
from snapkit_file_store.chunked import read_raw_list
from snapkit_file_store.testing import open_chunked_store


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """A fresh file store that keeps parts as chunks."""
    return open_chunked_store(tmp_path / "store")


def _rows(count: int, tag: str = "r") -> list[dict[str, Any]]:
    return [{"id": f"{tag}{i:06d}", "n": i, "name": f"{tag} row {i}"} for i in range(count)]


def _part(store: FileStore, rows: list[dict[str, Any]], payload: int) -> str:
    result = commit(store, payload=payload, records={"t": rows})
    return store.get(result.snapshot_id).part("t").sha256


def _cut(data: bytes, splits: list[int], target: int) -> list[tuple[bytes, int]]:
    cutter = LineCutter(target)
    chunks = []
    previous = 0
    for split in [*sorted(splits), len(data)]:
        chunks += cutter.feed(data[previous:split])
        previous = split
    return chunks + cutter.finish()


lines = st.lists(
    st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), min_size=0, max_size=200
)


@settings(max_examples=80, deadline=None)
@given(lines=lines, splits=st.lists(st.integers(0, 60_000), max_size=8), tail=st.booleans())
def test_chunks_are_whole_lines_that_join_to_the_bytes_however_they_arrive(
    lines: list[bytes], splits: list[int], tail: bool
) -> None:
    data = b"".join(line + b"\n" for line in lines) + (b"no newline" if tail else b"")
    chunks = _cut(data, [s for s in splits if s <= len(data)], 256)
    assert b"".join(chunk for chunk, _rows in chunks) == data
    assert all(chunk for chunk, _rows in chunks)
    assert all(chunk.endswith(b"\n") for chunk, _rows in chunks[:-1])
    assert sum(rows for _chunk, rows in chunks) == len(lines) + tail
    assert chunks == _cut(data, [], 256)  # where the blocks were cut does not matter


@settings(max_examples=40, deadline=None)
@given(
    body=st.lists(
        st.binary(min_size=1, max_size=120).map(lambda b: b.replace(b"\n", b"x")),
        min_size=50,
        max_size=400,
    ),
    prefix=st.lists(st.binary(max_size=120).map(lambda b: b.replace(b"\n", b"")), max_size=20),
)
def test_an_unchanged_run_of_lines_cuts_the_same_after_lines_before_it_change(
    body: list[bytes], prefix: list[bytes]
) -> None:
    """Boundaries depend on the lines (and the chunk's size so far) only: once the cuts of a
    run of lines meet again after lines before it changed, they stay together to its end."""
    plain = b"".join(b"%d:%s\n" % (i, line) for i, line in enumerate(body))  # unique lines
    before = {chunk for chunk, _rows in _cut(plain, [], 256)}
    moved = _cut(b"".join(b"-" + line + b"\n" for line in prefix) + plain, [], 256)
    shared = [chunk in before for chunk, _rows in moved]
    assert shared == sorted(shared)  # unshared chunks first, then only shared ones
    if not prefix:
        assert all(shared)


@pytest.fixture
def big() -> list[dict[str, Any]]:
    return _rows(20_000)


def test_a_second_snapshot_stores_only_the_chunks_that_changed(
    store: FileStore, big: list[dict[str, Any]]
) -> None:
    first = _part(store, big, 1)
    packs_before = {stem for stem, _path in store.layout.pack_files()}
    big[777] = {**big[777], "name": "changed"}
    second = _part(store, big, 2)
    new_packs = [path for stem, path in store.layout.pack_files() if stem not in packs_before]
    assert len(new_packs) == 1
    first_size = sum(path.stat().st_size for _stem, path in store.layout.pack_files())
    assert new_packs[0].stat().st_size < first_size // 50
    assert store.part_chunks(first) != store.part_chunks(second)
    with store.open_part(second) as handle:
        assert handle.read() == b"".join(record_lines(big))
    assert store.verify().ok


def test_ranges_of_a_chunked_part_read_its_bytes(
    store: FileStore, big: list[dict[str, Any]]
) -> None:
    sha = _part(store, big, 1)
    data = b"".join(record_lines(big))
    ranges = [(0, 3), (10, 5000), (len(data) // 2, 1), (len(data) - 4, 100), (len(data) + 5, 1)]
    assert list(store.read_part_ranges(sha, ranges)) == [data[o : o + n] for o, n in ranges]
    assert b"".join(store.iter_part_blocks(sha, verify=False)) == data


def test_a_small_part_is_stored_whole(store: FileStore) -> None:
    sha = _part(store, _rows(10), 1)
    assert store.part_chunks(sha) is None
    assert not store.layout.pack_files()
    with pytest.raises(CorruptSnapshotError, match="stored whole"):
        list(store.iter_chunks(sha, [0]))


def test_a_store_of_whole_parts_stays_readable_and_takes_chunked_parts(
    tmp_path: Path, big: list[dict[str, Any]]
) -> None:
    old = FileStore(tmp_path / "s", chunk_size=0)
    whole = _part(old, big, 1)
    assert old.part_chunks(whole) is None
    store = FileStore(tmp_path / "s", chunk_size=CHUNK_TARGET)
    big[5] = {**big[5], "name": "changed"}
    chunked = _part(store, big, 2)
    assert store.part_chunks(chunked) is not None
    assert store.part_chunks(whole) is None
    with store.open_part(whole) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == whole
    assert store.verify().ok


def test_a_commit_that_dies_after_installing_its_packs_leaves_a_verifying_store(
    store: FileStore, big: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = commit(store, payload=1, records={"t": big})
    real = os.replace

    def dies_on_lists(source: Any, target: Any) -> None:
        if str(target).endswith(".jsonl.zst"):
            raise OSError("the disk went away")
        real(source, target)

    monkeypatch.setattr(os, "replace", dies_on_lists)
    with pytest.raises(OSError, match="went away"):
        commit(store, payload=2, records={"t": _rows(20_000, "x")})
    monkeypatch.undo()

    reopened = FileStore(store.layout.root, chunk_size=CHUNK_TARGET)
    assert reopened.latest_successful() == store.get(good.snapshot_id)
    assert reopened.verify().ok
    assert not list(store.layout.tmp.iterdir())
    packs = len(reopened.layout.pack_files())
    assert reopened.prune(RetentionPolicy(keep_last=1)).removed_snapshots == 0
    assert len(reopened.layout.pack_files()) == packs - 1  # the orphan pack
    assert reopened.verify().ok


def test_prune_removes_packs_only_dropped_snapshots_used(
    store: FileStore, big: list[dict[str, Any]]
) -> None:
    first = _part(store, big, 1)
    big[100] = {**big[100], "name": "changed"}
    second = _part(store, big, 2)
    third = _part(store, _rows(20_000, "other"), 3)
    raw = read_raw_list(store.layout.part(third), third)
    assert raw is not None
    report = store.prune(RetentionPolicy(keep_last=2))
    assert report.removed_snapshots == 1
    assert not store.layout.part(first).exists()
    kept = {stem for stem, _path in store.layout.pack_files()}
    second_raw = read_raw_list(store.layout.part(second), second)
    assert second_raw is not None
    assert {name for name, _ in second_raw.packs} | {name for name, _ in raw.packs} == kept
    assert store.verify().ok
    with store.open_part(second) as handle:
        assert handle.read() == b"".join(record_lines(big))


def test_a_commit_refuses_chunks_whose_pack_a_prune_removed_meanwhile(
    store: FileStore, big: list[dict[str, Any]]
) -> None:
    _part(store, big, 1)
    txn = store.begin()
    writer = txn.part_writer()
    changed = [*big]
    changed[3] = {**changed[3], "name": "changed"}
    for line in record_lines(changed):
        writer.write(line)
    writer.close()
    for _stem, path in store.layout.pack_files():  # what a prune could do meanwhile
        path.unlink()
    from snapkit.contracts import PartRef
    from snapkit.testing.store_kit import manifest

    sha = hashlib.sha256(b"".join(record_lines(changed))).hexdigest()
    ref = PartRef(name="t", sha256=sha, records=len(changed), bytes=0, oracle="t")
    with pytest.raises(StoreError, match="refresh again"):
        txn.commit(manifest(payload=2, parts=[ref]), move_pointer=True, expected_generation=None)


@pytest.mark.parametrize("direction", ["whole to chunked", "chunked to whole"])
def test_copies_between_whole_and_chunked_file_stores_keep_every_snapshot(
    tmp_path: Path, direction: str
) -> None:
    folder = tmp_path
    whole = FileStore(folder / "whole", chunk_size=0)
    chunked = FileStore(folder / "chunked", chunk_size=CHUNK_TARGET)
    source, target = (whole, chunked) if direction == "whole to chunked" else (chunked, whole)
    rows = _rows(20_000)
    ids = []
    for day in range(3):
        rows[day * 1000] = {**rows[day * 1000], "name": f"day {day}"}
        ids.append(commit(source, payload=day, records={"t": rows}).snapshot_id)
    report = copy_store(source, target)
    assert report.snapshots == 3
    assert [info.id for info in target.list()] == [info.id for info in source.list()]
    assert target.verify().ok
    if target is chunked:  # the copies share chunks as refreshes would
        first = chunked.part_chunks(chunked.get(ids[0]).part("t").sha256) or []
        last = chunked.part_chunks(chunked.get(ids[2]).part("t").sha256) or []
        assert len({c.sha256 for c in last} - {c.sha256 for c in first}) <= 6


def _rewrite_packs_in_the_first_format(store: FileStore) -> int:
    """Rewrite every pack with its index as the first chunked format wrote it (tag "SKP1",
    one 56-byte record per chunk), and the chunk lists to name the rewritten packs."""
    import zstandard

    from snapkit_file_store import chunklist, packs

    renamed: dict[str, tuple[str, str]] = {}
    for stem, path in list(store.layout.pack_files()):
        data = path.read_bytes()
        start, length, _tag = packs.FOOTER.unpack(data[-packs.FOOTER.size :])
        index = packs.read_index(
            path, stem, hashlib.sha256(data[start : start + length]).hexdigest()
        )
        records = b"".join(
            packs.OLD_ENTRY.pack(
                index.digests[e * 32 : e * 32 + 32],
                index.rows[e],
                index.sizes[e],
                index.frame_starts[index.frame_of(e)],
                index.frame_sizes[index.frame_of(e)],
                index.offsets[e],
            )
            for e in range(len(index))
        )
        frame = zstandard.ZstdCompressor(write_checksum=True).compress(records)
        old = data[:start] + frame + packs.FOOTER.pack(start, len(frame), packs.OLD_TAG)
        name = hashlib.sha256(old).hexdigest()
        target = store.layout.pack(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(old)
        path.unlink()
        renamed[stem] = (name, hashlib.sha256(frame).hexdigest())
    for stem, path in list(store.layout.part_files()):
        raw = read_raw_list(path, stem)
        if raw is not None:
            named = [renamed[pack] for pack, _index in raw.packs]
            path.write_bytes(chunklist.encode(stem, raw.size, named, raw.runs))
    return len(renamed)


def test_packs_of_the_first_chunked_format_stay_readable_and_verify(store: FileStore) -> None:
    rows = _rows(20_000)
    first = _part(store, rows, 1)
    rows[12_345] = {**rows[12_345], "name": "a changed name"}
    second = _part(store, rows, 2)
    assert _rewrite_packs_in_the_first_format(store) == 2
    reopened = open_chunked_store(store.layout.root)
    for sha in (first, second):
        with reopened.open_part(sha) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == sha
        chunks = reopened.part_chunks(sha)
        assert chunks is not None
        pieces = list(reopened.iter_chunks(sha, range(len(chunks))))
        assert chunks.digests == b"".join(hashlib.sha256(p).digest() for p in pieces)
    assert b"".join(record_lines(rows)) == b"".join(reopened.iter_part_blocks(second))
    assert reopened.verify().ok
