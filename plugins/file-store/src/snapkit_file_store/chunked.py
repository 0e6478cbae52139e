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
import sys
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO

from snapkit.chunking import CHUNK_TARGET, PartCutter
from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit_file_store import chunklist, packs
from snapkit_file_store.atomic import FILE_MODE, temp_name
from snapkit_file_store.chunklist import RawList
from snapkit_file_store.packs import FrameReader, PackIndex, PackWriter
from snapkit_file_store.parts import ZstdPartWriter

_BLOCK = 1 << 16


class ChunkList:
    """A chunked part's chunks, resolved from its list and its packs' checked indexes.

    Position ``i`` is the part's ``i``-th chunk. Its SHA-256, rows and size are held in
    columns (:attr:`digests`, :attr:`rows`, :attr:`sizes`), taken from the packs' indexes as
    one slice per run; where a chunk lies is found from its run (:meth:`locate`), so a part
    of hundreds of thousands of chunks costs a few bytes a chunk and a few operations a run.
    """

    __slots__ = (
        "_offsets",
        "digests",
        "indexes",
        "packs",
        "rows",
        "run_firsts",
        "run_packs",
        "run_starts",
        "size",
        "sizes",
    )

    def __init__(self, size: int, packs: tuple[tuple[str, str], ...]) -> None:
        self.size = size
        self.packs = packs
        """``(name, index SHA-256)`` of each pack the list uses."""
        self.indexes: list[PackIndex | None] = [None] * len(packs)
        """The checked index of each pack, by pack number (``None`` for a pack no run uses)."""
        self.digests = b""
        self.rows: array[int] = array("I")
        self.sizes: array[int] = array("I")
        self.run_starts: array[int] = array("Q")
        """The position each run of consecutive entries of one pack starts at."""
        self.run_packs: array[int] = array("I")
        self.run_firsts: array[int] = array("Q")
        """The pack number and first entry of each run."""
        self._offsets: array[int] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def offsets(self) -> array[int]:
        """Where each chunk starts in the part's plain bytes (made when first asked)."""
        if self._offsets is None:
            self._offsets = array("Q", accumulate(self.sizes, initial=0))
            self._offsets.pop()
        return self._offsets

    def runs(self) -> list[tuple[int, int, int]]:
        """The list's runs, ``(pack number, first entry, entries)`` each, in table order."""
        ends = [*self.run_starts[1:], len(self)]
        return [
            (pack, first, end - start)
            for pack, first, start, end in zip(
                self.run_packs, self.run_firsts, self.run_starts, ends, strict=True
            )
        ]

    def index_of(self, number: int) -> PackIndex:
        """The checked index of pack ``number``."""
        index = self.indexes[number]
        assert index is not None
        return index

    def digest(self, position: int) -> bytes:
        """The raw SHA-256 of chunk ``position``."""
        return self.digests[position * 32 : position * 32 + 32]

    def entry(self, position: int) -> tuple[int, int]:
        """The pack number and entry of chunk ``position``."""
        run = bisect_right(self.run_starts, position) - 1
        return self.run_packs[run], self.run_firsts[run] + position - self.run_starts[run]

    def locate(self, position: int) -> tuple[str, int, int, int]:
        """Where chunk ``position`` lies: its pack's name, its frame's start and compressed
        size in the pack, and its offset in the frame's plain bytes."""
        pack, entry = self.entry(position)
        index = self.indexes[pack]
        assert index is not None
        frame = index.frame_of(entry)
        return (
            self.packs[pack][0],
            index.frame_starts[frame],
            index.frame_sizes[frame],
            index.offsets[entry],
        )


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


IndexReader = Callable[[str, str], PackIndex]
"""Reads a pack's checked index by the pack's name and its index's SHA-256 (a store may
keep them: many parts' lists use the same packs)."""


def resolve(
    raw: RawList,
    name: str,
    pack_path: Callable[[str], Path],
    read_index: IndexReader | None = None,
) -> ChunkList:
    """The chunks of a chunk list, from the indexes of its packs (each checked against the
    digest the list recorded), read with ``read_index`` when given.

    :raises CorruptSnapshotError: if a pack is missing, an index is damaged, a run lies outside
        its pack's index, or the chunks do not add up to the part's size.
    """
    listed = ChunkList(raw.size, raw.packs)
    digests: list[bytes] = []
    position = 0
    for pack, first, count in raw.runs:
        index = listed.indexes[pack]
        if index is None:
            pack_name, index_sha = raw.packs[pack]
            index = listed.indexes[pack] = (
                read_index(pack_name, index_sha)
                if read_index is not None
                else packs.read_index(pack_path(pack_name), pack_name, index_sha)
            )
        end = first + count
        if end > len(index):
            raise _corrupt_part(name, "has a chunk list naming chunks its pack does not hold")
        listed.run_starts.append(position)
        listed.run_packs.append(pack)
        listed.run_firsts.append(first)
        digests.append(index.digests[first * 32 : end * 32])
        listed.rows.extend(index.rows[first:end])
        listed.sizes.extend(index.sizes[first:end])
        position += count
    listed.digests = b"".join(digests)
    if sum(listed.sizes) != raw.size:
        raise _corrupt_part(name, "has chunks that do not add up to the part's size")
    return listed


def read_chunk_list(
    path: Path,
    name: str,
    pack_path: Callable[[str], Path],
    read_index: IndexReader | None = None,
) -> ChunkList | None:
    """The resolved chunk list of part ``name`` stored at ``path``, or ``None`` if the part is
    stored whole.

    :raises FileNotFoundError: if the part file is missing.
    :raises CorruptSnapshotError: if the list or a pack index it uses is missing or damaged.
    """
    raw = read_raw_list(path, name)
    return None if raw is None else resolve(raw, name, pack_path, read_index)


Known = tuple[ChunkList, int]
"""Where a known chunk is: the resolved list of a part holding it, and its position there."""


class KnownLists:
    """The chunks of some parts, found by SHA-256: each part's resolved list, with a table
    from the first 8 bytes of each chunk's digest to its position (built at C speed from the
    digest column; about 100 bytes a chunk), a hit confirmed on the whole digest."""

    def __init__(self, lists: Iterable[ChunkList]) -> None:
        self._tables = [
            (listed, dict(zip(memoryview(listed.digests).cast("Q")[::4], range(len(listed)))))
            for listed in lists
        ]

    def find(self, sha256: bytes) -> Known | None:
        """Where the chunk with this raw SHA-256 is (the first part listing it), or ``None``."""
        prefix = int.from_bytes(sha256[:8], sys.byteorder)
        for listed, table in self._tables:
            position = table.get(prefix)
            if position is not None and listed.digest(position) == sha256:
                return listed, position
        return None


class KnownChunks:
    """The chunks a transaction may reference instead of storing again: those of the parts
    of the snapshot that was current when it began. Loaded once, when the first chunked part
    needs it; shared by the transaction's writers (each compares with its own reader)."""

    def __init__(self, load: Callable[[], KnownLists]) -> None:
        self._load = load
        self._known: KnownLists | None = None
        self._lock = threading.Lock()

    def find(self, sha256: bytes) -> Known | None:
        """Where the chunk with this raw SHA-256 is stored, or ``None``."""
        with self._lock:
            if self._known is None:
                self._known = self._load()
            known = self._known
        return known.find(sha256)


def known_chunks_of(
    part_path: Callable[[str], Path],
    pack_path: Callable[[str], Path],
    parts: Iterable[str],
    read_index: IndexReader | None = None,
) -> KnownLists:
    """The chunks of the chunked parts ``parts``; parts stored whole, missing or with a
    damaged list or pack index are left out."""
    lists = []
    for name in parts:
        try:
            listed = read_chunk_list(part_path(name), name, pack_path, read_index)
        except (OSError, CorruptSnapshotError):
            continue
        if listed is not None:
            lists.append(listed)
    return KnownLists(lists)


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
        self._part = PartCutter(target)
        self._pack = PackWriter(staging, level, tag)
        self._reader = FrameReader(pack_path)
        self._runs: list[list[Any]] = []  # [pack ("" = this part's), index sha, first, count]
        self._closed = False
        self._small: ZstdPartWriter | None = None

    def write(self, data: bytes) -> None:
        """Append uncompressed bytes to the part."""
        if self._closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        for chunk, rows in self._part.feed(bytes(data)):
            self._add(chunk, rows)

    def _add(self, chunk: bytes, rows: int) -> None:
        sha = hashlib.sha256(chunk).digest()
        known = self._known.find(sha)
        if known is not None and self._stored_equal(known, chunk):
            listed, position = known
            number, entry = listed.entry(position)
            pack, index = listed.packs[number]
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
        listed, position = known
        pack, start, size, offset = listed.locate(position)
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
        digest = self._part.hexdigest()
        if self._part.held is not None:  # small: stored whole
            self._small = ZstdPartWriter(self._staging, self._level, self._tag)
            for data in self._part.held:
                self._small.write(data)
            self._part.held = None
            return self._small.close()
        for chunk, rows in self._part.finish():
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
        data = chunklist.encode(digest, self._part.size, pack_list, runs, self._level)
        path = self._staging / temp_name("list", self._tag)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(path, self._staging / f"{digest}.zst")
        return digest, self._part.size

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
    pack, start, frame_size, offset = listed.locate(position)
    frame = reader.frame(pack, start, frame_size)
    size = listed.sizes[position]
    data = frame[offset : offset + size]
    if len(data) != size:
        raise _corrupt_chunk(name, position, f"is cut short in pack {pack}")
    if verify and hashlib.sha256(data).digest() != listed.digest(position):
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
    pack_path: Callable[[str], Path],
    name: str,
    raw: RawList,
    index_of: Callable[[int], PackIndex],
    *,
    verify: bool,
) -> Generator[bytes, None, None]:
    """Yield a chunked part's plain bytes in blocks, from its list's runs (the chunks of a
    run that lie together in one frame are one block), ``index_of`` giving each pack's
    checked index by its number in the list. ``verify`` checks the part's SHA-256 at the
    end; either way every frame's zstd checksum, every block's size and the part's size are
    checked as they are read. Memory: one frame per pack the part uses, and the indexes.

    :raises CorruptSnapshotError: if a pack, frame or chunk is missing or damaged, or (at the
        end, with ``verify``) the bytes do not hash to ``name``.
    """
    reader = FrameReader(pack_path, per_pack=True)
    digest = hashlib.sha256() if verify else None
    total = 0
    try:
        for pack, index, frame_number, entry, stop in frame_spans(
            name, raw.runs, raw.packs, index_of
        ):
            frame = reader.frame(
                pack, index.frame_starts[frame_number], index.frame_sizes[frame_number]
            )
            begin, end = index.offsets[entry], index.offsets[stop - 1] + index.sizes[stop - 1]
            block = frame if begin == 0 and end == len(frame) else frame[begin:end]
            if len(block) != end - begin:
                raise _corrupt_part(name, f"has a chunk cut short in pack {pack}")
            if digest is not None:
                digest.update(block)
            total += len(block)
            yield block
        if total != raw.size:
            raise _corrupt_part(name, "has chunks that do not add up to the part's size")
        if digest is not None and digest.hexdigest() != name:
            raise CorruptSnapshotError(
                f"stored part {name} does not match its SHA-256 (its chunks were changed)",
                hint="run `snapkit snapshots verify` and refresh to rewrite the part",
            )
    finally:
        reader.close()


def frame_spans(
    name: str,
    runs: Iterable[tuple[int, int, int]],
    packs: Sequence[tuple[str, str]],
    index_of: Callable[[int], PackIndex],
) -> Iterator[tuple[str, PackIndex, int, int, int]]:
    """For each frame each run spans, in table order: the pack's name and index, the frame's
    number, and the run's first entry in it and the entry after its last there (the chunks
    between lie end to end in the frame's plain bytes).

    :raises CorruptSnapshotError: if a run names entries its pack's index does not hold.
    """
    for number, first, count in runs:
        index = index_of(number)
        entry, last_entry = first, first + count
        if last_entry > len(index):
            raise _corrupt_part(name, "has a chunk list naming chunks its pack does not hold")
        frame_number = index.frame_of(entry)
        while entry < last_entry:
            stop = min(index.frame_end(frame_number), last_entry)
            yield packs[number][0], index, frame_number, entry, stop
            entry = stop
            frame_number += 1


def hash_chunked(pack_path: Callable[[str], Path], name: str, listed: ChunkList) -> tuple[str, int]:
    """Re-hash every chunk of a chunked part against its SHA-256 and the whole part; return
    the part's SHA-256 and size (for ``verify``). The part is read run by run, frame by
    frame, as :func:`chunked_blocks` reads it.

    :raises CorruptSnapshotError: for a missing or damaged pack, frame or chunk.
    """
    digest = hashlib.sha256()
    size = position = 0
    digests, sha256 = listed.digests, hashlib.sha256
    reader = FrameReader(pack_path, per_pack=True)
    try:
        for pack, index, frame_number, entry, stop in frame_spans(
            name, listed.runs(), listed.packs, listed.index_of
        ):
            view = memoryview(
                reader.frame(
                    pack, index.frame_starts[frame_number], index.frame_sizes[frame_number]
                )
            )
            offsets, sizes = index.offsets, index.sizes
            for chunk in range(entry, stop):
                piece = view[offsets[chunk] : offsets[chunk] + sizes[chunk]]
                if len(piece) != sizes[chunk]:
                    raise _corrupt_chunk(name, position, f"is cut short in pack {pack}")
                if sha256(piece).digest() != digests[position * 32 : position * 32 + 32]:
                    raise _corrupt_chunk(name, position, "does not match its SHA-256")
                digest.update(piece)
                size += len(piece)
                position += 1
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
