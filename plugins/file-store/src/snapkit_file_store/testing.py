"""Test helpers for the file store: the damage hooks the store conformance kit asks for.

Use them with :class:`snapkit.testing.store_kit.StoreConformance`, or in crash and recovery
tests that need a damaged part or manifest on disk.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import zstandard

from snapkit.chunking import CHUNK_TARGET
from snapkit.store import SnapshotStore
from snapkit_file_store import FileStore, seekable
from snapkit_file_store.chunked import read_chunk_list, read_raw_list
from snapkit_file_store.parts import frame_blocks, load_table


def open_store(path: Path) -> FileStore:
    """Open the file store at ``path`` (a missing directory is created by the first write),
    with its defaults: large parts kept as chunks."""
    return FileStore(path)


def open_whole_store(path: Path) -> FileStore:
    """Open the file store at ``path`` keeping every part whole (``chunk_size = 0``)."""
    return FileStore(path, chunk_size=0)


def open_chunked_store(path: Path) -> FileStore:
    """Open the file store at ``path`` keeping parts as chunks, at the measured chunk target
    (:data:`snapkit.chunking.CHUNK_TARGET`, the default)."""
    return FileStore(path, chunk_size=CHUNK_TARGET)


def _file_store(store: SnapshotStore) -> FileStore:
    if not isinstance(store, FileStore):
        raise TypeError(f"these helpers damage a FileStore, not {type(store).__name__}")
    return store


def damage_part(store: SnapshotStore, sha256: str, how: str) -> None:
    """Damage stored part ``sha256`` in place: flip a bit, truncate it, or delete it."""
    store = _file_store(store)
    path = store.layout.part(sha256)
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x10
    elif how == "truncate":
        del data[len(data) // 2 :]
    else:
        raise ValueError(f"unknown damage {how!r}; use flip, truncate or delete")
    path.write_bytes(bytes(data))


def damage_pack(store: SnapshotStore, sha256: str, how: str) -> None:
    """Damage the first pack holding chunks of chunked part ``sha256`` in place: flip a bit
    (in its middle: inside a frame of chunks), truncate it, or delete it."""
    store = _file_store(store)
    raw = read_raw_list(store.layout.part(sha256), sha256)
    if raw is None:
        raise ValueError(f"part {sha256} is stored whole: it has no packs")
    path = store.layout.pack(raw.packs[raw.runs[0][0]][0])
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 3] ^= 0x10
    elif how == "truncate":
        del data[len(data) // 2 :]
    else:
        raise ValueError(f"unknown damage {how!r}; use flip, truncate or delete")
    path.write_bytes(bytes(data))


def damage_chunk(store: SnapshotStore, sha256: str, position: int, how: str) -> None:
    """Damage the stored bytes of chunk ``position`` of chunked part ``sha256``: flip a bit in
    the middle of the compressed frame holding it, or delete the pack holding it."""
    store = _file_store(store)
    listed = read_chunk_list(store.layout.part(sha256), sha256, store.layout.pack)
    if listed is None:
        raise ValueError(f"part {sha256} is stored whole: it has no chunks")
    pack, frame_start, frame_size, _offset = listed.locate(position)
    path = store.layout.pack(pack)
    if how == "delete":
        path.unlink()
        return
    if how != "flip":
        raise ValueError(f"unknown damage {how!r}; use flip or delete")
    data = bytearray(path.read_bytes())
    data[frame_start + frame_size // 2] ^= 0x10
    path.write_bytes(bytes(data))


def damage_manifest(store: SnapshotStore, snapshot_id: str) -> None:
    """Change one byte of a stored manifest (a digit of its schema version)."""
    store = _file_store(store)
    path = store.layout.manifest(snapshot_id)
    text = path.read_bytes()
    path.write_bytes(text.replace(b'"schema_version":"1"', b'"schema_version":"2"'))


def write_single_frame_part(path: Path, plain: bytes) -> None:
    """Write ``plain`` as a part of the format before seekable parts: one zstd frame with
    its content checksum, no seek table (what the writer made until 2026-12)."""
    buffer = io.BytesIO()
    writer = zstandard.ZstdCompressor(level=3, write_checksum=True).stream_writer(
        buffer, closefd=False
    )
    writer.write(plain)
    writer.close()  # type: ignore[no-untyped-call]
    path.write_bytes(buffer.getvalue())


def rot_part_content(path: Path, old: bytes, new: bytes) -> int:
    """Replace ``old`` by ``new`` (same length) in the frame of a seekable part that holds it,
    keeping the file well formed: the frame is recompressed but keeps its original content
    checksum, and the seek table and header are rewritten to match. What bit rot in the
    content looks like to a reader that trusts the table: only zstd's checksum can tell.
    Returns the number of the frame changed."""
    if len(old) != len(new):
        raise ValueError("old and new must have the same length")
    with open(path, "rb") as raw:
        head = raw.read(seekable.HEADER_SIZE)
        table = load_table(raw, head, path, None)
        frames = [
            os.pread(raw.fileno(), size, start)
            for start, size in zip(table.starts, table.sizes, strict=True)
        ]
        plains = [b"".join(frame_blocks(raw, table, n, path)) for n in range(len(frames))]
    number = next(n for n, plain in enumerate(plains) if old in plain)
    compressed = zstandard.ZstdCompressor(level=3, write_checksum=True).compress(
        plains[number].replace(old, new, 1)
    )
    frames[number] = compressed[:-4] + table.checksums[number]
    entries = [(len(f), len(p), c) for f, p, c in zip(frames, plains, table.checksums, strict=True)]
    header, table_bytes = seekable.encode(entries, path.name.split(".")[0])
    path.write_bytes(header + b"".join(frames) + table_bytes)
    return number
