"""The keyed table diff: rows added, removed and changed between two parts, in bounded memory.

A part is canonical JSON Lines, so two rows are equal exactly when their line bytes are equal.
The diff uses that and decodes only rows that differ, in three steps:

1. **Chunks.** When both parts are kept as chunks (a store with
   :class:`snapkit.store.ChunkedPartReader`; see :class:`ChunkedLines`), the chunks the two
   lists share are not read at all (:func:`unshared_positions`): the common prefix and suffix
   of the lists, found by comparing runs of digests, and in between a chunk whose SHA-256 is
   in both lists' remainders once each, which holds the same rows on both sides (keys are
   unique per table, so those rows are unchanged). Only the other chunks are read, each
   checked against its SHA-256. Parts stored whole are read whole.
2. **Lines.** The lines read are compared as bytes, both sides in table order: runs of equal
   lines are skipped pairwise at C speed, and where the sides differ a short look-ahead finds
   where they meet again (a row removed, added, or changed). The lines set aside on either
   side (the *residue*) are matched against each other as sets, so rows that moved are still
   unchanged rows; when the residue outgrows the memory budget it is partitioned to temporary
   files by a hash of the line (the grace hash join) and each partition compared on its own.
3. **Keys.** The lines found on one side only are decoded to read their key. A key on both
   sides is a changed row (its fields are compared), a key only in ``a`` was removed, a key
   only in ``b`` added. This pass too spills to key-hashed partitions when it is large.

Every step is exact: which rows are unchanged is decided on equal bytes, never on a hash
alone, so the result is the same whatever the order of the rows and however the parts are
stored. Duplicate rows and keys are refused among the rows the diff compares; a keyed table
written by a refresh has none (see :mod:`snapkit.integrity`).

Results are sorted by key (numbers, then strings; see :func:`snapkit.diff.sort_key`) and, with
``max_items``, only the first items are kept while the counts stay exact; memory for the
listed changes is then bounded by ``max_items``.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import compress, count
from operator import ne, not_
from typing import Any, Protocol, runtime_checkable

from attrs import frozen

from snapkit.canonical import canonical_str
from snapkit.diff import delta, is_number, sort_key
from snapkit.errors import DiffError
from snapkit.gcpace import YOUNG_COLLECTION_EVERY, spaced_collections
from snapkit.search_core import json_decoder
from snapkit.store import DIGEST_SIZE, ChunkRef, ChunkTable

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "ChunkedLines",
    "TableChanges",
    "diff_rows",
    "diff_tables",
    "shared_chunks",
    "unshared_positions",
]

DEFAULT_MEMORY_BUDGET = 128 * 1024 * 1024
"""Bytes of rows set aside (the residue) held in memory at once; more is partitioned to disk.

Held as sets of byte strings, rows take about 1.6 times their size, so the peak memory of a
diff is about twice the budget. Tables in the same order on both sides set aside only the
rows that differ, so their diff stays far below it.
"""

LOOKAHEAD = 16
"""Lines looked ahead on each side, where the sides differ, for the line they meet again on."""

BULK = 4096
"""Lines set aside at once when the sides keep differing (a table reordered, or every row
changed): the residue's set operations then do the matching."""

_MISSING = object()
LineBatches = Callable[[], Iterable[list[bytes]]]


@runtime_checkable
class ChunkedLines(Protocol):
    """Batches of a part's lines (iterate it) that can also say which chunks the part is kept
    as, and read only some of them: what :meth:`snapkit.diff.DiffContext.line_batches`
    returns. When both sides of :func:`diff_tables` are these, chunks they share are skipped.
    """

    def __iter__(self) -> Iterator[list[bytes]]:
        """The part's lines in batches, without their newlines (the whole part, checked)."""
        ...

    def chunks(self) -> ChunkTable | None:
        """The part's chunks in table order, or ``None`` if it is stored whole."""
        ...

    def chunk_batches(self, positions: Sequence[int]) -> Iterator[list[bytes]]:
        """The lines of the chunks at ``positions`` (ascending), in batches, each chunk
        checked against its SHA-256, size and row count."""
        ...


@frozen
class TableChanges:
    """What changed in one keyed table.

    :param added: keys of rows only in ``b``, sorted (at most ``max_items``).
    :param removed: keys of rows only in ``a``, sorted (at most ``max_items``).
    :param changed: ``{"key": k, "fields": {name: {"from", "to"[, "delta"]}}}`` per row whose
        key is on both sides with different content, sorted by key (at most ``max_items``).
    :param added_count, removed_count, changed_count: exact counts, whatever was listed.
    :param truncated: whether a list was cut at ``max_items``.
    """

    added: tuple[Any, ...]
    removed: tuple[Any, ...]
    changed: tuple[dict[str, Any], ...]
    added_count: int
    removed_count: int
    changed_count: int
    truncated: bool


def diff_rows(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the fields that differ between two rows.

    Each is ``{"from": old, "to": new}``; a side where the field is missing is left out, and
    when both values are numbers (a missing one counting as zero) ``"delta"`` is added. Values
    compare by their JSON form, so ``1`` and ``1.0`` differ.
    """
    fields: dict[str, dict[str, Any]] = {}
    names = sorted(old) if old.keys() == new.keys() else sorted(old.keys() | new.keys())
    for name in names:
        before = old.get(name, _MISSING)
        after = new.get(name, _MISSING)
        kind = type(before)
        if kind is type(after):
            if kind is dict or kind is list:
                if canonical_str(before) == canonical_str(after):
                    continue
            elif before == after:
                continue  # the same JSON value (or missing on both sides)
        change: dict[str, Any] = {}
        if before is not _MISSING:
            change["from"] = before
        if after is not _MISSING:
            change["to"] = after
        left = None if before is _MISSING else before
        right = None if after is _MISSING else after
        if _number_or_none(left) and _number_or_none(right):
            change["delta"] = delta(left, right)
        fields[name] = change
    return fields


def _number_or_none(value: Any) -> bool:
    kind = type(value)
    return kind is float or kind is int or value is None or is_number(value)


def diff_tables(
    lines_a: LineBatches,
    lines_b: LineBatches,
    key_column: str,
    *,
    size_hint: int = 0,
    max_items: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    tmpdir: str | None = None,
    name: str = "table",
) -> TableChanges:
    """Diff two keyed tables given as batches of canonical JSON lines (without newlines).

    :param lines_a: returns the batches of table ``a`` (called once).
    :param lines_b: returns the batches of table ``b`` (called once). When both return
        :class:`ChunkedLines` whose parts are chunked, chunks shared by both are not read.
    :param key_column: the field identifying a row; every row must have it, uniquely.
    :param size_hint: bytes of table ``a``: sizes the partitions when the residue spills.
    :param max_items: the most keys/rows listed per kind of change.
    :param memory_budget: bytes of set-aside rows held in memory at once (see
        :data:`DEFAULT_MEMORY_BUDGET`).
    :param tmpdir: where partitions go (default: the system's temporary folder).
    :param name: the table's name, for error messages.
    :raises DiffError: when a row is not a JSON object, lacks the key column, or a key or row
        appears twice among the rows compared.
    :raises CorruptSnapshotError: when a part or chunk read does not match its SHA-256.
    """
    batches_a, batches_b = _unshared(lines_a(), lines_b())
    collector = _Collector(key_column, max_items, memory_budget, tmpdir, name)
    residue = _Residue(size_hint, memory_budget, tmpdir, name)
    try:
        _align(batches_a, batches_b, residue)
        residue.finish(collector)
        with spaced_collections(young=YOUNG_COLLECTION_EVERY):  # decoded rows: see gcpace
            return collector.finish()
    finally:
        residue.close()
        collector.close()


# -- step 1: chunks -----------------------------------------------------------------------------


def shared_chunks(
    chunks_a: ChunkTable | Sequence[ChunkRef], chunks_b: ChunkTable | Sequence[ChunkRef]
) -> set[str]:
    """The SHA-256 of the chunks a diff skips (see :func:`unshared_positions`)."""
    table_a, table_b = _table(chunks_a), _table(chunks_b)
    read_a, _read_b = unshared_positions(table_a, table_b)
    unread = set(range(len(table_a))).difference(read_a)
    return {table_a.digest(position).hex() for position in unread}


def _table(chunks: ChunkTable | Sequence[ChunkRef]) -> ChunkTable:
    return chunks if isinstance(chunks, ChunkTable) else ChunkTable.from_refs(chunks)


def unshared_positions(a: ChunkTable, b: ChunkTable) -> tuple[list[int], list[int]]:
    """The positions of the chunks a diff reads in ``a`` and in ``b``, ascending.

    It skips the chunks of the longest common prefix and suffix of the two lists (equal
    chunks at aligned positions: the same lines in the same places, which the line pass would
    skip too), found by comparing runs of digests at C speed, so a day's change in one range
    of keys costs a few comparisons, not one per chunk. Between them it skips a chunk whose
    SHA-256 is found exactly once in each side's remaining chunks: keys are unique per table,
    so it holds the same unchanged rows on both sides. A chunk found twice on one side (which
    only a table holding a row twice can have) is read on both sides.
    """
    digests_a, digests_b = a.digests, b.digests
    size_a, size_b = len(a), len(b)
    head = _common_run(digests_a, digests_b, 0, 0, min(size_a, size_b), 1)
    tail = _common_run(digests_a, digests_b, size_a, size_b, min(size_a, size_b) - head, -1)
    middle_a = range(head, size_a - tail)
    middle_b = range(head, size_b - tail)
    hashes_a = [digests_a[i * _D : i * _D + _D] for i in middle_a]
    hashes_b = [digests_b[i * _D : i * _D + _D] for i in middle_b]
    shared = _once(hashes_a) & _once(hashes_b)
    if not shared:
        return list(middle_a), list(middle_b)
    return _unlisted(hashes_a, shared, head), _unlisted(hashes_b, shared, head)


_D = DIGEST_SIZE
_RUN = 64
"""Chunks compared at once when a common run starts (doubling up to :data:`_MAX_RUN`)."""
_MAX_RUN = 16_384


def _common_run(a: bytes, b: bytes, start_a: int, start_b: int, limit: int, step: int) -> int:
    """How many chunks from ``start_a``/``start_b`` onwards (``step`` 1) or backwards from
    them (``step`` -1) are equal in both digest columns, at most ``limit``."""

    def equal(lo: int, hi: int) -> bool:  # chunks lo..hi-1 counted from the start
        if step > 0:
            return (
                a[(start_a + lo) * _D : (start_a + hi) * _D]
                == b[(start_b + lo) * _D : (start_b + hi) * _D]
            )
        return (
            a[(start_a - hi) * _D : (start_a - lo) * _D]
            == b[(start_b - hi) * _D : (start_b - lo) * _D]
        )

    done, width = 0, _RUN
    while done < limit:
        end = min(limit, done + width)
        if not equal(done, end):
            while end - done > 1:  # the first unequal chunk is in done..end-1
                middle = (done + end) // 2
                if equal(done, middle):
                    done = middle
                else:
                    end = middle
            return done
        done = end
        width = min(width * 2, _MAX_RUN)
    return limit


def _once(hashes: list[bytes]) -> set[bytes]:
    """The hashes found exactly once in ``hashes``."""
    distinct = set(hashes)
    if len(distinct) == len(hashes):
        return distinct
    return {sha for sha, n in Counter(hashes).items() if n == 1}


def _unshared(
    source_a: Iterable[list[bytes]], source_b: Iterable[list[bytes]]
) -> tuple[Iterable[list[bytes]], Iterable[list[bytes]]]:
    """Both sides' batches, without the chunks they share when both are chunked."""
    if not (isinstance(source_a, ChunkedLines) and isinstance(source_b, ChunkedLines)):
        return source_a, source_b
    chunks_a = source_a.chunks()
    chunks_b = source_b.chunks() if chunks_a is not None else None
    if chunks_a is None or chunks_b is None:
        return source_a, source_b
    read_a, read_b = unshared_positions(chunks_a, chunks_b)
    return source_a.chunk_batches(read_a), source_b.chunk_batches(read_b)


def _unlisted(hashes: list[bytes], shared: set[bytes], first: int) -> list[int]:
    """The positions (counted from ``first``) of the hashes not in ``shared``."""
    return list(compress(count(first), map(not_, map(shared.__contains__, hashes))))


# -- step 2: lines ------------------------------------------------------------------------------


class _Side:
    """One side's lines being aligned: a window of lines and the position reached in it."""

    __slots__ = ("at", "batches", "done", "lines")

    def __init__(self, batches: Iterable[list[bytes]]) -> None:
        self.lines: list[bytes] = []
        self.at = 0
        self.batches = iter(batches)
        self.done = False

    def fill(self, ahead: int) -> None:
        """Read batches until ``ahead`` lines are past the position, or the side ends."""
        while not self.done and len(self.lines) - self.at < ahead:
            batch = next(self.batches, None)
            if batch is None:
                self.done = True
            elif self.at < len(self.lines):
                self.lines = self.lines[self.at :] + batch
                self.at = 0
            else:
                self.lines, self.at = batch, 0

    def rest(self) -> Iterator[list[bytes]]:
        """The lines past the position, in batches, to the side's end."""
        if self.at < len(self.lines):
            yield self.lines[self.at :]
        self.lines, self.at = [], 0
        yield from self.batches


def _equal_run(lines_a: list[bytes], i: int, lines_b: list[bytes], j: int) -> int:
    """How many lines are equal pairwise from ``lines_a[i]`` and ``lines_b[j]`` on."""
    left, right = iter(lines_a), iter(lines_b)
    left.__setstate__(i)  # type: ignore[attr-defined]  # a list iterator, moved in O(1)
    right.__setstate__(j)  # type: ignore[attr-defined]
    for run in compress(count(), map(ne, left, right)):
        return run
    return min(len(lines_a) - i, len(lines_b) - j)


def _find(lines: list[bytes], line: bytes, start: int) -> int:
    """Where ``line`` is in the :data:`LOOKAHEAD` lines from ``start`` on, or -1."""
    try:
        return lines.index(line, start, start + LOOKAHEAD)
    except ValueError:
        return -1


def _align(
    batches_a: Iterable[list[bytes]], batches_b: Iterable[list[bytes]], residue: _Residue
) -> None:
    """Walk both sides in step, skip lines equal on both, set aside the others in ``residue``.

    Where the sides differ at lines ``x`` (of ``a``) and ``y`` (of ``b``), ``y`` found a few
    lines ahead in ``a`` means the ``a`` lines before it are set aside (rows removed or moved),
    ``x`` found ahead in ``b`` the same for ``b`` (rows added), and neither means both are set
    aside (usually one changed row). The residue matches what was set aside on both sides, so
    a look-ahead that misses costs time, never a wrong answer.
    """
    a, b = _Side(batches_a), _Side(batches_b)
    ahead = LOOKAHEAD + 2
    misses = 0
    while True:
        a.fill(ahead)
        b.fill(ahead)
        lines_a, i, lines_b, j = a.lines, a.at, b.lines, b.at
        end_a, end_b = len(lines_a), len(lines_b)
        if i == end_a or j == end_b:
            break
        while i < end_a and j < end_b:
            run = _equal_run(lines_a, i, lines_b, j)
            if run:
                i += run
                j += run
                misses = 0
                if i == end_a or j == end_b:
                    break
            if (end_a - i < ahead and not a.done) or (end_b - j < ahead and not b.done):
                break  # read on before looking ahead
            if misses >= 64:
                residue.add(lines_a[i : i + BULK], "a")
                residue.add(lines_b[j : j + BULK], "b")
                i, j = min(i + BULK, end_a), min(j + BULK, end_b)
                misses = 0
                continue
            x, y = lines_a[i], lines_b[j]
            in_b = _find(lines_b, x, j + 1)
            in_a = _find(lines_a, y, i + 1)
            if in_a < 0 and in_b < 0:
                residue.one(x, "a")
                residue.one(y, "b")
                i += 1
                j += 1
                misses += 1
            elif in_a >= 0 and (in_b < 0 or in_a - i <= in_b - j):
                residue.add(lines_a[i:in_a], "a")
                i = in_a
            else:
                residue.add(lines_b[j:in_b], "b")
                j = in_b
        a.at, b.at = i, j
    for batch in a.rest():
        residue.add(batch, "a")
    for batch in b.rest():
        residue.add(batch, "b")


class _Residue:
    """The lines set aside on each side, matched against the other side's as they come.

    A line set aside on one side that the other side set aside too is an unchanged row
    (reordered); what is left at the end is on one side only. Held as two sets while their
    bytes stay under the budget, else partitioned to files by a hash of the line and compared
    one partition at a time.
    """

    def __init__(self, size_hint: int, budget: int, tmpdir: str | None, name: str) -> None:
        self.size_hint = size_hint
        self.budget = budget
        self.tmpdir = tmpdir
        self.name = name
        self.sets: dict[str, set[bytes]] = {"a": set(), "b": set()}
        self.bytes = 0
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.files: dict[str, list[Any]] = {}

    def one(self, line: bytes, side: str) -> None:
        """Set aside one line of ``side`` (an empty line is no row: canonical parts have none)."""
        if not line:
            return
        if self.folder is not None:
            self._write([line], side)
            return
        theirs = self.sets["b" if side == "a" else "a"]
        if line in theirs:
            theirs.remove(line)
            self.bytes -= len(line)
            return
        mine = self.sets[side]
        if line in mine:
            raise _twice(self.name, side)
        mine.add(line)
        self.bytes += len(line)
        if self.bytes > self.budget:
            self._spill()

    def add(self, lines: list[bytes], side: str) -> None:
        """Set aside lines of ``side`` (set operations, in C)."""
        if b"" in lines:
            lines = [line for line in lines if line]
        if not lines:
            return
        if self.folder is not None:
            self._write(lines, side)
            return
        fresh = set(lines)
        if len(fresh) != len(lines):
            raise _twice(self.name, side)
        theirs = self.sets["b" if side == "a" else "a"]
        if theirs:
            matched = fresh & theirs
            if matched:
                theirs -= matched
                fresh -= matched
                self.bytes -= sum(map(len, matched))
        mine = self.sets[side]
        if not mine.isdisjoint(fresh):
            raise _twice(self.name, side)
        mine |= fresh
        self.bytes += sum(map(len, fresh))
        if self.bytes > self.budget:
            self._spill()

    def _spill(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="snapkit-diff-", dir=self.tmpdir)
        partitions = _partition_count(max(self.size_hint, 2 * self.bytes), self.budget)
        for side in ("a", "b"):
            self.files[side] = [
                open(os.path.join(self.folder.name, f"{side}.{i}"), "wb+", buffering=1 << 20)  # noqa: SIM115
                for i in range(partitions)
            ]
        for side, lines in self.sets.items():
            self._write(lines, side)
            lines.clear()
        self.bytes = 0

    def _write(self, lines: Iterable[bytes], side: str) -> None:
        files = self.files[side]
        mask = len(files) - 1
        buckets: list[list[bytes]] = [[] for _ in files]
        appenders = [bucket.append for bucket in buckets]
        for line in lines:
            appenders[hash(line) & mask](line)
        for bucket, file in zip(buckets, files, strict=True):
            if bucket:
                bucket.append(b"")
                file.write(b"\n".join(bucket))

    def finish(self, collector: _Collector) -> None:
        """Hand the lines on one side only to the key pass."""
        if self.folder is None:
            collector.add(self.sets["a"], "a")
            collector.add(self.sets["b"], "b")
            self.sets = {"a": set(), "b": set()}
            return
        for file_a, file_b in zip(self.files["a"], self.files["b"], strict=True):
            groups = []
            for file in (file_a, file_b):
                file.flush()
                file.seek(0)
                groups.append(_read(file))
                file.truncate(0)
            _compare_lines(groups[0], groups[1], collector, self.name)

    def close(self) -> None:
        for files in self.files.values():
            for file in files:
                file.close()
        self.files = {}
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None


def _partition_count(size: int, budget: int) -> int:
    if size <= budget:
        return 2
    wanted = -(-size // max(budget // 2, 1))
    count = 2
    while count < wanted and count < 1024:
        count *= 2
    return count


def _read(file: Any) -> list[bytes]:
    return [line for line in file.read().split(b"\n") if line]


def _compare_lines(
    lines_a: list[bytes], lines_b: list[bytes], collector: _Collector, name: str
) -> None:
    """Compare one partition of the residue: the lines on one side only go to the key pass."""
    set_a = set(lines_a)
    if len(set_a) != len(lines_a):
        raise _twice(name, "a")
    set_b = set(lines_b)
    if len(set_b) != len(lines_b):
        raise _twice(name, "b")
    collector.add(set_a - set_b, "a")
    collector.add(set_b - set_a, "b")


def _twice(name: str, side: str) -> DiffError:
    return DiffError(
        f"table {name!r} of snapshot {side} holds the same row twice",
        hint="a keyed table needs a unique key per row",
    )


class _Collector:
    """The key pass: matches lines found on one side only by their key."""

    def __init__(
        self, key_column: str, max_items: int | None, budget: int, tmpdir: str | None, name: str
    ) -> None:
        self.key_column = key_column
        self.max_items = max_items
        self.budget = budget
        self.tmpdir = tmpdir
        self.name = name
        self.pending: dict[str, list[bytes]] = {"a": [], "b": []}
        self.pending_bytes = 0
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.files: dict[str, list[Any]] = {}
        self.partitions = 16
        self.decode = json_decoder()

    def add(self, lines: Iterable[bytes], side: str) -> None:
        pending = self.pending[side]
        for line in lines:
            pending.append(line)
            self.pending_bytes += len(line)
        if self.pending_bytes > self.budget:
            self._flush()

    def _flush(self) -> None:
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="snapkit-keys-", dir=self.tmpdir)
            for side in ("a", "b"):
                self.files[side] = [
                    open(os.path.join(self.folder.name, f"{side}.{i}"), "wb+")  # noqa: SIM115
                    for i in range(self.partitions)
                ]
        for side, lines in self.pending.items():
            buckets: list[list[bytes]] = [[] for _ in range(self.partitions)]
            for line in lines:
                key = self._key(line, side)[0]
                buckets[hash(key) % self.partitions].append(line)
            for bucket, file in zip(buckets, self.files[side], strict=True):
                if bucket:
                    bucket.append(b"")
                    file.write(b"\n".join(bucket))
            lines.clear()
        self.pending_bytes = 0

    def _key(self, line: bytes, side: str) -> tuple[Any, Any, dict[str, Any]]:
        try:
            row = self.decode(line)
        except ValueError:
            raise DiffError(
                f"table {self.name!r} of snapshot {side} holds a line that is not JSON",
                hint="run 'snapkit snapshots verify'",
            ) from None
        if not isinstance(row, dict):
            raise DiffError(
                f"table {self.name!r} of snapshot {side} holds a row that is not a JSON object"
            )
        if self.key_column not in row:
            raise DiffError(
                f"table {self.name!r} of snapshot {side} has a row without its "
                f"key column {self.key_column!r}"
            )
        key = row[self.key_column]
        return _identity(key), key, row

    def _decoded(self, lines: Iterable[bytes], side: str) -> list[tuple[Any, Any, dict[str, Any]]]:
        """:meth:`_key` of every line (the same checks and errors), in one loop."""
        decode, column = self.decode, self.key_column
        out: list[tuple[Any, Any, dict[str, Any]]] = []
        append = out.append
        for line in lines:
            try:
                row = decode(line)
                key = row[column]
            except (ValueError, KeyError, TypeError):
                self._key(line, side)  # raises the error that says what is wrong
                raise
            if type(row) is not dict:
                self._key(line, side)
            kind = type(key)
            if kind is str or kind is int or kind is float:
                append(((kind.__name__, key), key, row))
            else:
                append((_identity(key), key, row))
        return out

    def _groups(self) -> Iterator[tuple[list[bytes], list[bytes]]]:
        if self.folder is None:
            yield self.pending["a"], self.pending["b"]
            return
        if self.pending["a"] or self.pending["b"]:
            self._flush()
        for file_a, file_b in zip(self.files["a"], self.files["b"], strict=True):
            groups = []
            for file in (file_a, file_b):
                file.seek(0)
                groups.append([line for line in file.read().split(b"\n") if line])
            yield groups[0], groups[1]

    def finish(self) -> TableChanges:
        added = _Top(self.max_items)
        removed = _Top(self.max_items)
        changed = _Top(self.max_items)
        for lines_a, lines_b in self._groups():
            old: dict[Any, tuple[Any, dict[str, Any]]] = {}
            for ident, key, row in self._decoded(lines_a, "a"):
                if ident in old:
                    raise self._duplicate("a")
                old[ident] = (key, row)
            seen: set[Any] = set()
            for ident, key, row in self._decoded(lines_b, "b"):
                if ident in seen:
                    raise self._duplicate("b")
                seen.add(ident)
                before = old.pop(ident, None)
                if before is None:
                    added.add(sort_key(key), key)
                else:
                    changed.add(sort_key(key), {"key": key, "fields": diff_rows(before[1], row)})
            for key, _row in old.values():
                removed.add(sort_key(key), key)
        return TableChanges(
            tuple(added.items()),
            tuple(removed.items()),
            tuple(changed.items()),
            added.count,
            removed.count,
            changed.count,
            added.truncated or removed.truncated or changed.truncated,
        )

    def _duplicate(self, side: str) -> DiffError:
        return DiffError(
            f"table {self.name!r} of snapshot {side} holds a key twice in "
            f"column {self.key_column!r}",
            hint="a keyed table needs a unique key per row",
        )

    def close(self) -> None:
        for files in self.files.values():
            for file in files:
                file.close()
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None


def _identity(key: Any) -> Any:
    """A hashable identity of a key that tells JSON types apart (``1``, ``1.0``, ``true``)."""
    kind = type(key)
    if kind is str or kind is int or kind is float:
        return (kind.__name__, key)
    return ("json", canonical_str(key))


class _Top:
    """Keeps every item, or only the ``limit`` smallest by sort key; counts them all."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.count = 0
        self.heap: list[tuple[Any, int, Any]] = []

    def add(self, order: Any, item: Any) -> None:
        self.count += 1
        entry = (
            (_Reversed(order), self.count, item)
            if self.limit is not None
            else (order, self.count, item)
        )
        if self.limit is None:
            self.heap.append(entry)
        elif len(self.heap) < self.limit:
            heapq.heappush(self.heap, entry)
        elif self.limit and _Reversed(order) > self.heap[0][0]:
            heapq.heapreplace(self.heap, entry)

    @property
    def truncated(self) -> bool:
        return self.limit is not None and self.count > self.limit

    def items(self) -> list[Any]:
        if self.limit is None:
            return [item for _order, _n, item in sorted(self.heap, key=lambda e: e[0])]
        return [item for _order, _n, item in sorted(self.heap, key=lambda e: e[0].order)]


class _Reversed:
    """Inverts an order so a min-heap keeps the smallest items (drops the largest first)."""

    __slots__ = ("order",)

    def __init__(self, order: Any) -> None:
        self.order = order

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.order < self.order)

    def __gt__(self, other: _Reversed) -> bool:
        return bool(other.order > self.order)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.order == other.order

    def __hash__(self) -> int:
        return hash(self.order)
