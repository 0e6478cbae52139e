"""Chunked parts: a part's lines cut into chunks at content-defined boundaries, each stored once.

:class:`ChunkedPartWriter` cuts the canonical JSON Lines bytes it receives into chunks of whole
lines. Where a chunk ends depends only on the lines themselves (a line ends a chunk when a
CRC-32 of it falls under a threshold proportional to its length, with a minimum and a maximum
chunk size), so an unchanged run of rows cuts into the same chunks after rows were inserted,
changed or removed elsewhere. Each chunk is named by its SHA-256; a chunk the current snapshot
already stores (:class:`KnownChunks`) is referenced where it is, after its stored bytes are
compared with the new ones (a damaged stored chunk is written again instead); new chunks go to
the part's pack (:mod:`snapkit_file_store.packs`). The part's chunk list
(:mod:`snapkit_file_store.chunklist`) is staged under the part's name, the SHA-256 of its
whole plain bytes, as a whole part would be. Parts smaller than :data:`MIN_CHUNKS` chunk
targets are stored whole (seekable zstd), as before.

The readers here serve :class:`snapkit.store.ChunkedPartReader`, ``open_part``,
``iter_part_blocks`` and ``read_part_ranges`` for chunked parts; see ``docs/snapshots.md``.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterable
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO

from snapkit.chunking import CHUNK_TARGET, MIN_CHUNKS, LineCutter
from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit_file_store import chunklist, packs
from snapkit_file_store.atomic import FILE_MODE, temp_name
from snapkit_file_store.chunklist import RawList
from snapkit_file_store.packs import FrameReader, PackWriter
from snapkit_file_store.parts import ZstdPartWriter

_BLOCK = 1 << 16


class ChunkList:
    """A chunked part's chunks, resolved from its list and its packs' checked indexes: one
    column per field, position ``i`` being the part's ``i``-th chunk."""

    __slots__ = (
        "entry_of",
        "frame_offsets",
        "frame_sizes",
        "frame_starts",
        "offsets",
        "pack_of",
        "packs",
        "rows",
        "run_starts",
        "shas",
        "size",
        "sizes",
    )

    def __init__(self, size: int, packs: tuple[tuple[str, str], ...]) -> None:
        self.size = size
        self.packs = packs
        """``(name, index SHA-256)`` of each pack the list uses."""
        self.shas: list[bytes] = []
        self.rows: list[int] = []
        self.sizes: list[int] = []
        self.offsets: list[int] = []
        """Where each chunk starts in the part's plain bytes."""
        self.pack_of: list[int] = []
        self.entry_of: list[int] = []
        self.frame_starts: list[int] = []
        self.frame_sizes: list[int] = []
        self.frame_offsets: list[int] = []
        self.run_starts: list[int] = []
        """Where each run of consecutive entries of one pack starts (its chunks lie end to end
        in each frame they span)."""

    def __len__(self) -> int:
        return len(self.shas)


def _corrupt_part(name: str, what: str) -> CorruptSnapshotError:
    return CorruptSnapshotError(
        f"stored part {name} {what}",
        hint="run `snapkit snapshots verify` and refresh to rewrite the part",
    )


def read_raw_list(path: Path, name: str) -> RawList | None:
    """The chunk list stored at ``path`` for part ``name`` as written (packs and runs), or
    ``None`` if the part is stored whole (a zstd file).

    :raises FileNotFoundError: if the file is missing.
    :raises CorruptSnapshotError: if the chunk list is damaged or another part's.
    """
    with open(path, "rb") as handle:
        head = handle.read(len(chunklist.TAG))
        if not chunklist.is_chunk_list(head):
            return None
        data = head + handle.read()
    try:
        return chunklist.decode(data, name)
    except chunklist.ChunkListError as exc:
        raise _corrupt_part(name, str(exc)) from None


def resolve(raw: RawList, name: str, pack_path: Callable[[str], Path]) -> ChunkList:
    """The chunks of a chunk list, from the indexes of its packs (each checked against the
    digest the list recorded).

    :raises CorruptSnapshotError: if a pack is missing, an index is damaged, a run lies outside
        its pack's index, or the chunks do not add up to the part's size.
    """
    listed = ChunkList(raw.size, raw.packs)
    indexes: dict[int, bytes] = {}
    width = packs.ENTRY.size
    for pack, first, count in raw.runs:
        listed.run_starts.append(len(listed.shas))
        index = indexes.get(pack)
        if index is None:
            pack_name, index_sha = raw.packs[pack]
            index = indexes[pack] = packs.read_index(pack_path(pack_name), pack_name, index_sha)
        if (first + count) * width > len(index):
            raise _corrupt_part(name, "has a chunk list naming chunks its pack does not hold")
        rows = list(packs.ENTRY.iter_unpack(index[first * width : (first + count) * width]))
        shas, counts, sizes, starts, frame_sizes, frame_offsets = zip(*rows, strict=True)
        listed.shas.extend(shas)
        listed.rows.extend(counts)
        listed.sizes.extend(sizes)
        listed.frame_starts.extend(starts)
        listed.frame_sizes.extend(frame_sizes)
        listed.frame_offsets.extend(frame_offsets)
        listed.pack_of.extend([pack] * count)
        listed.entry_of.extend(range(first, first + count))
    listed.offsets = list(accumulate(listed.sizes, initial=0))
    position = listed.offsets.pop()
    if position != raw.size:
        raise _corrupt_part(name, "has chunks that do not add up to the part's size")
    return listed


def read_chunk_list(path: Path, name: str, pack_path: Callable[[str], Path]) -> ChunkList | None:
    """The resolved chunk list of part ``name`` stored at ``path``, or ``None`` if the part is
    stored whole.

    :raises FileNotFoundError: if the part file is missing.
    :raises CorruptSnapshotError: if the list or a pack index it uses is missing or damaged.
    """
    raw = read_raw_list(path, name)
    return None if raw is None else resolve(raw, name, pack_path)


Known = tuple[str, str, int, int, int, int]
"""Where a known chunk is: pack, its index SHA-256, entry, frame start, frame size, offset."""


class KnownChunks:
    """The chunks a transaction may reference instead of storing again: those of the parts
    of the snapshot that was current when it began. Loaded once, when the first chunked part
    needs it; shared by the transaction's writers (each compares with its own reader)."""

    def __init__(self, load: Callable[[], dict[bytes, Known]]) -> None:
        self._load = load
        self._index: dict[bytes, Known] | None = None
        self._lock = threading.Lock()

    def index(self) -> dict[bytes, Known]:
        """Chunk SHA-256 (raw) -> where it is stored."""
        with self._lock:
            if self._index is None:
                self._index = self._load()
            return self._index


def known_chunks_of(
    part_path: Callable[[str], Path], pack_path: Callable[[str], Path], parts: Iterable[str]
) -> dict[bytes, Known]:
    """Where each chunk of the chunked parts ``parts`` is stored (the first place listed);
    parts stored whole, missing or with a damaged list or pack index are left out."""
    index: dict[bytes, Known] = {}
    for name in parts:
        try:
            listed = read_chunk_list(part_path(name), name, pack_path)
        except (OSError, CorruptSnapshotError):
            continue
        if listed is None:
            continue
        for i, sha in enumerate(listed.shas):
            if sha not in index:
                pack, index_sha = listed.packs[listed.pack_of[i]]
                index[sha] = (
                    pack,
                    index_sha,
                    listed.entry_of[i],
                    listed.frame_starts[i],
                    listed.frame_sizes[i],
                    listed.frame_offsets[i],
                )
    return index


class ChunkedPartWriter:
    """Writes one staged part as chunks (see the module docstring).

    After :meth:`close` the staging directory holds ``<sha256>.zst`` (the chunk list, or
    the whole part when it is small) and ``<pack sha256>.pack`` when new chunks were
    written; the transaction installs both at commit, the packs first.
    """

    def __init__(
        self,
        staging: Path,
        level: int,
        tag: str,
        known: KnownChunks,
        pack_path: Callable[[str], Path],
        *,
        target: int = CHUNK_TARGET,
    ) -> None:
        self._staging = staging
        self._level = level
        self._tag = tag
        self._known = known
        self._cutter = LineCutter(target)
        self._min_size = MIN_CHUNKS * target
        self._pack = PackWriter(staging, level, tag)
        self._reader = FrameReader(pack_path)
        self._hash = hashlib.sha256()
        self._size = 0
        self._held: list[bytes] | None = []  # bytes held until the part is large enough
        self._runs: list[list[Any]] = []  # [pack ("" = this part's), index sha, first, count]
        self._closed = False
        self._small: ZstdPartWriter | None = None

    def write(self, data: bytes) -> None:
        """Append uncompressed bytes to the part."""
        if self._closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        data = bytes(data)
        self._hash.update(data)
        self._size += len(data)
        if self._held is not None:
            self._held.append(data)
            if self._size < self._min_size:
                return
            data, self._held = b"".join(self._held), None
        for chunk, rows in self._cutter.feed(data):
            self._add(chunk, rows)

    def _add(self, chunk: bytes, rows: int) -> None:
        sha = hashlib.sha256(chunk).digest()
        known = self._known.index().get(sha)
        if known is not None and self._stored_equal(known, chunk):
            pack, index, entry = known[0], known[1], known[2]
        else:
            pack, index, entry = "", "", self._pack.add(chunk, sha, rows)
        runs = self._runs
        if runs and runs[-1][0] == pack and runs[-1][2] + runs[-1][3] == entry:
            runs[-1][3] += 1
        else:
            runs.append([pack, index, entry, 1])

    def _stored_equal(self, known: Known, chunk: bytes) -> bool:
        """Whether the stored chunk holds exactly these bytes (a damaged or missing one does
        not: the chunk is written again)."""
        pack, _index, _entry, start, size, offset = known
        try:
            frame = self._reader.frame(pack, start, size)
        except (OSError, CorruptSnapshotError):
            return False
        return frame[offset : offset + len(chunk)] == chunk

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and uncompressed size in bytes."""
        if self._closed:
            raise StoreError("part writer is already closed")
        self._closed = True
        self._reader.close()
        digest = self._hash.hexdigest()
        if self._held is not None:  # small: stored whole
            self._small = ZstdPartWriter(self._staging, self._level, self._tag)
            for data in self._held:
                self._small.write(data)
            self._held = None
            return self._small.close()
        for chunk, rows in self._cutter.finish():
            self._add(chunk, rows)
        own = self._pack.close()
        numbers: dict[str, int] = {}
        pack_list: list[tuple[str, str]] = []
        runs: list[tuple[int, int, int]] = []
        for pack, index, first, count in self._runs:
            if not pack:
                assert own is not None
                pack, index = own
            number = numbers.get(pack)
            if number is None:
                number = numbers[pack] = len(pack_list)
                pack_list.append((pack, index))
            runs.append((number, first, count))
        self._runs = []
        data = chunklist.encode(digest, self._size, pack_list, runs, self._level)
        path = self._staging / temp_name("list", self._tag)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(path, self._staging / f"{digest}.zst")
        return digest, self._size

    def abort(self) -> None:
        """Discard this part (the engine calls it before retrying a failed stream)."""
        self.discard()

    def discard(self) -> None:
        """Close and remove an unfinished part."""
        if self._closed:
            return
        self._closed = True
        self._reader.close()
        self._pack.discard()
        if self._small is not None:
            self._small.discard()


# -- reading ---------------------------------------------------------------------------------


def _corrupt_chunk(name: str, position: int, what: str) -> CorruptSnapshotError:
    return CorruptSnapshotError(
        f"chunk {position} of stored part {name} {what}",
        hint="run `snapkit snapshots verify` and refresh to write the chunks again",
    )


def chunk_bytes(
    reader: FrameReader, name: str, listed: ChunkList, position: int, *, verify: bool
) -> bytes:
    """The bytes of chunk ``position`` of part ``name``, checked against its SHA-256 when
    ``verify`` (else by its frame's zstd checksum and its size only).

    :raises CorruptSnapshotError: if its pack or frame is missing or damaged, or the bytes
        differ from the chunk's SHA-256.
    """
    pack = listed.packs[listed.pack_of[position]][0]
    frame = reader.frame(pack, listed.frame_starts[position], listed.frame_sizes[position])
    offset = listed.frame_offsets[position]
    size = listed.sizes[position]
    data = frame[offset : offset + size]
    if len(data) != size:
        raise _corrupt_chunk(name, position, f"is cut short in pack {pack}")
    if verify and hashlib.sha256(data).digest() != listed.shas[position]:
        raise _corrupt_chunk(name, position, "does not match its SHA-256")
    return data


def iter_chunk_bytes(
    pack_path: Callable[[str], Path],
    name: str,
    listed: ChunkList,
    positions: Iterable[int],
    *,
    verify: bool,
) -> Generator[bytes, None, None]:
    """Yield the chunks at ``positions`` (ascending) of part ``name``, each checked."""
    reader = FrameReader(pack_path)
    try:
        previous = -1
        count = len(listed)
        for position in positions:
            if position <= previous or not 0 <= position < count:
                raise ValueError(
                    f"chunk positions must ascend within 0..{count - 1} (got {position} "
                    f"after {previous})"
                )
            previous = position
            yield chunk_bytes(reader, name, listed, position, verify=verify)
    finally:
        reader.close()


def chunked_blocks(
    pack_path: Callable[[str], Path], name: str, listed: ChunkList, *, verify: bool
) -> Generator[bytes, None, None]:
    """Yield a chunked part's plain bytes in blocks (runs of chunks that lie together in one
    frame are one block). ``verify`` checks the part's SHA-256 at the end; either way every
    frame's zstd checksum and every chunk's size are checked as they are read.

    :raises CorruptSnapshotError: if a pack, frame or chunk is missing or damaged, or (at the
        end, with ``verify``) the bytes do not hash to ``name``.
    """
    reader = FrameReader(pack_path)
    digest = hashlib.sha256() if verify else None
    starts, sizes, offsets = listed.frame_starts, listed.sizes, listed.offsets
    in_frame = listed.frame_offsets
    bounds = [*listed.run_starts, len(listed)]
    try:
        for run in range(len(listed.run_starts)):
            first, end = bounds[run], bounds[run + 1]
            pack = listed.packs[listed.pack_of[first]][0]
            while first < end:  # one block per frame the run spans: its chunks end to end
                frame_start = starts[first]
                last = bisect_right(starts, frame_start, first, end) - 1
                frame = reader.frame(pack, frame_start, listed.frame_sizes[first])
                block = frame[in_frame[first] : in_frame[last] + sizes[last]]
                if len(block) != offsets[last] + sizes[last] - offsets[first]:
                    raise _corrupt_chunk(name, last, f"is cut short in pack {pack}")
                if digest is not None:
                    digest.update(block)
                yield block
                first = last + 1
        if digest is not None and digest.hexdigest() != name:
            raise CorruptSnapshotError(
                f"stored part {name} does not match its SHA-256 (its chunks were changed)",
                hint="run `snapkit snapshots verify` and refresh to rewrite the part",
            )
    finally:
        reader.close()


def hash_chunked(pack_path: Callable[[str], Path], name: str, listed: ChunkList) -> tuple[str, int]:
    """Re-hash every chunk of a chunked part against its SHA-256 and the whole part; return
    the part's SHA-256 and size (for ``verify``).

    :raises CorruptSnapshotError: for a missing or damaged pack, frame or chunk.
    """
    digest = hashlib.sha256()
    size = 0
    reader = FrameReader(pack_path)
    try:
        for position in range(len(listed)):
            data = chunk_bytes(reader, name, listed, position, verify=True)
            digest.update(data)
            size += len(data)
    finally:
        reader.close()
    return digest.hexdigest(), size


def chunked_ranges(
    pack_path: Callable[[str], Path],
    name: str,
    listed: ChunkList,
    ranges: Iterable[tuple[int, int]],
    check_range: Callable[[int, int, int], None],
) -> Generator[bytes, None, None]:
    """Yield the plain bytes of each ``(offset, length)`` range of a chunked part, reading
    only the chunks holding them, each checked against its SHA-256."""
    reader = FrameReader(pack_path)
    try:
        current, data = -1, b""
        previous = 0
        for offset, length in ranges:
            check_range(offset, length, previous)
            previous = offset
            end = min(offset + length, listed.size)
            pieces = []
            while offset < end:
                position = bisect_right(listed.offsets, offset) - 1
                if position != current:
                    current = position
                    data = chunk_bytes(reader, name, listed, position, verify=True)
                base = listed.offsets[position]
                pieces.append(data[offset - base : end - base])
                offset += len(pieces[-1])
            yield b"".join(pieces)
    finally:
        reader.close()


class BlockStream(io.RawIOBase):
    """Blocks from a generator as a raw stream (for ``open_part`` of a chunked part)."""

    def __init__(self, blocks: Generator[bytes, None, None]) -> None:
        super().__init__()
        self._blocks = blocks
        self._pending = memoryview(b"")
        self._pos = 0
        self._error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._error is not None:
            raise self._error
        while self._pos >= len(self._pending):
            try:
                block = next(self._blocks, None)
            except CorruptSnapshotError as exc:
                self._error = exc
                raise
            if block is None:
                return 0
            self._pending, self._pos = memoryview(block), 0
        count = min(len(buffer), len(self._pending) - self._pos)
        buffer[:count] = self._pending[self._pos : self._pos + count]
        self._pos += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._blocks.close()
        super().close()


def open_chunked(blocks: Generator[bytes, None, None]) -> BinaryIO:
    """A buffered stream over a chunked part's checked blocks."""
    return io.BufferedReader(BlockStream(blocks), buffer_size=_BLOCK)
