"""The keyed table diff over chunked parts (:class:`snapkit.store.ChunkedPartReader`): chunks
shared by both sides are never read, the rest is checked chunk by chunk, and the result is
the same as reading both parts whole. Also the line pass on its own: tables in any order,
with or without the residue spilled to disk, give what decoding every row gives."""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapkit.canonical import canonical_bytes
from snapkit.contracts import PartRef, Scope, SnapshotManifest
from snapkit.diff import DiffContext, MemoryParts, sort_key
from snapkit.errors import CorruptSnapshotError, DiffError
from snapkit.store import ChunkedPartReader, ChunkRef, ChunkTable
from snapkit.tablediff import (
    TableChanges,
    diff_rows,
    diff_tables,
    shared_chunks,
    unshared_positions,
)


class ChunkedParts(MemoryParts):
    """Parts in memory, kept as content-defined chunks of whole lines (a test double of a
    chunking store): a line whose SHA-256 starts with a byte below ``cut`` ends a chunk."""

    def __init__(self, cut: int = 40) -> None:
        super().__init__()
        self.cut = cut
        self.chunk_lists: dict[str, list[ChunkRef]] = {}
        self.chunk_bytes: dict[str, bytes] = {}
        self.read: list[str] = []  # the SHA-256 of every chunk read, in order

    def add_chunked(self, name: str, records: Iterable[dict[str, Any]]) -> PartRef:
        return self.chunk(self.add(name, records, key_column="id"))

    def chunk(self, ref: PartRef) -> PartRef:
        chunks: list[ChunkRef] = []
        lines: list[bytes] = []
        for line in self._bytes(ref.sha256).splitlines(keepends=True):
            lines.append(line)
            if hashlib.sha256(line).digest()[0] < self.cut:
                chunks.append(self._chunk(lines))
                lines = []
        if lines:
            chunks.append(self._chunk(lines))
        self.chunk_lists[ref.sha256] = chunks
        return ref

    def _chunk(self, lines: list[bytes]) -> ChunkRef:
        data = b"".join(lines)
        sha = hashlib.sha256(data).hexdigest()
        self.chunk_bytes[sha] = data
        return ChunkRef(sha, len(lines), len(data))

    def put_chunked(self, data: bytes) -> PartRef:
        """A part of raw bytes (its last line may lack its newline), chunked."""
        sha = self.put(data)
        return self.chunk(PartRef("t", sha, len(data.splitlines()), len(data), "t", "id"))

    def part_chunks(self, sha256: str) -> ChunkTable | None:
        self._bytes(sha256)  # a missing part raises
        listed = self.chunk_lists.get(sha256)
        return None if listed is None else ChunkTable.from_refs(listed)

    def iter_chunks(
        self, sha256: str, positions: Iterable[int], *, verify: bool = True
    ) -> Generator[bytes, None, None]:
        chunks = self.chunk_lists[sha256]
        previous = -1
        for position in positions:
            if position <= previous or position >= len(chunks):
                raise ValueError("positions must be ascending and in range")
            previous = position
            ref = chunks[position]
            data = self.chunk_bytes[ref.sha256]
            if verify and hashlib.sha256(data).hexdigest() != ref.sha256:
                raise CorruptSnapshotError(f"chunk {ref.sha256[:12]} is damaged")
            self.read.append(ref.sha256)
            yield data


def _context(parts: MemoryParts) -> DiffContext:
    manifest = SnapshotManifest(Scope("t"), "1", "1", "success")  # type: ignore[arg-type]
    return DiffContext(manifest, manifest, parts)


def _diff(parts: MemoryParts, a: PartRef, b: PartRef, **options: Any) -> TableChanges:
    context = _context(parts)
    return diff_tables(
        lambda: context.line_batches(a, chunk=257),
        lambda: context.line_batches(b, chunk=263),
        "id",
        size_hint=a.bytes,
        **options,
    )


def _reference(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> TableChanges:
    """What the diff must say, from every row decoded and compared by key."""
    before = {row["id"]: row for row in old}
    after = {row["id"]: row for row in new}
    added = sorted(after.keys() - before.keys(), key=sort_key)
    removed = sorted(before.keys() - after.keys(), key=sort_key)
    changed = [
        {"key": key, "fields": diff_rows(before[key], after[key])}
        for key in sorted(before.keys() & after.keys(), key=sort_key)
        if canonical_bytes(before[key]) != canonical_bytes(after[key])
    ]
    return TableChanges(
        tuple(added), tuple(removed), tuple(changed), len(added), len(removed), len(changed), False
    )


def _table(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"user {i}", "score": i % 97 / 8} for i in range(start, start + n)]


def _edited(rows: list[dict[str, Any]], keys: Iterable[int]) -> list[dict[str, Any]]:
    wanted = set(keys)
    return [dict(row, score=row["score"] + 1) if row["id"] in wanted else row for row in rows]


# -- chunks ------------------------------------------------------------------------------------


def test_the_chunking_double_implements_the_store_protocol() -> None:
    assert isinstance(ChunkedParts(), ChunkedPartReader)
    assert not isinstance(MemoryParts(), ChunkedPartReader)


def test_a_change_in_one_place_reads_only_the_chunks_around_it() -> None:
    parts = ChunkedParts()
    old = _table(3000)
    new = _edited(old, [1500, 1502])
    new.remove(old[1510])
    a, b = parts.add_chunked("t", old), parts.add_chunked("t", new)
    result = _diff(parts, a, b)
    assert result == _reference(old, new)
    assert (result.changed_count, result.removed_count) == (2, 1)
    total = len(parts.chunk_lists[a.sha256]) + len(parts.chunk_lists[b.sha256])
    assert total > 100
    assert 0 < len(parts.read) <= 6  # the changed chunk(s) on each side, nothing else
    shared = shared_chunks(parts.chunk_lists[a.sha256], parts.chunk_lists[b.sha256])
    assert not shared & set(parts.read)


def test_identical_chunk_lists_read_nothing() -> None:
    parts = ChunkedParts()
    rows = _table(500)
    a = parts.add_chunked("t", rows)
    other = parts.add_chunked("t", rows)
    assert other == a
    assert _diff(parts, a, a) == _reference(rows, rows)
    assert parts.read == []


def test_a_part_stored_whole_is_read_whole_beside_a_chunked_one() -> None:
    parts = ChunkedParts()
    old, new = _table(400), _edited(_table(400), [7, 300])
    a = parts.add_chunked("t", old)
    b = parts.add("t", new, key_column="id")  # no chunk list: stored whole
    assert _diff(parts, a, b) == _reference(old, new)
    assert _diff(parts, b, a) == _reference(new, old)
    assert parts.read == []  # whole parts are read whole, chunk lists unused


def test_a_chunk_found_twice_in_a_part_is_read_not_skipped() -> None:
    parts = ChunkedParts(cut=256)  # every line is a chunk of its own
    old = _table(8)
    # a table holding a row twice (its chunk is in the list twice), between chunks that
    # differ at both ends, so no common prefix or suffix covers it
    repeated = old[1:7] + old[1:2]
    a, b = parts.add_chunked("t", old[:1] + repeated), parts.add_chunked("t", old[1:])
    chunk = parts.chunk_lists[b.sha256][0].sha256
    assert chunk not in shared_chunks(parts.chunk_lists[a.sha256], parts.chunk_lists[b.sha256])
    with contextlib.suppress(DiffError):
        _diff(parts, a, b)
    assert parts.read.count(chunk) == 3  # twice in a, once in b


def test_a_part_whose_last_line_lacks_its_newline_is_read_as_it_is() -> None:
    parts = ChunkedParts(cut=256)
    a = parts.put_chunked(b'{"id":1}\n{"id":2,"v":1}')
    b = parts.put_chunked(b'{"id":1}\n{"id":2,"v":2}\n')
    result = _diff(parts, a, b)
    assert result.changed == ({"key": 2, "fields": {"v": {"from": 1, "to": 2, "delta": 1}}},)
    assert len(parts.read) == 2


def test_a_damaged_chunk_raises_instead_of_answering() -> None:
    parts = ChunkedParts()
    old, new = _table(800), _edited(_table(800), [400])
    a, b = parts.add_chunked("t", old), parts.add_chunked("t", new)
    shared = shared_chunks(parts.chunk_lists[a.sha256], parts.chunk_lists[b.sha256])
    (changed,) = [c for c in parts.chunk_lists[b.sha256] if c.sha256 not in shared][:1]
    parts.chunk_bytes[changed.sha256] = parts.chunk_bytes[changed.sha256].replace(b"1", b"2", 1)
    with pytest.raises(CorruptSnapshotError, match="does not match"):
        _diff(parts, a, b)


def test_a_chunk_list_that_does_not_add_up_to_the_part_raises() -> None:
    parts = ChunkedParts()
    old, new = _table(800), _edited(_table(800), [400])
    a, b = parts.add_chunked("t", old), parts.add_chunked("t", new)
    parts.chunk_lists[b.sha256] = parts.chunk_lists[b.sha256][1:]
    with pytest.raises(CorruptSnapshotError, match="chunk list"):
        _diff(parts, a, b)


# -- the line pass ------------------------------------------------------------------------------


def test_tables_in_different_orders_give_the_same_changes(tmp_path: Path) -> None:
    parts = MemoryParts()
    old = _table(3000)
    new = _edited(old, range(0, 3000, 7))[100:] + _table(50, start=5000)
    random.Random(3).shuffle(new)
    a, b = parts.add("t", old, key_column="id"), parts.add("t", new, key_column="id")
    expected = _reference(old, new)
    assert _diff(parts, a, b) == expected
    spilled = _diff(parts, a, b, memory_budget=2048, tmpdir=str(tmp_path))
    assert spilled == expected
    assert list(tmp_path.iterdir()) == []  # partitions are removed


def test_every_row_changed_gives_every_row() -> None:
    parts = MemoryParts()
    old = _table(20_000)
    new = [dict(row, extra=True) for row in old]
    a, b = parts.add("t", old, key_column="id"), parts.add("t", new, key_column="id")
    result = _diff(parts, a, b, max_items=3)
    assert result.changed_count == 20_000
    assert [row["key"] for row in result.changed] == [0, 1, 2]


# -- the property: chunked or whole, in any order, the same changes as decoding everything -----

tables = st.dictionaries(
    st.integers(0, 300),
    st.fixed_dictionaries({"v": st.integers(-3, 3), "s": st.sampled_from(["x", "y", "zz"])}),
    max_size=120,
)
edits = st.lists(
    st.tuples(st.sampled_from(["change", "remove", "add", "move"]), st.integers(0, 400)),
    max_size=30,
)


def _apply(rows: list[dict[str, Any]], todo: list[tuple[str, int]]) -> list[dict[str, Any]]:
    rows = [dict(row) for row in rows]
    keys = {row["id"] for row in rows}
    for what, at in todo:
        if what == "add" and at not in keys:
            rows.insert(at % (len(rows) + 1), {"id": at, "v": 9, "s": "new"})
            keys.add(at)
        elif rows and what == "change":
            rows[at % len(rows)]["v"] += 1
        elif rows and what == "remove":
            keys.discard(rows.pop(at % len(rows))["id"])
        elif rows and what == "move":
            rows.insert(at % len(rows), rows.pop((at * 7) % len(rows)))
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, edits, st.sampled_from([0, 40, 128, 256]), st.sampled_from([1 << 20, 256]))
def test_chunked_and_whole_diffs_equal_decoding_every_row(
    table: dict[int, dict[str, Any]], todo: list[tuple[str, int]], cut: int, budget: int
) -> None:
    old = [{"id": key, **value} for key, value in table.items()]
    new = _apply(old, todo)
    chunked, whole = ChunkedParts(cut), MemoryParts()
    expected = _reference(old, new)
    for parts, add in ((chunked, chunked.add_chunked), (whole, None)):
        a, b = (
            (add("t", old), add("t", new))
            if add
            else (parts.add("t", old, key_column="id"), parts.add("t", new, key_column="id"))
        )
        assert _diff(parts, a, b, memory_budget=budget) == expected


digest_lists = st.lists(st.integers(0, 6), max_size=40).map(
    lambda values: [hashlib.sha256(bytes([v])).hexdigest() for v in values]
)


@given(digest_lists, digest_lists)
def test_the_chunks_skipped_on_each_side_are_the_same_chunks(
    hashes_a: list[str], hashes_b: list[str]
) -> None:
    table_a = ChunkTable.from_refs(ChunkRef(h, 1, 10) for h in hashes_a)
    table_b = ChunkTable.from_refs(ChunkRef(h, 1, 10) for h in hashes_b)
    read_a, read_b = unshared_positions(table_a, table_b)
    assert read_a == sorted(set(read_a)) and read_b == sorted(set(read_b))
    skipped_a = [h for i, h in enumerate(hashes_a) if i not in read_a]
    skipped_b = [h for i, h in enumerate(hashes_b) if i not in read_b]
    assert sorted(skipped_a) == sorted(skipped_b)
    # a chunk read on one side is never one the other side skipped as its twin
    if hashes_a == hashes_b:
        assert read_a == read_b == []


def test_a_long_common_start_and_end_are_skipped_whatever_repeats_between() -> None:
    body = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(5000)]
    middle_a = [hashlib.sha256(b"a").hexdigest()] * 3
    middle_b = [hashlib.sha256(b"b").hexdigest()]
    table_a = ChunkTable.from_refs(ChunkRef(h, 1, 10) for h in body[:3000] + middle_a + body[3000:])
    table_b = ChunkTable.from_refs(ChunkRef(h, 1, 10) for h in body[:3000] + middle_b + body[3000:])
    assert unshared_positions(table_a, table_b) == ([3000, 3001, 3002], [3000])
