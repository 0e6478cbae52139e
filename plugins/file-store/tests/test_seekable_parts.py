"""Seekable parts: frames of whole lines and a checked seek table, read back by every reader,
ranges read from the frames that hold them, and damage found (never other bytes returned)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapkit.canonical import sha256_hex
from snapkit.errors import CorruptSnapshotError
from snapkit.store import PartRangeReader
from snapkit.testing.store_kit import commit, record_lines
from snapkit_file_store import FileStore, seekable
from snapkit_file_store.parts import (
    ZstdPartWriter,
    hash_part_file,
    load_table,
    open_part_file,
    part_file_blocks,
    part_file_ranges,
)
from snapkit_file_store.testing import rot_part_content, write_single_frame_part


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """A store writing whole (seekable) parts: the format these tests take apart (chunked
    parts have their own tests)."""
    return FileStore(tmp_path / "store", chunk_size=0)


def _write(folder: Path, chunks: list[bytes], frame_size: int) -> tuple[str, Path]:
    writer = ZstdPartWriter(folder, 3, "t", frame_size=frame_size)
    for chunk in chunks:
        writer.write(chunk)
    sha, _size = writer.close()
    return sha, folder / f"{sha}.zst"


def _table(path: Path) -> seekable.SeekTable:
    with open(path, "rb") as raw:
        return load_table(raw, raw.read(seekable.HEADER_SIZE), path, None)


def _every_read(path: Path, sha: str) -> list[bytes]:
    """The part as each reader returns it."""
    with open_part_file(path, sha) as handle:
        opened = handle.read()
    return [
        opened,
        b"".join(part_file_blocks(path, sha, verify=True)),
        b"".join(part_file_blocks(path, sha, verify=False)),
        b"".join(part_file_ranges(path, sha, [(0, 1 << 40)])),
    ]


lines = st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"") + b"\n"), max_size=60)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=lines,
    frame_size=st.integers(1, 700),
    split=st.integers(1, 500),
    tail=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
)
def test_a_part_reads_back_the_same_whatever_its_frames_and_writes(
    tmp_path: Path,
    parts: list[bytes],
    frame_size: int,
    split: int,
    tail: bytes,
) -> None:
    folder = tmp_path / os.urandom(6).hex()
    folder.mkdir()
    data = b"".join(parts) + tail
    chunks = [data[i : i + split] for i in range(0, len(data), split)]
    sha, path = _write(folder, chunks, frame_size)
    assert sha == sha256_hex(data)
    assert _every_read(path, sha) == [data] * 4
    assert hash_part_file(path) == (sha, len(data))
    table = _table(path)
    assert table.total == len(data)
    # every frame but the last holds whole lines, and reaches the frame size
    for start, size in zip(table.plain[:-1], table.plain_sizes[:-1], strict=True):
        assert size >= frame_size and data[start + size - 1 : start + size] == b"\n"
        assert b"\n" not in data[start + frame_size - 1 : start + size - 1]
    # the same bytes, written in other pieces, make the same file
    _sha, again = _write(folder, [data], frame_size)
    assert again.read_bytes() == path.read_bytes()
    # any ascending ranges read the plain bytes, across frames and past the end
    ranges = sorted(
        (min(o, len(data) + 3), n)
        for o, n in zip(
            range(0, len(data) + 5, max(1, len(data) // 7 or 1)), range(0, 999, 37), strict=False
        )
    )
    assert list(part_file_ranges(path, sha, ranges)) == [data[o : o + n] for o, n in ranges]


def test_an_empty_part_is_one_empty_frame_and_reads_empty(tmp_path: Path) -> None:
    sha, path = _write(tmp_path, [], 1024)
    assert sha == sha256_hex(b"")
    assert _every_read(path, sha) == [b""] * 4
    assert _table(path).plain_sizes == (0,)
    assert list(part_file_ranges(path, sha, [(0, 10), (5, 1)])) == [b"", b""]


def test_a_line_longer_than_a_frame_is_one_frame_and_reads_across(tmp_path: Path) -> None:
    huge = b"x" * 50_000 + b"\n"
    data = b"a\n" + huge + b"b\n"
    sha, path = _write(tmp_path, [data[i : i + 999] for i in range(0, len(data), 999)], 1000)
    assert _table(path).plain_sizes == (1000 + len(huge) - 998, 2)
    assert _every_read(path, sha) == [data] * 4
    assert list(part_file_ranges(path, sha, [(2, len(huge)), (len(data) - 4, 10)])) == [
        huge,
        data[-4:],
    ]


def test_plain_zstd_decompresses_a_seekable_part(tmp_path: Path) -> None:
    data = b"".join(b'{"id":%d}\n' % i for i in range(50_000))
    _sha, path = _write(tmp_path, [data], 64 * 1024)
    assert len(_table(path).starts) > 5
    reader = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
    assert reader.decompress(path.read_bytes()) == data
    if shutil.which("zstd"):
        done = subprocess.run(["zstd", "-d", "-c", str(path)], capture_output=True, check=True)
        assert done.stdout == data


def test_a_part_written_as_one_frame_before_stays_readable(tmp_path: Path) -> None:
    data = b"".join(b'{"id":%d,"v":"%d"}\n' % (i, i * 7) for i in range(20_000))
    path = tmp_path / f"{sha256_hex(data)}.zst"
    write_single_frame_part(path, data)
    sha = sha256_hex(data)
    assert _every_read(path, sha) == [data] * 4
    assert hash_part_file(path) == (sha, len(data))
    ranges = [(0, 5), (100_000, 30), (len(data) - 3, 10), (len(data) + 4, 2)]
    assert list(part_file_ranges(path, sha, ranges)) == [data[o : o + n] for o, n in ranges]


def _stored(store: FileStore, rows: int) -> tuple[str, Path, bytes]:
    sha, path, data, _id = _committed(store, rows)
    return sha, path, data


def _committed(store: FileStore, rows: int) -> tuple[str, Path, bytes, str]:
    records = [
        {"id": f"r{i:06d}", "name": f"name {i % 97}", "pad": "p" * (i % 50)} for i in range(rows)
    ]
    result = commit(store, records={"t": records})
    sha = store.get(result.snapshot_id).part("t").sha256
    return sha, store.layout.part(sha), b"".join(record_lines(records)), result.snapshot_id


BEFORE_SEEKABLE = (
    "ce48c9583f4b5fb7e16a3439587943bbf48571f3e451927706786d87a0f1fbef",
    "147cae3e262a04f1511bc9de1f9980d0c4c941f6ee213e921e71e2ca72c93937",
)
"""The snapshot id and part name the single-frame writer gave the rows of :func:`_stored`
(30,000 rows), computed with the code before seekable parts."""


def test_snapshot_ids_and_part_names_are_those_of_the_single_frame_writer(
    store: FileStore,
) -> None:
    sha, path, data, snapshot_id = _committed(store, 30_000)
    assert len(_table(path).starts) > 1
    assert (snapshot_id, sha) == BEFORE_SEEKABLE
    assert sha == sha256_hex(data)


def test_the_store_reads_ranges_across_frames(store: FileStore) -> None:
    assert isinstance(store, PartRangeReader)
    sha, path, data = _stored(store, 30_000)
    table = _table(path)
    boundary = table.plain[1]
    middle = len(data) // 2
    ranges = sorted(
        [(0, 10), (boundary - 5, 10), (middle, 5000), (len(data) - 2, 9), (len(data), 1)]
    )
    assert list(store.read_part_ranges(sha, ranges)) == [data[o : o + n] for o, n in ranges]


def _flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_middle_frame_is_found_by_every_reader(store: FileStore) -> None:
    sha, path, data = _stored(store, 30_000)
    table = _table(path)
    middle = len(table.starts) // 2
    _flip(path, table.starts[middle] + table.sizes[middle] // 2)
    inside = table.plain[middle] + 10
    for read in (
        lambda: b"".join(store.iter_part_blocks(sha, verify=True)),
        lambda: b"".join(store.iter_part_blocks(sha, verify=False)),
        lambda: b"".join(store.iter_part_lines(sha)),
        lambda: list(store.read_part_ranges(sha, [(inside, 10)])),
        lambda: hash_part_file(path),
    ):
        with pytest.raises(CorruptSnapshotError):
            read()
    # frames before it still read, from their own checked frames
    assert list(store.read_part_ranges(sha, [(0, 100)])) == [data[:100]]
    assert any(p.ref == sha for p in store.verify().problems)


def test_content_rot_keeping_the_frame_well_formed_is_found_by_its_checksum(
    store: FileStore,
) -> None:
    sha, path, data = _stored(store, 30_000)
    number = rot_part_content(path, b'"r015000"', b'"r015001"')
    start = _table(path).plain[number]
    with pytest.raises(CorruptSnapshotError, match="zstd content checksum"):
        list(store.read_part_ranges(sha, [(start, 10)]))
    with pytest.raises(CorruptSnapshotError, match="zstd content checksum"):
        b"".join(store.iter_part_blocks(sha, verify=False))
    assert data.count(b'"r015001"') == 1


def _table_bytes(path: Path) -> tuple[bytes, int]:
    data = path.read_bytes()
    (count,) = struct.unpack_from("<I", data, len(data) - 9)
    return data, len(data) - (8 + 12 * count + 9)


@pytest.mark.parametrize(
    "damage",
    [
        "plain size",
        "compressed size",
        "checksum",
        "count",
        "descriptor",
        "magic",
        "header digest",
        "header tag",
        "table cut",
        "table gone",
    ],
)
def test_a_damaged_seek_table_is_found_by_every_reader(store: FileStore, damage: str) -> None:
    """Never other bytes: a table whose sizes were changed (so that later frames would be
    read at the wrong offsets) is refused before it is used, by range reads too."""
    sha, path, _data = _stored(store, 30_000)
    data, start = _table_bytes(path)
    damaged = bytearray(data)
    entry = start + 8 + 12  # entry 1: the first data frame
    if damage == "plain size":
        damaged[entry + 4] ^= 0x01  # a changed plain size would shift every later frame
    elif damage == "compressed size":
        damaged[entry] ^= 0x01
    elif damage == "checksum":
        damaged[entry + 8] ^= 0x01
    elif damage == "count":
        damaged[-9] ^= 0x01
    elif damage == "descriptor":
        damaged[-5] ^= 0x40
    elif damage == "magic":
        damaged[-1] ^= 0x01
    elif damage == "header digest":
        damaged[20] ^= 0x01
    elif damage == "header tag":
        damaged[9] ^= 0x01
    elif damage == "table cut":
        del damaged[start + 5 :]
    elif damage == "table gone":
        del damaged[start:]
    path.write_bytes(bytes(damaged))
    for read in (
        lambda: b"".join(store.iter_part_blocks(sha, verify=True)),
        lambda: b"".join(store.iter_part_blocks(sha, verify=False)),
        lambda: list(store.read_part_ranges(sha, [(5_000_000, 10)])),
        lambda: list(store.read_part_ranges(sha, [(0, 10)])),
        lambda: hash_part_file(path),
    ):
        with pytest.raises(CorruptSnapshotError):
            read()
    assert any(p.ref == sha for p in store.verify().problems)


def test_ranges_must_ascend(store: FileStore) -> None:
    sha, _path, _data = _stored(store, 100)
    with pytest.raises(ValueError, match="ascend"):
        list(store.read_part_ranges(sha, [(50, 1), (10, 1)]))
    with pytest.raises(ValueError, match="length"):
        list(store.read_part_ranges(sha, [(0, -1)]))


def test_a_missing_part_raises_on_range_reads(store: FileStore) -> None:
    sha, path, _data = _stored(store, 10)
    path.unlink()
    with pytest.raises(CorruptSnapshotError, match="not in the store"):
        list(store.read_part_ranges(sha, [(0, 1)]))


def test_a_bit_flip_anywhere_never_reads_as_other_bytes(tmp_path: Path) -> None:
    """Every single-bit flip of a small multi-frame part: each reader raises or returns the
    part's bytes unchanged, whether it reads the flipped frame or another one."""
    data = b"".join(b'{"id":%d,"name":"n%d"}\n' % (i, i % 13) for i in range(30))
    sha, path = _write(tmp_path, [data], 150)
    assert len(_table(path).starts) >= 4
    original = path.read_bytes()
    ranges = [(0, 40), (len(data) // 2, 100), (len(data) - 30, 60)]
    for position in range(len(original)):
        damaged = bytearray(original)
        damaged[position] ^= 1 << (position % 8)
        path.write_bytes(bytes(damaged))
        for read, expected in (
            (lambda: b"".join(part_file_blocks(path, sha, verify=False)), data),
            (
                lambda: list(part_file_ranges(path, sha, ranges)),
                [data[o : o + n] for o, n in ranges],
            ),
            (
                lambda: list(part_file_ranges(path, sha, [(len(data) // 2, 10)])),
                [data[len(data) // 2 : len(data) // 2 + 10]],
            ),
        ):
            try:
                got = read()
            except CorruptSnapshotError:
                continue
            assert got == expected, f"flip at byte {position} read as other bytes"
