"""Block reads of stored parts (``FileStore.iter_part_blocks``): what ``verify=False`` still
checks (zstd's content checksum, a complete frame) and what only ``verify=True`` checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zstandard

from snapkit.errors import CorruptSnapshotError
from snapkit.store import PartBlockReader
from snapkit.testing.store_kit import commit, record_lines
from snapkit_file_store import FileStore
from snapkit_file_store.testing import write_single_frame_part


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """A store writing whole (seekable) parts: the format these tests take apart (chunked
    parts have their own tests)."""
    return FileStore(tmp_path / "store", chunk_size=0)


def _rows(n: int, tag: str = "r") -> list[dict[str, object]]:
    return [{"id": f"{tag}{i}", "name": f"name {i % 97}", "v": i} for i in range(n)]


def _stored(store: FileStore, rows: list[dict[str, object]]) -> tuple[str, Path, bytes]:
    result = commit(store, records={"t": rows})
    sha = store.get(result.snapshot_id).part("t").sha256
    return sha, store.layout.part(sha), b"".join(record_lines(rows))


def _read(store: FileStore, sha: str, *, verify: bool) -> bytes:
    return b"".join(store.iter_part_blocks(sha, verify=verify))


def test_the_file_store_offers_block_reads_that_join_to_the_part(store: FileStore) -> None:
    assert isinstance(store, PartBlockReader)
    sha, _path, data = _stored(store, _rows(20_000))
    for verify in (True, False):
        blocks = list(store.iter_part_blocks(sha, verify=verify))
        assert len(blocks) > 1
        assert b"".join(blocks) == data


def test_content_that_does_not_match_the_zstd_checksum_raises_without_verify(
    store: FileStore,
) -> None:
    """Bit rot in the content: a well-formed frame whose bytes no longer match its XXH64."""
    sha, path, data = _stored(store, _rows(500))
    original = path.read_bytes()
    changed = data.replace(b"name 5", b"name 6", 1)
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(changed)
    path.write_bytes(frame[:-4] + original[-4:])  # the checksum of the original content
    with pytest.raises(CorruptSnapshotError, match="zstd content checksum"):
        _read(store, sha, verify=False)
    with pytest.raises(CorruptSnapshotError):
        _read(store, sha, verify=True)
    assert any(p.ref == sha for p in store.verify().problems)


def test_a_bit_flip_anywhere_raises_or_reads_the_part_unchanged(store: FileStore) -> None:
    """Never wrong bytes without an error: every single-bit flip of a small part's file."""
    sha, path, data = _stored(store, _rows(60))
    original = path.read_bytes()
    for position in range(len(original)):
        damaged = bytearray(original)
        damaged[position] ^= 1 << (position % 8)
        path.write_bytes(bytes(damaged))
        try:
            read = _read(store, sha, verify=False)
        except CorruptSnapshotError:
            continue
        assert read == data, f"flip at byte {position} read as other bytes"


@pytest.mark.parametrize("cut", [1, 4, 5, 100])
def test_a_cut_into_a_single_frame_part_raises_without_verify(store: FileStore, cut: int) -> None:
    """A part of the format before seekable parts (one frame): cutting even just the frame's
    content checksum off raises."""
    sha, path, data = _stored(store, _rows(2000))
    write_single_frame_part(path, data)
    assert _read(store, sha, verify=False) == data
    original = path.read_bytes()
    path.write_bytes(original[: len(original) - cut])
    with pytest.raises(CorruptSnapshotError, match=r"truncated|checksum|decompress"):
        _read(store, sha, verify=False)


@pytest.mark.parametrize("cut", [1, 9, 100, "frame"])
def test_a_cut_seekable_part_raises_without_verify(store: FileStore, cut: int | str) -> None:
    """Cutting a seekable part anywhere raises, even exactly between two frames (complete,
    checksummed frames, only the seek table gone)."""
    sha, path, _data = _stored(store, _rows(2000))
    original = path.read_bytes()
    if cut == "frame":
        reader = zstandard.ZstdDecompressor().decompressobj()
        reader.decompress(original[48:])  # the header, then the first data frame
        end = len(original) - len(reader.unused_data)
    else:
        end = len(original) - int(cut)
    path.write_bytes(original[:end])
    with pytest.raises(CorruptSnapshotError, match=r"truncated"):
        _read(store, sha, verify=False)


def test_a_frame_without_a_content_checksum_is_hashed_even_without_verify(
    store: FileStore,
) -> None:
    sha, path, data = _stored(store, _rows(300))
    plain = zstandard.ZstdCompressor(write_checksum=False)
    path.write_bytes(plain.compress(data))
    assert _read(store, sha, verify=False) == data
    path.write_bytes(plain.compress(data.replace(b"name 5", b"name 6", 1)))
    with pytest.raises(CorruptSnapshotError, match="SHA-256"):
        _read(store, sha, verify=False)


def test_only_verify_catches_a_single_frame_part_swapped_for_another_well_formed_part(
    store: FileStore,
) -> None:
    """What ``verify=False`` does not check in a part of the format before seekable parts:
    that the bytes are the part the name says."""
    sha, path, _data = _stored(store, _rows(300))
    other_sha, _other_path, other_data = _stored(store, _rows(300, "other"))
    write_single_frame_part(path, other_data)
    assert _read(store, sha, verify=False) == other_data
    with pytest.raises(CorruptSnapshotError, match="SHA-256"):
        _read(store, sha, verify=True)
    with pytest.raises(CorruptSnapshotError, match="SHA-256"), store.open_part(sha) as handle:
        handle.read()
    assert any(p.ref == sha for p in store.verify().problems)
    assert other_sha != sha


def test_a_missing_part_raises_corrupt_snapshot(store: FileStore) -> None:
    sha, path, _data = _stored(store, _rows(10))
    path.unlink()
    for verify in (True, False):
        with pytest.raises(CorruptSnapshotError, match="not in the store"):
            _read(store, sha, verify=verify)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_a_block_read_closed_early_closes_its_file(store: FileStore) -> None:
    sha, _path, _data = _stored(store, _rows(20_000))
    before = len(os.listdir("/proc/self/fd"))
    blocks = store.iter_part_blocks(sha, verify=False)
    next(blocks)
    assert len(os.listdir("/proc/self/fd")) == before + 1
    blocks.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_seekable_part_swapped_for_another_is_refused_even_without_verify(
    store: FileStore,
) -> None:
    """The header binds the seek table to the part's name: another part's file is refused."""
    sha, path, _data = _stored(store, _rows(300))
    _other_sha, other_path, _other_data = _stored(store, _rows(300, "other"))
    path.write_bytes(other_path.read_bytes())
    for verify in (True, False):
        with pytest.raises(CorruptSnapshotError, match="another part"):
            _read(store, sha, verify=verify)
    with pytest.raises(CorruptSnapshotError, match="another part"):
        list(store.read_part_ranges(sha, [(0, 10)]))
