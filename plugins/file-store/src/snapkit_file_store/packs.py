"""Pack files: chunks stored once, as zstd frames, with an index; named by their SHA-256.

A pack holds the chunks one part stored new, in the order it met them::

    frame 1..n   zstd frames (content size, content checksum), each of consecutive new chunks
                 up to about PACK_FRAME plain bytes (so small chunks compress as well as a
                 1 MiB frame of the table would)
    index        one zstd frame (content checksum) of one block per frame, in frame order:
                 u64 frame start, u32 frame size (compressed), u32 chunk count k, then
                 k SHA-256s (32 bytes each), k u32 row counts, k u32 sizes and k u32 offsets
                 of the chunks in the frame's plain bytes (little-endian)
    footer       u64 index start, u32 index size, TAG (4 bytes, "SKP2")

The index is kept in columns so that a reader takes a run of entries as a few slices, not one
record per chunk (a large part has hundreds of thousands of chunks). Packs written with tag
"SKP1" (one 56-byte record per chunk: SHA-256, rows, size, frame start, frame size, offset)
are still read.

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
import sys
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO, cast

import zstandard

from snapkit.errors import CorruptSnapshotError
from snapkit_file_store.atomic import FILE_MODE, temp_name

PACK_FRAME = 1 << 20
"""Plain bytes of new chunks a pack frame aims for (a frame ends with the chunk reaching it)."""
TAG = b"SKP2"
OLD_TAG = b"SKP1"
OLD_ENTRY = struct.Struct("<32sIIQII")
BLOCK = struct.Struct("<QII")
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
        shas, rows, lengths, offsets = zip(*self._pending_entries, strict=True)
        self._index_file.write(
            b"".join(
                (
                    BLOCK.pack(start, size, len(shas)),
                    *shas,
                    _u32(rows),
                    _u32(lengths),
                    _u32(offsets),
                )
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


def _u32(values: Iterable[int]) -> bytes:
    column = array("I", values)
    if sys.byteorder != "little":  # pragma: no cover - the format is little-endian
        column.byteswap()
    return column.tobytes()


def _column(code: str, data: bytes) -> array[int]:
    column = array(code, data)
    if sys.byteorder != "little":  # pragma: no cover
        column.byteswap()
    return column


class PackIndex:
    """A pack's checked index in columns: entry ``e`` is the pack's ``e``-th chunk.

    :attr:`digests` holds the raw SHA-256s end to end; :attr:`rows`, :attr:`sizes` and
    :attr:`offsets` (in the chunk's frame) one number per entry; :attr:`frame_firsts`,
    :attr:`frame_starts` and :attr:`frame_sizes` one number per frame (its first entry, and
    where its compressed bytes lie in the pack).
    """

    __slots__ = (
        "digests",
        "frame_firsts",
        "frame_sizes",
        "frame_starts",
        "offsets",
        "rows",
        "sizes",
    )

    def __init__(self) -> None:
        self.digests = b""
        self.rows: array[int] = array("I")
        self.sizes: array[int] = array("I")
        self.offsets: array[int] = array("I")
        self.frame_firsts: array[int] = array("Q")
        self.frame_starts: array[int] = array("Q")
        self.frame_sizes: array[int] = array("Q")

    def __len__(self) -> int:
        return len(self.rows)

    def frame_of(self, entry: int) -> int:
        """The number of the frame holding entry ``entry``."""
        return bisect_right(self.frame_firsts, entry) - 1

    def frame_end(self, frame: int) -> int:
        """The entry after the last of frame ``frame``."""
        firsts = self.frame_firsts
        return firsts[frame + 1] if frame + 1 < len(firsts) else len(self.rows)


class _IndexParser:
    """Parses an index ("SKP2") block by block as its plain bytes arrive, keeping the
    digests only when asked (a read from start to end needs none)."""

    def __init__(self, name: str, digests: bool) -> None:
        self.name = name
        self.index = PackIndex()
        self._digests: list[bytes] | None = [] if digests else None
        self._pending = bytearray()

    def feed(self, data: bytes) -> None:
        pending = self._pending
        pending += data
        at = 0
        index = self.index
        while len(pending) - at >= BLOCK.size:
            start, size, count = BLOCK.unpack_from(pending, at)
            if not count:
                raise corrupt_pack(self.name, "has an index of the wrong length")
            end = at + BLOCK.size + count * 44
            if len(pending) < end:
                break
            at += BLOCK.size
            index.frame_firsts.append(len(index.rows))
            index.frame_starts.append(start)
            index.frame_sizes.append(size)
            if self._digests is not None:
                self._digests.append(bytes(pending[at : at + 32 * count]))
            at += 32 * count
            for column in (index.rows, index.sizes, index.offsets):
                column.extend(_column("I", bytes(pending[at : at + 4 * count])))
                at += 4 * count
        del pending[:at]

    def finish(self) -> PackIndex:
        if self._pending:
            raise corrupt_pack(self.name, "has an index of the wrong length")
        if self._digests is not None:
            self.index.digests = b"".join(self._digests)
        return self.index


def parse_index(body: bytes, name: str) -> PackIndex:
    """The columns of a pack's decompressed index frame (format "SKP2").

    :raises CorruptSnapshotError: if the blocks do not fill the index exactly.
    """
    parser = _IndexParser(name, digests=True)
    parser.feed(body)
    return parser.finish()


def parse_old_index(body: bytes, name: str) -> PackIndex:
    """The columns of an index written as one record per chunk (format "SKP1")."""
    if len(body) % OLD_ENTRY.size:
        raise corrupt_pack(name, "has an index of the wrong length")
    index = PackIndex()
    digests: list[bytes] = []
    previous = -1
    for sha, rows, size, start, frame_size, offset in OLD_ENTRY.iter_unpack(body):
        if start != previous:
            index.frame_firsts.append(len(index.rows))
            index.frame_starts.append(start)
            index.frame_sizes.append(frame_size)
            previous = start
        digests.append(sha)
        index.rows.append(rows)
        index.sizes.append(size)
        index.offsets.append(offset)
    index.digests = b"".join(digests)
    return index


_PIECE = 1 << 20


def read_index(path: Path, name: str, index_sha256: str, *, digests: bool = True) -> PackIndex:
    """The index of pack ``name`` at ``path``, checked against the SHA-256 of its index frame
    that a chunk list recorded. The frame is read, hashed and parsed in pieces, so memory is
    the columns kept: without ``digests`` (for reads from start to end, which check chunks by
    their frames' checksums or the part's SHA-256) 12 bytes a chunk instead of 44.

    :raises CorruptSnapshotError: if the pack is missing, or its footer or index is damaged
        or another pack's (the index is used only once its SHA-256 matched).
    """
    try:
        with open(path, "rb") as raw:
            fd = raw.fileno()
            size = os.fstat(fd).st_size
            if size < FOOTER.size:
                raise corrupt_pack(name, "is truncated (too short to hold its index)")
            start, length, tag = FOOTER.unpack(os.pread(fd, FOOTER.size, size - FOOTER.size))
            if tag not in (TAG, OLD_TAG) or start + length + FOOTER.size != size:
                raise corrupt_pack(name, "is truncated or has a damaged footer")
            digest = hashlib.sha256()
            decompressor = zstandard.ZstdDecompressor().decompressobj()
            parser = _IndexParser(name, digests) if tag == TAG else None
            body: list[bytes] = []
            plain = 0
            failed: str | None = None
            for at in range(start, start + length, _PIECE):
                piece = os.pread(fd, min(_PIECE, start + length - at), at)
                digest.update(piece)
                if failed is not None:
                    continue  # hashed to the end: a damaged index reports its digest first
                try:
                    data = decompressor.decompress(piece)
                    plain += len(data)
                    if plain > MAX_INDEX:
                        failed = "has an index too large to be one"
                    elif parser is not None:
                        parser.feed(data)
                    else:
                        body.append(data)
                except zstandard.ZstdError as exc:
                    failed = f"has an index that does not decompress: {exc}"
                except CorruptSnapshotError as exc:
                    failed = exc.message.removeprefix(f"pack {name} ")
    except FileNotFoundError:
        raise corrupt_pack(name, "is missing") from None
    if digest.hexdigest() != index_sha256:
        raise corrupt_pack(name, "has an index that does not match its chunk lists (damaged)")
    if failed is None and (not decompressor.eof or decompressor.unused_data):
        failed = "has an index that is not one whole zstd frame"
    if failed is not None:
        raise corrupt_pack(name, failed)
    return parser.finish() if parser is not None else parse_old_index(b"".join(body), name)


class FrameReader:
    """Reads and checks pack frames, keeping the last few decompressed (chunks of one frame
    are read together). Open packs stay open until :meth:`close`.

    :param per_pack: keep only the last frame read of each pack, for reads that move forward
        through each pack (a part read from start to end): memory is one frame per pack the
        part uses, and a frame is dropped as soon as its pack's next one is read.
    """

    def __init__(self, pack_path: Callable[[str], Path], *, per_pack: bool = False) -> None:
        self._pack_path = pack_path
        self._per_pack = per_pack
        self._files: dict[str, BinaryIO] = {}
        self._frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._last: dict[str, tuple[int, bytes]] = {}

    def frame(self, pack: str, start: int, size: int) -> bytes:
        """The plain bytes of the frame at ``start`` (``size`` compressed bytes) of ``pack``.

        :raises CorruptSnapshotError: if the pack is missing, or the frame is not one complete
            zstd frame with a content checksum that matches its content.
        """
        if self._per_pack:
            last = self._last.pop(pack, None)  # dropped before the next is decompressed
            if last is not None and last[0] == start:
                self._last[pack] = last
                return last[1]
            plain = self._read(pack, start, size)
            self._last[pack] = (start, plain)
            return plain
        key = (pack, start)
        cached = self._frames.get(key)
        if cached is not None:
            self._frames.move_to_end(key)
            return cached
        plain = self._read(pack, start, size)
        self._frames[key] = plain
        if len(self._frames) > CACHED_FRAMES:
            self._frames.popitem(last=False)
        return plain

    def _read(self, pack: str, start: int, size: int) -> bytes:
        raw = self._files.get(pack)
        if raw is None:
            try:
                raw = open(self._pack_path(pack), "rb")  # noqa: SIM115 - closed in close()
            except FileNotFoundError:
                raise corrupt_pack(pack, "is missing") from None
            self._files[pack] = raw
        return decompress_frame(os.pread(raw.fileno(), size, start), size, pack, start)

    def close(self) -> None:
        """Close the packs opened and drop the frames kept."""
        for raw in self._files.values():
            raw.close()
        self._files.clear()
        self._frames.clear()
        self._last.clear()


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
