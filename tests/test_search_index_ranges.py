"""Indexed lookups through a store's range reads (``PartRangeReader``): the same answers as a
scan, only the frames holding the rows decompressed, rows across frames and longer than one
read, and damage raising instead of answering."""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from snapkit.canonical import canonical_bytes
from snapkit.errors import CorruptSnapshotError
from snapkit.search import search_table
from snapkit.search_index import ROW_READ, IndexDamaged, fetch_rows, row_digest
from snapkit.store import PartRangeReader
from snapkit.testing.engine import OraclePlugin, make_project

ROWS = [
    {
        "id": f"u{i:05d}",
        "email": f"user{i % 700}@example.org",
        "bio": "b" * (i % 37) + ("L" * 40_000 if i % 500 == 3 else ""),
    }
    for i in range(3000)
]


@pytest.fixture
def project(tmp_path: Path) -> Any:
    plugin = OraclePlugin().add("users", lambda call: iter(ROWS), records=True, key_column="id")
    project = make_project(
        tmp_path,
        plugin,
        config={"search": {"index": {"users": ["email"]}, "index_dir": str(tmp_path / "idx")}},
    )
    assert project.refresh().status == "success"
    return project


def _reframe(project: Any, frame_size: int) -> Path:
    """Rewrite the users part with small frames (the same bytes, the same name)."""
    from snapkit_file_store.parts import ZstdPartWriter

    store = project.store
    sha = project.current().part("users").sha256
    with store.open_part(sha) as handle:
        plain = handle.read()
    scratch = store.layout.root / "scratch"
    scratch.mkdir()
    writer = ZstdPartWriter(scratch, 3, "t", frame_size=frame_size)
    writer.write(plain)
    assert writer.close()[0] == sha
    path: Path = store.layout.part(sha)
    path.chmod(0o644)
    shutil.move(scratch / f"{sha}.zst", path)
    return path


@pytest.mark.parametrize("frame_size", [1, 500, 4096, 1 << 20])
def test_indexed_answers_equal_scan_answers_whatever_the_frames(
    project: Any, frame_size: int
) -> None:
    assert isinstance(project.store, PartRangeReader)
    _reframe(project, frame_size)
    for value in (
        "user3@example.org",
        "USER699@example.org",
        "user0@example.org",
        "nobody",
        "user1",
    ):
        for op in ("=", "^="):
            query = f"email{op}{value}"
            indexed = search_table(project, "current", "users", query, limit=None)
            scanned = search_table(project, "current", "users", query, limit=None, use_index=False)
            assert indexed.used_index and not scanned.used_index
            assert indexed.rows == scanned.rows, query
    page = search_table(project, "current", "users", "email^=user1", limit=3, offset=2)
    assert (
        page.rows
        == search_table(
            project, "current", "users", "email^=user1", limit=3, offset=2, use_index=False
        ).rows
    )


def test_a_lookup_decompresses_only_the_frames_holding_its_rows(
    project: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from snapkit_file_store import parts

    _reframe(project, 8192)
    decompressed: list[int] = []
    real = parts.frame_blocks

    def counting(raw: Any, table: Any, number: int, where: Path) -> Iterator[bytes]:
        decompressed.append(number)
        return real(raw, table, number, where)

    monkeypatch.setattr(parts, "frame_blocks", counting)
    found = search_table(project, "current", "users", "email=user2@example.org", limit=None)
    assert [r["id"] for r in found.rows] == [
        r["id"] for r in ROWS if r["email"] == "user2@example.org"
    ]
    frames = len(set(decompressed))
    all_frames = project.current().part("users").bytes // 8192
    assert frames <= len(found.rows) * 2 < all_frames // 4
    assert len(decompressed) == frames  # no frame decompressed twice in one lookup


def test_a_damaged_frame_fails_an_indexed_search_instead_of_answering(project: Any) -> None:
    from snapkit_file_store.testing import rot_part_content

    path = _reframe(project, 4096)
    rot_part_content(
        path, b'"user5@example.org","id":"u00005"', b'"user5@example.org","id":"u00006"'
    )
    with pytest.raises(CorruptSnapshotError, match="checksum"):
        search_table(project, "current", "users", "email=user5@example.org", limit=None)
    # rows in other frames still come back, each from its own checked frame
    found = search_table(project, "current", "users", "email=user699@example.org")
    assert [r["id"] for r in found.rows] == ["u00699", "u01399", "u02099", "u02799"]


class RangeStore:
    """A store offering only range reads over fixed bytes, counting its calls."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[list[tuple[int, int]]] = []

    def read_part_ranges(
        self, sha256: str, ranges: Iterable[tuple[int, int]]
    ) -> Generator[bytes, None, None]:
        asked: list[tuple[int, int]] = []
        self.calls.append(asked)
        for offset, length in ranges:
            asked.append((offset, length))
            yield self.data[offset : offset + length]

    def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Iterator[bytes]:
        raise AssertionError("a store with range reads is not read from the start")


def test_rows_are_read_by_range_checked_and_longer_rows_read_whole() -> None:
    rows = [{"n": i, "text": "x" * (ROW_READ * 3 if i == 2 else i)} for i in range(6)]
    lines = [canonical_bytes(r) for r in rows]
    offsets = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    store = RangeStore(b"".join(line + b"\n" for line in lines))
    wanted = [(offsets[i], row_digest(lines[i])) for i in (1, 2, 5)]
    assert list(fetch_rows(store, "x", wanted)) == [lines[1], lines[2], lines[5]]
    assert store.calls[0] == [(offsets[i], ROW_READ) for i in (1, 2, 5)]
    assert all(len(call) == 1 and call[0][0] == offsets[2] for call in store.calls[1:])
    with pytest.raises(IndexDamaged, match="does not match the part"):
        list(fetch_rows(store, "x", [(offsets[3], row_digest(lines[4]))]))
    with pytest.raises(IndexDamaged, match="past the end"):
        list(fetch_rows(store, "x", [(len(store.data) + 5, row_digest(lines[0]))]))
    cut = RangeStore(store.data[:-1])  # the last row has lost its line end
    with pytest.raises(IndexDamaged, match="past the end"):
        list(fetch_rows(cut, "x", [(offsets[5], row_digest(lines[5]))]))
