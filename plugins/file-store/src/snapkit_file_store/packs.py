"""Pack files: chunks stored once, as zstd frames, with an index; named by their SHA-256.

A pack holds the chunks one part stored new, in the order it met them::

    frame 1..n   zstd frames (content size, content checksum), each of consecutive new chunks
                 up to about PACK_FRAME plain bytes (so small chunks compress as well as a
                 1 MiB frame of the table would)
    index        one zstd frame (content checksum) of one entry per chunk: SHA-256 (32 bytes),
                 u32 rows, u32 size, u64 frame start, u32 frame size (compressed), u32 offset
                 of the chunk in its frame's plain bytes
    footer       u64 index start, u32 index size, TAG (4 bytes, "SKP1")

The file's name is the SHA-256 of all its bytes (``verify`` re-hashes every pack). A chunk
list names, with each pack it uses, the SHA-256 of the pack's index frame, so the index a
reader uses is checked before it is used, without hashing the pack; each frame is checked by
zstd's content checksum as it is decompressed and each chunk by its SHA-256 where the reader
asks (see ``docs/snapshots.md``). A chunk's SHA-256 is stored once, in the pack that holds
it; snapshots that share the chunk name it by its pack and its position there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import zstandard

from snapkit.errors import CorruptSnapshotError
from snapkit_file_store.atomic import FILE_MODE, temp_name

PACK_FRAME = 1 << 20
"""Plain bytes of new chunks a pack frame aims for (a frame ends with the chunk reaching it)."""
TAG = b"SKP1"
ENTRY = struct.Struct("<32sIIQII")
FOOTER = struct.Struct("<QI4s")
MAX_INDEX = 1 << 30
CACHED_FRAMES = 32
"""Decompressed frames a reader keeps (least recently used out). A part a month of refreshes
changed spans a pack per day, and a sequential read moves through one frame of each at a
time: keeping one frame per pack reads each frame once. Memory: at most this many frames
(about 1 MiB each), and only for parts that span as many packs."""


class PackWriter:
    """Stages one pack: chunks go into frames, frames into a temp file, the index at the end.

    Memory stays bounded by a frame: the index entries of finished frames stream through a
    zstd compressor into a second temp file, copied after the frames at :meth:`close`.
    """

    def __init__(self, staging: Path, level: int, tag: str) -> None:
        self._staging = staging
        self._path = staging / temp_name("pack", tag)
        self._index_path = staging / temp_name("packindex", tag)
        self._level = level
        self._out: _HashingFile | None = None
        self._stream: Any = None
        self._index_file: BinaryIO | None = None
        self._pending_entries: list[tuple[bytes, int, int, int]] = []  # sha, rows, size, offset
        self._pending_size = 0
        self._frame_start = 0
        self.count = 0
        """Chunks added so far."""

    def add(self, chunk: bytes, sha256: bytes, rows: int) -> int:
        """Append a chunk; return its position in the pack."""
        if self._out is None:
            self._out = _HashingFile(_create(self._path))
            compressor = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
            self._stream = compressor.stream_writer(cast(BinaryIO, self._out), closefd=False)
        self._pending_entries.append((sha256, rows, len(chunk), self._pending_size))
        self._stream.write(chunk)
        self._pending_size += len(chunk)
        self.count += 1
        if self._pending_size >= PACK_FRAME:
            self._end_frame()
        return self.count - 1

    def _end_frame(self) -> None:
        if not self._pending_entries:
            return
        assert self._out is not None
        self._stream.flush(zstandard.FLUSH_FRAME)
        start, size = self._frame_start, self._out.written - self._frame_start
        self._frame_start = self._out.written
        if self._index_file is None:
            self._index_file = _create(self._index_path)
        self._index_file.write(
            b"".join(
                ENTRY.pack(sha, rows, length, start, size, offset)
                for sha, rows, length, offset in self._pending_entries
            )
        )
        self._pending_entries = []
        self._pending_size = 0

    def close(self) -> tuple[str, str] | None:
        """Finish the pack, durable in staging as ``<sha256>.pack``; return its name and the
        SHA-256 of its index frame, or ``None`` if it holds no chunk (nothing is written)."""
        self._end_frame()
        if not self.count:
            return None
        assert self._index_file is not None and self._out is not None
        self._stream = None  # one compressor at a time: the index is compressed after
        length = self._index_file.tell()
        self._index_file.seek(0)
        start = self._out.written
        self._out.index_hash = hashlib.sha256()
        compressor = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
        compressor.copy_stream(self._index_file, cast(BinaryIO, self._out), size=length)
        index_hash, self._out.index_hash = self._out.index_hash, None
        self._index_file.close()
        self._index_file = None
        self._index_path.unlink()
        self._out.write(FOOTER.pack(start, self._out.written - start, TAG))
        self._out.file.flush()
        os.fsync(self._out.file.fileno())
        self._out.file.close()
        name = self._out.hash.hexdigest()
        self._out = None
        os.replace(self._path, self._staging / f"{name}.pack")
        return name, index_hash.hexdigest()

    def discard(self) -> None:
        """Close and remove the unfinished pack."""
        for handle in (self._out.file if self._out else None, self._index_file):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
        self._out = None
        self._index_file = None
        self._path.unlink(missing_ok=True)
        self._index_path.unlink(missing_ok=True)


class _HashingFile:
    """Where a pack's compressor writes: the staged file, counting and hashing the bytes."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.written = 0
        self.hash = hashlib.sha256()
        self.index_hash: Any = None
        """Also hashes what is written while it is set (the index frame)."""

    def write(self, data: bytes) -> int:
        self.file.write(data)
        self.hash.update(data)
        if self.index_hash is not None:
            self.index_hash.update(data)
        self.written += len(data)
        return len(data)


def _create(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    return os.fdopen(fd, "w+b")


def corrupt_pack(name: str, what: str) -> CorruptSnapshotError:
    """The error for a damaged or missing pack."""
    return CorruptSnapshotError(
        f"pack {name} {what}",
        hint="run `snapkit snapshots verify` and refresh to write the chunks again",
    )


def read_index(path: Path, name: str, index_sha256: str) -> bytes:
    """The entries of pack ``name`` at ``path`` (raw, :data:`ENTRY` each), checked against the
    SHA-256 of its index frame that a chunk list recorded.

    :raises CorruptSnapshotError: if the pack is missing, or its footer or index is damaged
        or another pack's.
    """
    try:
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            if size < FOOTER.size:
                raise corrupt_pack(name, "is truncated (too short to hold its index)")
            start, length, tag = FOOTER.unpack(
                os.pread(raw.fileno(), FOOTER.size, size - FOOTER.size)
            )
            if tag != TAG or start + length + FOOTER.size != size:
                raise corrupt_pack(name, "is truncated or has a damaged footer")
            frame = os.pread(raw.fileno(), length, start)
    except FileNotFoundError:
        raise corrupt_pack(name, "is missing") from None
    if hashlib.sha256(frame).hexdigest() != index_sha256:
        raise corrupt_pack(name, "has an index that does not match its chunk lists (damaged)")
    try:
        body = zstandard.ZstdDecompressor().decompress(frame, max_output_size=MAX_INDEX)
    except zstandard.ZstdError as exc:
        raise corrupt_pack(name, f"has an index that does not decompress: {exc}") from None
    if len(body) % ENTRY.size:
        raise corrupt_pack(name, "has an index of the wrong length")
    return body


class FrameReader:
    """Reads and checks pack frames, keeping the last few decompressed (chunks of one frame
    are read together). Open packs stay open until :meth:`close`."""

    def __init__(self, pack_path: Callable[[str], Path]) -> None:
        self._pack_path = pack_path
        self._files: dict[str, BinaryIO] = {}
        self._frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    def frame(self, pack: str, start: int, size: int) -> bytes:
        """The plain bytes of the frame at ``start`` (``size`` compressed bytes) of ``pack``.

        :raises CorruptSnapshotError: if the pack is missing, or the frame is not one complete
            zstd frame with a content checksum that matches its content.
        """
        key = (pack, start)
        cached = self._frames.get(key)
        if cached is not None:
            self._frames.move_to_end(key)
            return cached
        raw = self._files.get(pack)
        if raw is None:
            try:
                raw = open(self._pack_path(pack), "rb")  # noqa: SIM115 - closed in close()
            except FileNotFoundError:
                raise corrupt_pack(pack, "is missing") from None
            self._files[pack] = raw
        plain = decompress_frame(os.pread(raw.fileno(), size, start), size, pack, start)
        self._frames[key] = plain
        if len(self._frames) > CACHED_FRAMES:
            self._frames.popitem(last=False)
        return plain

    def close(self) -> None:
        """Close the packs opened and drop the frames kept."""
        for raw in self._files.values():
            raw.close()
        self._files.clear()
        self._frames.clear()


def decompress_frame(data: bytes, size: int, pack: str, start: int) -> bytes:
    """Decompress one pack frame, checking it is whole and carries a content checksum."""
    if len(data) != size:
        raise corrupt_pack(pack, f"is truncated (frame at {start} is incomplete)")
    try:
        if not zstandard.get_frame_parameters(data).has_checksum:
            raise corrupt_pack(pack, f"has a frame at {start} without its checksum")
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        plain = decompressor.decompress(data)
    except zstandard.ZstdError as exc:
        raise corrupt_pack(
            pack, f"has a frame at {start} that does not decompress: {exc}"
        ) from None
    if not decompressor.eof or decompressor.unused_data:
        raise corrupt_pack(pack, f"has a frame at {start} that does not match its index")
    return plain


def hash_pack_file(path: Path) -> str:
    """The SHA-256 of a pack file's bytes (its name, when intact)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
