"""The keyed table diff: rows added, removed and changed between two parts, in bounded memory.

A part is canonical JSON Lines, so two rows are equal exactly when their line bytes are equal.
The diff uses that in two passes and decodes only rows that differ:

1. **Lines.** Each side's lines are split from large chunks (no Python call per line);
   ``a``'s lines are held as a set of byte strings and ``b``'s are streamed against it: a
   line found on both sides is an unchanged row and is never decoded. When ``a`` is larger
   than the memory budget, both tables are first partitioned to temporary files by a hash of
   the line (the grace hash join), so each partition is compared on its own and memory holds
   one partition of ``a`` at a time.
2. **Keys.** The lines found on one side only are decoded to read their key. A key on both
   sides is a changed row (its fields are compared), a key only in ``a`` was removed, a key
   only in ``b`` added. This pass too spills to key-hashed partitions when it is large.

Results are sorted by key (numbers, then strings; see :func:`snapkit.diff.sort_key`) and, with
``max_items``, only the first items are kept while the counts stay exact; memory for the
listed changes is then bounded by ``max_items``.
"""

from __future__ import annotations

import heapq
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from attrs import frozen

from snapkit.canonical import canonical_str
from snapkit.diff import delta, is_number, sort_key
from snapkit.errors import DiffError

__all__ = ["DEFAULT_MEMORY_BUDGET", "TableChanges", "diff_rows", "diff_tables"]

DEFAULT_MEMORY_BUDGET = 128 * 1024 * 1024
"""Bytes of table ``a``'s rows held in memory at once; a larger table is partitioned to disk.

Held as a set of byte strings, rows take about 1.6 times their size, so the peak memory of a
diff is about twice the budget.
"""

_MISSING = object()
LineBatches = Callable[[], Iterable[list[bytes]]]


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
    for name in sorted(old.keys() | new.keys()):
        before = old.get(name, _MISSING)
        after = new.get(name, _MISSING)
        if _same(before, after):
            continue
        change: dict[str, Any] = {}
        if before is not _MISSING:
            change["from"] = before
        if after is not _MISSING:
            change["to"] = after
        left = None if before is _MISSING else before
        right = None if after is _MISSING else after
        if (left is None or is_number(left)) and (right is None or is_number(right)):
            change["delta"] = delta(left, right)
        fields[name] = change
    return fields


def _same(a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return bool(canonical_str(a) == canonical_str(b))
    return bool(a == b)


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
    :param lines_b: returns the batches of table ``b`` (called once).
    :param key_column: the field identifying a row; every row must have it, uniquely.
    :param size_hint: bytes of table ``a``; above ``memory_budget`` the line pass is
        partitioned to disk.
    :param max_items: the most keys/rows listed per kind of change.
    :param memory_budget: bytes of ``a``'s rows held in memory at once (see
        :data:`DEFAULT_MEMORY_BUDGET`).
    :param tmpdir: where partitions go (default: the system's temporary folder).
    :param name: the table's name, for error messages.
    :raises DiffError: when a row is not a JSON object, lacks the key column, or a key or row
        appears twice.
    """
    partitions = _partition_count(size_hint, memory_budget)
    collector = _Collector(key_column, max_items, memory_budget, tmpdir, name)
    try:
        if partitions == 1:
            _compare_lines(_gather(lines_a()), _gather(lines_b()), collector, name)
        else:
            with tempfile.TemporaryDirectory(prefix="snapkit-diff-", dir=tmpdir) as folder:
                files_a = _spill(lines_a(), partitions, os.path.join(folder, "a"))
                files_b = _spill(lines_b(), partitions, os.path.join(folder, "b"))
                for path_a, path_b in zip(files_a, files_b, strict=True):
                    _compare_lines(_gather(_read(path_a)), _gather(_read(path_b)), collector, name)
                    os.unlink(path_a)
                    os.unlink(path_b)
        return collector.finish()
    finally:
        collector.close()


def _partition_count(size: int, budget: int) -> int:
    if size <= budget:
        return 1
    wanted = -(-size // max(budget // 2, 1))
    count = 2
    while count < wanted and count < 1024:
        count *= 2
    return count


def _gather(batches: Iterable[list[bytes]]) -> Iterator[list[bytes]]:
    """Drop empty lines (canonical parts have none; a stray blank line is not a row)."""
    for batch in batches:
        if b"" in batch:
            batch = [line for line in batch if line]
        yield batch


def _spill(batches: Iterable[list[bytes]], count: int, prefix: str) -> list[str]:
    """Write each line to one of ``count`` files chosen by its hash; return the file paths."""
    paths = [f"{prefix}.{index}" for index in range(count)]
    files = [open(path, "wb", buffering=1 << 20) for path in paths]  # noqa: SIM115
    try:
        mask = count - 1
        buckets: list[list[bytes]] = [[] for _ in range(count)]
        appenders = [bucket.append for bucket in buckets]
        for batch in batches:
            for line in batch:
                if line:
                    appenders[hash(line) & mask](line)
            for bucket, file in zip(buckets, files, strict=True):
                if bucket:
                    bucket.append(b"")
                    file.write(b"\n".join(bucket))
                    bucket.clear()
    finally:
        for file in files:
            file.close()
    return paths


def _read(path: str, chunk: int = 1 << 22) -> Iterator[list[bytes]]:
    with open(path, "rb") as file:
        rest = b""
        while True:
            data = file.read(chunk)
            if not data:
                break
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            yield lines
        if rest:
            yield [rest]


def _compare_lines(
    batches_a: Iterable[list[bytes]],
    batches_b: Iterable[list[bytes]],
    collector: _Collector,
    name: str,
) -> None:
    """Compare one partition: hold ``a``'s lines as a set, stream ``b``'s against it.

    Every step is a set operation done in C; the lines on one side only go to the key pass.
    """
    set_a: set[bytes] = set()
    count_a = 0
    for batch in batches_a:
        set_a.update(batch)
        count_a += len(batch)
    if len(set_a) != count_a:
        raise _twice(name, "a")
    only_b: set[bytes] = set()
    listed_b = 0
    for batch in batches_b:
        chunk = set(batch)
        if len(chunk) != len(batch):
            raise _twice(name, "b")
        fresh = chunk.difference(set_a)
        listed_b += len(fresh)
        only_b |= fresh
        set_a.difference_update(chunk)
    if len(only_b) != listed_b:
        raise _twice(name, "b")
    collector.add(set_a, "a")
    collector.add(only_b, "b")


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
            row = json.loads(line)
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
            for line in lines_a:
                ident, key, row = self._key(line, "a")
                if ident in old:
                    raise self._duplicate("a")
                old[ident] = (key, row)
            seen: set[Any] = set()
            for line in lines_b:
                ident, key, row = self._key(line, "b")
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
