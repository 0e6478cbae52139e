"""Search indexes: built once per (part, field) at commit time, answering ``=`` and ``^=``.

An index is derived data kept beside the store (``[search] index_dir``), keyed by the part's
SHA-256, so it can never be stale: a part's bytes never change. Each index holds, sorted by
the case-folded field value, one entry per (value, row) with the row's canonical JSON line, so
a lookup is a binary search plus the matching rows — no scan of the table. Results are then
checked with the same matcher the streaming scan uses and put back in table order, so an
indexed search returns exactly what a scan returns.

Entries are built with an external merge sort (sorted runs spilled to temporary files), so
building takes bounded memory whatever the table's size.
"""

from __future__ import annotations

import heapq
import json
import mmap
import os
import tempfile
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from snapkit.contracts import PartRef
from snapkit.identifiers import check_name
from snapkit.search import Query, as_text

RUN = 200_000
_SEP = b"\t"


def index_folder(project: Any) -> Path:
    """The folder the project's search indexes live in."""
    return Path(project.config.resolve_path(project.config.search.index_dir))


def _paths(folder: Path, sha256: str, field: str) -> tuple[Path, Path]:
    check_name(field.replace(".", "_"), "indexed field")
    base = folder / sha256[:2] / sha256
    return base / f"{field}.idx", base / f"{field}.off"


def build_index(lines: Iterator[bytes], folder: Path, sha256: str, field: str) -> Path:
    """Build the index of ``field`` for the part with ``sha256`` from its lines.

    Returns the index path. An existing index is kept (parts are immutable).
    """
    from snapkit.search import _values

    data_path, offsets_path = _paths(folder, sha256, field)
    if data_path.exists() and offsets_path.exists():
        return data_path
    data_path.parent.mkdir(parents=True, exist_ok=True)
    runs: list[Path] = []
    chunk: list[tuple[str, int, bytes]] = []
    with tempfile.TemporaryDirectory(dir=data_path.parent) as scratch:
        for row, line in enumerate(lines):
            record = json.loads(line)
            seen: set[str] = set()
            for value in _values(record, field):
                text = as_text(value)
                if text is None:
                    continue
                key = text.casefold()
                if key in seen:
                    continue
                seen.add(key)
                chunk.append((key, row, line.rstrip(b"\n")))
            if len(chunk) >= RUN:
                runs.append(_spill(chunk, Path(scratch), len(runs)))
        if chunk:
            runs.append(_spill(chunk, Path(scratch), len(runs)))
        tmp_data = data_path.with_suffix(".idx.tmp")
        tmp_offsets = offsets_path.with_suffix(".off.tmp")
        offsets = array("Q")
        position = 0
        with tmp_data.open("wb") as out:
            for entry in heapq.merge(*(_read_run(run) for run in runs)):
                key, row, line = entry
                encoded = (json.dumps(key, ensure_ascii=False).encode("utf-8") + _SEP
                           + str(row).encode() + _SEP + line + b"\n")
                offsets.append(position)
                out.write(encoded)
                position += len(encoded)
            out.flush()
            os.fsync(out.fileno())
        with tmp_offsets.open("wb") as out:
            offsets.tofile(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_offsets, offsets_path)
        os.replace(tmp_data, data_path)
    return data_path


def _spill(chunk: list[tuple[str, int, bytes]], folder: Path, number: int) -> Path:
    chunk.sort()
    path = folder / f"run-{number}.jsonl"
    with path.open("wb") as out:
        for key, row, line in chunk:
            out.write(json.dumps(key, ensure_ascii=False).encode("utf-8") + _SEP
                      + str(row).encode() + _SEP + line + b"\n")
    chunk.clear()
    return path


def _read_run(path: Path) -> Iterator[tuple[str, int, bytes]]:
    with path.open("rb") as handle:
        for raw in handle:
            key, row, line = raw.rstrip(b"\n").split(_SEP, 2)
            yield json.loads(key), int(row), line


class Index:
    """An opened index: binary search over sorted keys through a memory map."""

    def __init__(self, data_path: Path, offsets_path: Path) -> None:
        self.offsets = array("Q")
        with offsets_path.open("rb") as handle:
            self.offsets.frombytes(handle.read())
        self._file = data_path.open("rb")
        size = data_path.stat().st_size
        self.data = mmap.mmap(self._file.fileno(), size, access=mmap.ACCESS_READ) if size else b""

    def close(self) -> None:
        """Release the memory map."""
        if isinstance(self.data, mmap.mmap):
            self.data.close()
        self._file.close()

    def _entry(self, index: int) -> tuple[str, int, bytes]:
        start = self.offsets[index]
        end = self.offsets[index + 1] if index + 1 < len(self.offsets) else len(self.data)
        key, row, line = self.data[start:end - 1].split(_SEP, 2)
        return json.loads(key), int(row), line

    def _key(self, index: int) -> str:
        start = self.offsets[index]
        end = self.data.find(_SEP, start)
        key: str = json.loads(self.data[start:end])
        return key

    def lookup(self, key: str, prefix: bool) -> Iterator[tuple[int, bytes]]:
        """Yield ``(row, line)`` for entries whose key equals (or starts with) ``key``."""
        low, high = 0, len(self.offsets)
        while low < high:
            middle = (low + high) // 2
            if self._key(middle) < key:
                low = middle + 1
            else:
                high = middle
        for index in range(low, len(self.offsets)):
            found, row, line = self._entry(index)
            if found == key or (prefix and found.startswith(key)):
                yield row, line
            else:
                return


def open_index(folder: Path, sha256: str, field: str) -> Index | None:
    """Open the index of ``field`` for a part, or return ``None`` if none was built."""
    data_path, offsets_path = _paths(folder, sha256, field)
    if not (data_path.exists() and offsets_path.exists()):
        return None
    return Index(data_path, offsets_path)


def indexed_search(project: Any, part: PartRef, query: Query, *, offset: int,
                   limit: int | None) -> tuple[list[dict[str, Any]], bool, int, str] | None:
    """Answer ``query`` from an index, or return ``None`` if no index covers any term."""
    folder = index_folder(project)
    for term in query.terms:
        if term.field is None or term.op not in {"=", "^="}:
            continue
        index = open_index(folder, part.sha256, term.field)
        if index is None:
            continue
        try:
            candidates = sorted(dict(index.lookup(term.value.casefold(),
                                                  term.op == "^=")).items())
        finally:
            index.close()
        rows: list[dict[str, Any]] = []
        matched = 0
        stop = None if limit is None else offset + limit
        for _, line in candidates:
            record = json.loads(line)
            if not query.matches(record):
                continue
            if stop is not None and matched >= stop:
                return rows, True, len(candidates), term.field
            if matched >= offset:
                rows.append(record)
            matched += 1
        return rows, False, len(candidates), term.field
    return None


def build_configured_indexes(project: Any, manifest: Any) -> list[str]:
    """Build the indexes ``[search] index`` asks for, for a committed snapshot's parts."""
    built = []
    folder = index_folder(project)
    for part in manifest.parts:
        for field in project.config.search.index.get(part.name, ()):
            build_index(project.store.iter_part_lines(part.sha256), folder, part.sha256, field)
            built.append(f"{part.name}.{field}")
    return built
