"""Pack objects: chunks stored once, as zstd frames, with an index; named by their SHA-256.

A pack holds the chunks one part stored new, in the order it met them::

    frame 1..n   zstd frames (content checksum), each of consecutive new chunks up to about
                 PACK_FRAME plain bytes (so small chunks compress as well as a 1 MiB frame of
                 the table would)
    index        one zstd frame (content checksum) of one block per frame, in frame order:
                 u64 frame start, u32 frame size (compressed), u32 chunk count k, then k
                 SHA-256s (32 bytes each), k u32 row counts, k u32 sizes and k u32 offsets of
                 the chunks in the frame's plain bytes (little-endian)
    footer       u64 index start, u32 index size, TAG (4 bytes, "SKO1")

The index is kept in columns so that a reader takes a run of entries as a few slices, not one
record per chunk (a large part has hundreds of thousands of chunks).

The object's key is ``packs/<sha256>.pack``, the SHA-256 of all its bytes (``verify``
re-hashes every pack). A chunk list names, with each pack it uses, the SHA-256 and place of
the pack's index frame, so a reader fetches the index with one ranged ``GetObject`` and checks
it before use; each frame is fetched with a ranged ``GetObject``, checked by zstd's content
checksum as it is decompressed, and each chunk by its SHA-256 where the reader asks.

:class:`PackWriter` stages a pack in temporary files (in memory while small), so memory stays
bounded by a frame whatever the part's size.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import tempfile
from array import array
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, cast

import zstandard

from snapkit.errors import CorruptSnapshotError
from snapkit_object_store.parts import SPOOL_IN_MEMORY

PACK_FRAME = 1 << 20
"""Plain bytes of new chunks a pack frame aims for (a frame ends with the chunk reaching it)."""
TAG = b"SKO1"
BLOCK = struct.Struct("<QII")
FOOTER = struct.Struct("<QI4s")
MAX_INDEX = 1 << 30
CACHED_FRAMES = 32
"""Decompressed frames a reader keeps (least recently used out): one per pack a part changed
over a month spans, so a sequential read fetches each frame once."""
READ_AHEAD = 4
"""Frames a sequential read of a chunked part fetches ahead of the one it returns (ranged
``GetObject`` requests in flight at once; memory: this many frames of about 1 MiB)."""

GROUP_BYTES = 1 << 20
"""Compressed bytes of consecutive frames a sequential read fetches with one ranged
``GetObject`` (a frame of 1 MiB of JSON Lines compresses to a few hundred KB)."""

FetchRange = Callable[[str, int, int], bytes]
"""``fetch(pack, start, size)``: ``size`` bytes of pack object ``pack`` from ``start``."""


class StagedPack:
    """A finished pack in a temporary file, ready to upload (see :class:`PackWriter`).

    :attr:`name` is its SHA-256, :attr:`md5` that of its bytes (a single ``PutObject``'s ETag).
    """

    def __init__(
        self,
        file: IO[bytes],
        name: str,
        index_sha256: str,
        index_start: int,
        index_size: int,
        md5: str,
        stored_bytes: int,
    ) -> None:
        self.file = file
        self.name = name
        self.index_sha256 = index_sha256
        self.index_start = index_start
        self.index_size = index_size
        self.md5 = md5
        self.stored_bytes = stored_bytes

    def chunks(self, size: int) -> Iterator[bytes]:
        """The pack's bytes in pieces of ``size`` (the last one shorter)."""
        self.file.seek(0)
        while piece := self.file.read(size):
            yield piece

    def discard(self) -> None:
        """Drop the staged bytes."""
        self.file.close()


class PackWriter:
    """Stages one pack: chunks go into frames, frames into a spooled file, the index last.

    The index entries of finished frames go to a second spooled file, compressed after the
    frames at :meth:`close`.
    """

    def __init__(self, level: int) -> None:
        self._level = level
        self._out: _HashingFile | None = None
        self._stream: Any = None
        self._index: IO[bytes] | None = None
        self._pending: list[tuple[bytes, int, int, int]] = []
        """Entries of the frame being filled: SHA-256, rows, size, offset in the frame."""
        self._pending_size = 0
        self._frame_start = 0
        self.count = 0
        """Chunks added so far."""

    def add(self, chunk: bytes, sha256: bytes, rows: int) -> int:
        """Append a chunk; return its position (entry) in the pack."""
        if self._out is None:
            self._out = _HashingFile(_spooled())
            compressor = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
            self._stream = compressor.stream_writer(cast(IO[bytes], self._out), closefd=False)
        self._pending.append((sha256, rows, len(chunk), self._pending_size))
        self._stream.write(chunk)
        self._pending_size += len(chunk)
        self.count += 1
        if self._pending_size >= PACK_FRAME:
            self._end_frame()
        return self.count - 1

    def _end_frame(self) -> None:
        if not self._pending:
            return
        assert self._out is not None
        self._stream.flush(zstandard.FLUSH_FRAME)
        start, size = self._frame_start, self._out.written - self._frame_start
        self._frame_start = self._out.written
        if self._index is None:
            self._index = _spooled()
        shas, rows, sizes, offsets = zip(*self._pending, strict=True)
        self._index.write(BLOCK.pack(start, size, len(shas)))
        self._index.write(b"".join(shas))
        for column in (rows, sizes, offsets):
            self._index.write(_u32(column))
        self._pending = []
        self._pending_size = 0

    def close(self) -> StagedPack | None:
        """Finish the pack; ``None`` if it holds no chunk (nothing is staged)."""
        self._end_frame()
        if not self.count:
            return None
        assert self._index is not None and self._out is not None
        self._stream = None
        length = self._index.tell()
        self._index.seek(0)
        start = self._out.written
        self._out.index_hash = hashlib.sha256()
        compressor = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
        compressor.copy_stream(self._index, cast(IO[bytes], self._out), size=length)
        index_hash, self._out.index_hash = self._out.index_hash, None
        self._index.close()
        self._index = None
        index_size = self._out.written - start
        self._out.write(FOOTER.pack(start, index_size, TAG))
        out, self._out = self._out, None
        return StagedPack(
            out.file,
            out.hash.hexdigest(),
            index_hash.hexdigest(),
            start,
            index_size,
            out.md5.hexdigest(),
            out.written,
        )

    def discard(self) -> None:
        """Drop an unfinished pack."""
        for handle in (self._out.file if self._out else None, self._index):
            if handle is not None:
                handle.close()
        self._out = None
        self._index = None


def _spooled() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)


class _HashingFile:
    """Where a pack's compressor writes: the spooled file, counting and hashing the bytes."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.written = 0
        self.hash = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.index_hash: Any = None
        """Also hashes what is written while it is set (the index frame)."""

    def write(self, data: bytes) -> int:
        self.file.write(data)
        self.hash.update(data)
        self.md5.update(data)
        if self.index_hash is not None:
            self.index_hash.update(data)
        self.written += len(data)
        return len(data)


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


def _column(data: bytes) -> array[int]:
    column = array("I", data)
    if sys.byteorder != "little":  # pragma: no cover
        column.byteswap()
    return column


class PackIndex:
    """A pack's checked index in columns: entry ``e`` is the pack's ``e``-th chunk.

    :attr:`digests` holds the raw SHA-256s end to end; :attr:`rows`, :attr:`sizes`,
    :attr:`offsets` (in the chunk's frame), :attr:`frame_starts` and :attr:`frame_sizes`
    (where the compressed frame holding it lies in the pack) one number per entry;
    :attr:`frames` lists each frame once, ``(start, size, first entry, entries)``.
    """

    __slots__ = ("digests", "frame_sizes", "frame_starts", "frames", "offsets", "rows", "sizes")

    def __init__(self) -> None:
        self.digests = b""
        self.rows: array[int] = array("I")
        self.sizes: array[int] = array("I")
        self.offsets: array[int] = array("I")
        self.frame_starts: array[int] = array("Q")
        self.frame_sizes: array[int] = array("I")
        self.frames: list[tuple[int, int, int, int]] = []

    def __len__(self) -> int:
        return len(self.rows)


def check_index(frame: bytes, name: str, index_sha256: str) -> PackIndex:
    """The columns of pack ``name``'s index frame, checked against the SHA-256 a chunk list
    recorded.

    :raises CorruptSnapshotError: if the index is damaged or another pack's.
    """
    if hashlib.sha256(frame).hexdigest() != index_sha256:
        raise corrupt_pack(name, "has an index that does not match its chunk lists (damaged)")
    return decode_index(frame, name)


def decode_index(frame: bytes, name: str) -> PackIndex:
    """Decompress a pack's index frame (zstd's content checksum checked) into its columns.

    :raises CorruptSnapshotError: if it does not decompress or its blocks do not fill it.
    """
    try:
        body = zstandard.ZstdDecompressor().decompress(frame, max_output_size=MAX_INDEX)
    except zstandard.ZstdError as exc:
        raise corrupt_pack(name, f"has an index that does not decompress: {exc}") from None
    index = PackIndex()
    digests = []
    at = 0
    while at < len(body):
        if len(body) - at < BLOCK.size:
            raise corrupt_pack(name, "has an index of the wrong length")
        start, size, count = BLOCK.unpack_from(body, at)
        at += BLOCK.size
        if not count or len(body) - at < count * 44:
            raise corrupt_pack(name, "has an index of the wrong length")
        index.frames.append((start, size, len(index.rows), count))
        digests.append(body[at : at + 32 * count])
        at += 32 * count
        for column in (index.rows, index.sizes, index.offsets):
            column.extend(_column(body[at : at + 4 * count]))
            at += 4 * count
        index.frame_starts.extend(array("Q", [start]) * count)
        index.frame_sizes.extend(array("I", [size]) * count)
    index.digests = b"".join(digests)
    return index


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


FollowingFrames = Callable[[str, int], Sequence[tuple[int, int]]]
"""``following(pack, start)``: the ``(start, size)`` of the frames likely read after the frame
at ``start`` of ``pack``, nearest first."""


class FrameReader:
    """Fetches and checks pack frames, keeping the last :data:`CACHED_FRAMES` decompressed
    (chunks of one frame are read together). Given ``following``, a fetch also starts up to
    :data:`READ_AHEAD` of the frames it names in the background (a writer comparing a table
    with the current snapshot's chunks reads that snapshot's frames in order). :meth:`close`
    stops the background reads."""

    def __init__(self, fetch: FetchRange, following: FollowingFrames | None = None) -> None:
        self._fetch = fetch
        self._following = following
        self._frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._failed: dict[tuple[str, int], CorruptSnapshotError] = {}
        self._pending: dict[tuple[str, int], Future[bytes]] = {}
        self._pool: ThreadPoolExecutor | None = None

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
        failed = self._failed.get(key)
        if failed is not None:
            raise failed
        pending = self._pending.pop(key, None)
        self._read_ahead(pack, start)
        try:
            plain = pending.result() if pending is not None else self._load(pack, start, size)
        except CorruptSnapshotError as exc:
            self._failed[key] = exc  # the chunks after it in the frame fail alike, unfetched
            raise
        self._frames[key] = plain
        if len(self._frames) > CACHED_FRAMES:
            self._frames.popitem(last=False)
        return plain

    def _load(self, pack: str, start: int, size: int) -> bytes:
        return decompress_frame(self._fetch(pack, start, size), size, pack, start)

    def _read_ahead(self, pack: str, start: int) -> None:
        if self._following is None:
            return
        for following, size in self._following(pack, start)[:READ_AHEAD]:
            key = (pack, following)
            if key in self._frames or key in self._pending or key in self._failed:
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=READ_AHEAD)
            self._pending[key] = self._pool.submit(self._load, pack, following, size)

    def close(self) -> None:
        """Stop the background reads and drop the frames kept."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._frames.clear()


def _groups(frames: Sequence[tuple[str, int, int]]) -> list[tuple[int, ...]]:
    """Positions in ``frames`` whose frames one ranged read fetches together: frames named for
    the first time, one after the other in the sequence and in their pack, up to
    :data:`GROUP_BYTES` compressed bytes (a frame larger than that alone)."""
    seen: set[tuple[str, int, int]] = set()
    groups: list[list[int]] = []
    size_of_last = 0
    for at, frame in enumerate(frames):
        if frame in seen:
            continue
        seen.add(frame)
        if groups and groups[-1][-1] == at - 1:
            pack, start, size = frame
            before = frames[at - 1]
            if (
                before[0] == pack
                and before[1] + before[2] == start
                and size_of_last + size <= GROUP_BYTES
            ):
                groups[-1].append(at)
                size_of_last += size
                continue
        groups.append([at])
        size_of_last = frame[2]
    return [tuple(group) for group in groups]


def frames_ahead(
    fetch: FetchRange, frames: Sequence[tuple[str, int, int]], ahead: int = READ_AHEAD
) -> Generator[bytes, None, None]:
    """The plain bytes of ``frames`` ``(pack, start, size)`` in order, each checked. Frames
    that lie one after the other in a pack are fetched together, up to :data:`GROUP_BYTES`
    a ranged read, with up to ``ahead`` reads in flight (a store on a network is
    latency-bound); each is decompressed as it is taken. A frame named again (a part whose
    runs go back and forth between an old pack and the small packs of later days) is kept
    until its last use, up to :data:`CACHED_FRAMES` of them, so each is fetched once."""

    def load(group: tuple[int, ...]) -> bytes:
        pack, start, _size = frames[group[0]]
        _pack, last, size = frames[group[-1]]
        return fetch(pack, start, last + size - start)

    groups = _groups(frames)
    group_of = {at: number for number, group in enumerate(groups) for at in group}
    last_use = {frame: at for at, frame in enumerate(frames)}
    kept: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
    pending: dict[int, Future[bytes]] = {}
    scheduled = 0
    held: tuple[int, bytes] | None = None  # the group being taken, compressed
    pool = ThreadPoolExecutor(max_workers=ahead)
    try:
        for at, frame in enumerate(frames):
            number = group_of.get(at)
            while scheduled < len(groups) and len(pending) < ahead:
                if number is None or scheduled >= number:
                    pending[scheduled] = pool.submit(load, groups[scheduled])
                scheduled += 1
            pack, start, size = frame
            plain = kept.get(frame)
            if plain is not None:
                kept.move_to_end(frame)
            elif number is None:  # named before, no longer kept: fetched again alone
                plain = decompress_frame(fetch(pack, start, size), size, pack, start)
            else:
                if held is None or held[0] != number:
                    future = pending.pop(number, None)
                    data = future.result() if future is not None else load(groups[number])
                    held = (number, data)
                base = frames[groups[number][0]][1]
                piece = held[1][start - base : start - base + size]
                plain = decompress_frame(piece, size, pack, start)
                if at == groups[number][-1]:
                    held = None
            if last_use[frame] > at:
                kept[frame] = plain
                if len(kept) > CACHED_FRAMES:
                    kept.popitem(last=False)
            else:
                kept.pop(frame, None)  # not named again: memory holds only frames to come
            yield plain
    finally:
        for future in pending.values():
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def read_footer(data: bytes, name: str, size: int) -> tuple[int, int]:
    """The index frame's ``(start, size)`` from the last :data:`FOOTER` bytes of a pack object
    of ``size`` bytes.

    :raises CorruptSnapshotError: if the footer is damaged or the pack truncated.
    """
    if size < FOOTER.size or len(data) != FOOTER.size:
        raise corrupt_pack(name, "is truncated (too short to hold its index)")
    start, length, tag = FOOTER.unpack(data)
    if tag != TAG or start + length + FOOTER.size != size:
        raise corrupt_pack(name, "is truncated or has a damaged footer")
    return start, length


def check_pack(body: Iterable[bytes], name: str, index: PackIndex, index_start: int) -> int:
    """Check a pack object as its bytes stream in: its SHA-256 against its name, every frame
    its index names (complete, zstd content checksum) and every chunk against its SHA-256.
    Memory: one frame. Returns the pack's chunk count.

    :param index: the pack's index (:func:`decode_index` of its index frame).
    :raises CorruptSnapshotError: for the first thing found wrong.
    """
    expected = 0
    for start, size, _first, _count in index.frames:
        if start != expected:
            raise corrupt_pack(name, "has an index whose frames do not follow each other")
        expected = start + size
    if expected != index_start:
        raise corrupt_pack(name, "has an index whose frames do not end where the index starts")
    digest = hashlib.sha256()
    buffer = bytearray()
    position = 0  # bytes of the pack before ``buffer``
    todo = iter(index.frames)
    current = next(todo, None)
    for piece in body:
        digest.update(piece)
        if current is None:
            continue
        buffer += piece
        while current is not None and position + len(buffer) >= current[0] + current[1]:
            start, size, first, count = current
            plain = decompress_frame(bytes(buffer[:size]), size, name, start)
            for entry in range(first, first + count):
                offset, length = index.offsets[entry], index.sizes[entry]
                chunk = plain[offset : offset + length]
                sha = index.digests[entry * 32 : (entry + 1) * 32]
                if len(chunk) != length or hashlib.sha256(chunk).digest() != sha:
                    raise corrupt_pack(name, f"has chunk {entry} that does not match its SHA-256")
            del buffer[:size]
            position = start + size
            current = next(todo, None)
    if current is not None:
        raise corrupt_pack(name, "is truncated (a frame its index names is incomplete)")
    if digest.hexdigest() != name:
        raise corrupt_pack(name, f"hashes to {digest.hexdigest()}, not its name")
    return len(index)
