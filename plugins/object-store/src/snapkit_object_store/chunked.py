"""Chunked parts: a part's lines cut into chunks at content-defined boundaries, each stored once.

:class:`ChunkedPartWriter` cuts the canonical JSON Lines bytes it receives with
:class:`snapkit.chunking.LineCutter` (so equal rows make equal chunks in every store). Each
chunk is named by its SHA-256; a chunk the current snapshot already stores
(:class:`KnownChunks`) is referenced where it is, after its stored bytes are fetched (a ranged
``GetObject`` of its frame, frames kept for the chunks that follow) and compared with the new
ones: a damaged or missing stored chunk is written again instead. New chunks go to the part's
pack (:mod:`snapkit_object_store.packs`); the part's object becomes a chunk list
(:mod:`snapkit_object_store.chunklist`). Parts smaller than :data:`MIN_CHUNKS` chunk targets
are stored whole (:class:`snapkit_object_store.parts.SpooledPart`), as before chunking.

The readers here serve :class:`snapkit.store.ChunkedPartReader`, ``open_part`` and
``iter_part_blocks`` for chunked parts; see ``docs/stores.md``.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from itertools import accumulate
from typing import Any

from snapkit.chunking import CHUNK_TARGET, PartCutter
from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit_object_store import chunklist, packs
from snapkit_object_store.chunklist import PackRef, RawList
from snapkit_object_store.packs import (
    READ_AHEAD,
    FetchRange,
    FrameReader,
    PackWriter,
    StagedPack,
)
from snapkit_object_store.parts import SpooledPart

DIGEST = 32


class ChunkList:
    """A chunked part's chunks, resolved from its list and its packs' checked indexes: one
    column per field, position ``i`` being the part's ``i``-th chunk."""

    __slots__ = (
        "digests",
        "entry_of",
        "frame_offsets",
        "frame_sizes",
        "frame_starts",
        "offsets",
        "pack_of",
        "packs",
        "rows",
        "run_starts",
        "size",
        "sizes",
    )

    def __init__(self, size: int, pack_refs: tuple[PackRef, ...]) -> None:
        self.size = size
        self.packs = pack_refs
        self.digests = bytearray()
        """The chunks' raw SHA-256s, end to end."""
        self.rows = array("I")
        self.sizes = array("I")
        self.offsets = array("Q")
        """Where each chunk starts in the part's plain bytes."""
        self.pack_of = array("I")
        self.entry_of = array("Q")
        self.frame_starts = array("Q")
        self.frame_sizes = array("I")
        self.frame_offsets = array("I")
        self.run_starts: list[int] = []
        """Where each run of consecutive entries of one pack starts."""

    def __len__(self) -> int:
        return len(self.rows)

    def sha(self, position: int) -> bytes:
        """The raw SHA-256 of chunk ``position``."""
        return bytes(self.digests[position * DIGEST : (position + 1) * DIGEST])


def corrupt_part(name: str, what: str) -> CorruptSnapshotError:
    """The error for a damaged chunk list (or whole part)."""
    return CorruptSnapshotError(
        f"stored part {name} {what}",
        hint="run `snapkit snapshots verify` and refresh to rewrite the part",
    )


def decode_list(data: bytes, name: str) -> RawList:
    """Check and decode chunk list object bytes of part ``name``.

    :raises CorruptSnapshotError: if the list is damaged or another part's.
    """
    try:
        return chunklist.decode(data, name)
    except chunklist.ChunkListError as exc:
        raise corrupt_part(name, str(exc)) from None


def resolve(
    raw: RawList,
    name: str,
    fetch: FetchRange,
    map_: Callable[[Callable[[Any], Any], Iterable[Any]], list[Any]],
) -> ChunkList:
    """The chunks of a chunk list, from the indexes of its packs (one ranged read each, in
    parallel through ``map_``, each checked against the digest the list recorded).

    :raises CorruptSnapshotError: if a pack is missing, an index is damaged, a run lies outside
        its pack's index, or the chunks do not add up to the part's size.
    """
    used = sorted({pack for pack, _first, _count in raw.runs})

    def index_of(number: int) -> packs.PackIndex:
        ref = raw.packs[number]
        frame = fetch(ref.name, ref.index_start, ref.index_size)
        return packs.check_index(frame, ref.name, ref.index_sha256)

    indexes = dict(zip(used, map_(index_of, used), strict=True))
    listed = ChunkList(raw.size, raw.packs)
    for pack, first, count in raw.runs:
        listed.run_starts.append(len(listed))
        index = indexes[pack]
        end = first + count
        if end > len(index):
            raise corrupt_part(name, "has a chunk list naming chunks its pack does not hold")
        listed.digests += index.digests[first * DIGEST : end * DIGEST]
        listed.rows.extend(index.rows[first:end])
        listed.sizes.extend(index.sizes[first:end])
        listed.frame_starts.extend(index.frame_starts[first:end])
        listed.frame_sizes.extend(index.frame_sizes[first:end])
        listed.frame_offsets.extend(index.offsets[first:end])
        listed.pack_of.extend(array("I", [pack]) * count)
        listed.entry_of.extend(range(first, end))
    ends = array("Q", accumulate(listed.sizes, initial=0))
    if ends.pop() != raw.size:
        raise corrupt_part(name, "has chunks that do not add up to the part's size")
    listed.offsets = ends
    return listed


Known = tuple[PackRef, int, int, int, int]
"""Where a known chunk is: its pack, entry, frame start, frame size and offset in the frame."""


class KnownChunks:
    """The chunks a transaction may reference instead of storing again: those of the
    chunked parts of the current snapshot when it began. Loaded once, when the first chunked
    part needs them; shared by the transaction's writers (each compares the stored bytes with
    its own frame reader). The index maps each chunk's SHA-256 to one int (list, position)
    and reads the rest from the resolved lists' columns, so a table of a million rows costs
    tens of MB here, not hundreds."""

    def __init__(self, load: Callable[[], list[ChunkList]]) -> None:
        self._load = load
        self._lists: list[ChunkList] | None = None
        self._index: dict[bytes, int] = {}
        self._frames: dict[str, tuple[array[int], array[int]]] = {}
        self._lock = threading.Lock()

    def _loaded(self) -> dict[bytes, int]:
        with self._lock:
            if self._lists is None:
                lists = self._load()
                index = self._index
                frames: dict[str, dict[int, int]] = {}
                for number, listed in enumerate(lists):
                    digests = bytes(listed.digests)
                    for position in range(len(listed)):
                        sha = digests[position * DIGEST : (position + 1) * DIGEST]
                        if sha not in index:
                            index[sha] = number << 32 | position
                    for pack, start, size, _first, _last in _frame_runs(listed):
                        frames.setdefault(pack, {})[start] = size
                for pack, sizes in frames.items():
                    starts = sorted(sizes)
                    self._frames[pack] = (
                        array("Q", starts),
                        array("Q", [sizes[s] for s in starts]),
                    )
                self._lists = lists  # last: find() reads the index without the lock after
            return self._index

    def following(self, pack: str, start: int) -> list[tuple[int, int]]:
        """The frames of ``pack`` the known chunks lie in after the one at ``start`` (the
        ones a writer is likely to compare next), nearest first (see ``FrameReader``)."""
        self._loaded()
        found = self._frames.get(pack)
        if found is None:
            return []
        starts, sizes = found
        at = bisect_right(starts, start)
        return list(zip(starts[at : at + READ_AHEAD], sizes[at : at + READ_AHEAD], strict=True))

    def find(self, sha256: bytes) -> Known | None:
        """Where the chunk with this raw SHA-256 is stored, or ``None`` if it is not known."""
        lists = self._lists
        found = (self._index if lists is not None else self._loaded()).get(sha256)
        if found is None:
            return None
        listed = (self._lists or [])[found >> 32]
        i = found & 0xFFFFFFFF
        return (
            listed.packs[listed.pack_of[i]],
            listed.entry_of[i],
            listed.frame_starts[i],
            listed.frame_sizes[i],
            listed.frame_offsets[i],
        )


class ChunkedPartWriter:
    """Writes one staged part as chunks (see the module docstring).

    After :meth:`close`: :attr:`whole` is the part staged whole when it is small; else
    :attr:`list_body` is its chunk list, :attr:`pack` its own new pack (``None`` when every
    chunk was known) and :attr:`foreign` the stored packs it references.
    """

    def __init__(
        self, level: int, known: KnownChunks, fetch: FetchRange, *, target: int = CHUNK_TARGET
    ) -> None:
        self._level = level
        self._known = known
        self._part = PartCutter(target)
        self._pack = PackWriter(level)
        self._reader = FrameReader(fetch, known.following)
        self._runs: list[list[Any]] = []  # [PackRef | None (this part's pack), first, count]
        self.sha256 = ""
        self.closed = False
        self.discarded = False
        self.whole: SpooledPart | None = None
        self.list_body: bytes | None = None
        self.pack: StagedPack | None = None
        self.foreign: tuple[PackRef, ...] = ()
        self.reused = 0
        """Chunks referenced where the current snapshot stores them."""

    @property
    def size(self) -> int:
        """Plain bytes written so far."""
        return self._part.size

    def write(self, data: bytes) -> None:
        """Append uncompressed bytes to the part."""
        if self.closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        for chunk, rows in self._part.feed(bytes(data)):
            self._add(chunk, rows)

    def _add(self, chunk: bytes, rows: int) -> None:
        sha = hashlib.sha256(chunk).digest()
        pack: PackRef | None
        known = self._known.find(sha)
        if known is not None and self._stored_equal(known, chunk):
            pack, entry = known[0], known[1]
            self.reused += 1
        else:
            pack, entry = None, self._pack.add(chunk, sha, rows)
        runs = self._runs
        if runs and runs[-1][0] == pack and runs[-1][1] + runs[-1][2] == entry:
            runs[-1][2] += 1
        else:
            runs.append([pack, entry, 1])

    def _stored_equal(self, known: Known, chunk: bytes) -> bool:
        """Whether the stored chunk holds exactly these bytes (a damaged or missing one does
        not: the chunk is written again)."""
        pack, _entry, start, size, offset = known
        try:
            frame = self._reader.frame(pack.name, start, size)
        except CorruptSnapshotError:
            return False
        return frame[offset : offset + len(chunk)] == chunk

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and uncompressed size in bytes."""
        if self.closed:
            raise StoreError("part writer is already closed")
        self.closed = True
        self.sha256 = self._part.hexdigest()
        if self._part.held is not None:  # small: stored whole
            self.whole = SpooledPart(self._level)
            for data in self._part.held:
                self.whole.write(data)
            self._part.held = None
            self.whole.close()
            return self.sha256, self.size
        for chunk, rows in self._part.finish():
            self._add(chunk, rows)
        self._reader.close()
        self.pack = self._pack.close()
        numbers: dict[str, int] = {}
        refs: list[PackRef] = []
        runs: list[tuple[int, int, int]] = []
        for pack, first, count in self._runs:
            if pack is None:
                assert self.pack is not None
                pack = PackRef(
                    self.pack.name,
                    self.pack.index_sha256,
                    self.pack.index_start,
                    self.pack.index_size,
                )
            number = numbers.get(pack.name)
            if number is None:
                number = numbers[pack.name] = len(refs)
                refs.append(pack)
            runs.append((number, first, count))
        self._runs = []
        own = self.pack.name if self.pack is not None else None
        self.foreign = tuple(ref for ref in refs if ref.name != own)
        self.list_body = chunklist.encode(self.sha256, self.size, refs, runs, self._level)
        return self.sha256, self.size

    def abort(self) -> None:
        """Discard this part (the engine calls it before retrying a failed stream)."""
        self.discard()

    def discard(self) -> None:
        """Drop what is staged."""
        if self.discarded:
            return
        self.discarded = True
        self.closed = True
        self._reader.close()
        self._pack.discard()
        if self.pack is not None:
            self.pack.discard()
        if self.whole is not None:
            self.whole.discard()


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
    pack = listed.packs[listed.pack_of[position]].name
    frame = reader.frame(pack, listed.frame_starts[position], listed.frame_sizes[position])
    offset = listed.frame_offsets[position]
    size = listed.sizes[position]
    data = frame[offset : offset + size]
    if len(data) != size:
        raise _corrupt_chunk(name, position, f"is cut short in pack {pack}")
    if verify and hashlib.sha256(data).digest() != listed.sha(position):
        raise _corrupt_chunk(name, position, "does not match its SHA-256")
    return data


def iter_chunk_bytes(
    fetch: FetchRange, name: str, listed: ChunkList, positions: Iterable[int], *, verify: bool
) -> Generator[bytes, None, None]:
    """Yield the chunks at ``positions`` (ascending) of part ``name``, each checked."""
    reader = FrameReader(fetch)
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


def _frame_runs(listed: ChunkList) -> Iterator[tuple[str, int, int, int, int]]:
    """``(pack, frame start, frame size, first chunk, last chunk)`` for each stretch of
    chunks that lie end to end in one frame, in table order."""
    starts = listed.frame_starts
    bounds = [*listed.run_starts, len(listed)]
    for run in range(len(listed.run_starts)):
        first, end = bounds[run], bounds[run + 1]
        pack = listed.packs[listed.pack_of[first]].name
        while first < end:
            frame_start = starts[first]
            last = bisect_right(starts, frame_start, first, end) - 1
            yield pack, frame_start, listed.frame_sizes[first], first, last
            first = last + 1


def chunked_blocks(
    fetch: FetchRange, name: str, listed: ChunkList, *, verify: bool, each_chunk: bool = False
) -> Generator[bytes, None, None]:
    """Yield a chunked part's plain bytes in blocks (the chunks that lie together in one
    frame are one block), fetching frames ahead (:func:`snapkit_object_store.packs.
    frames_ahead`). Every frame's zstd checksum and every chunk's size are checked as they
    are read; ``each_chunk`` checks every chunk against its SHA-256 too; ``verify`` checks
    the part's SHA-256 at the end.

    :raises CorruptSnapshotError: if a pack, frame or chunk is missing or damaged, or (at the
        end, with ``verify``) the bytes do not hash to ``name``.
    """
    digest = hashlib.sha256() if verify else None
    stretches = list(_frame_runs(listed))
    frames = packs.frames_ahead(fetch, [(p, s, z) for p, s, z, _f, _l in stretches])
    sizes, offsets, in_frame = listed.sizes, listed.offsets, listed.frame_offsets
    try:
        for (pack, _start, _size, first, last), frame in zip(stretches, frames, strict=True):
            block = frame[in_frame[first] : in_frame[last] + sizes[last]]
            if len(block) != offsets[last] + sizes[last] - offsets[first]:
                raise _corrupt_chunk(name, last, f"is cut short in pack {pack}")
            if each_chunk:
                at = 0
                for position in range(first, last + 1):
                    piece = block[at : at + sizes[position]]
                    if hashlib.sha256(piece).digest() != listed.sha(position):
                        raise _corrupt_chunk(name, position, "does not match its SHA-256")
                    at += sizes[position]
            if digest is not None:
                digest.update(block)
            yield block
        if digest is not None and digest.hexdigest() != name:
            raise CorruptSnapshotError(
                f"stored part {name} does not match its SHA-256 (its chunks were changed)",
                hint="run `snapkit snapshots verify` and refresh to rewrite the part",
            )
    finally:
        frames.close()


def hash_chunked(fetch: FetchRange, name: str, listed: ChunkList) -> tuple[str, int]:
    """Re-hash every chunk of a chunked part against its SHA-256, and the whole part; return
    the part's SHA-256 and size (for ``verify``).

    :raises CorruptSnapshotError: for a missing or damaged pack, frame or chunk.
    """
    digest = hashlib.sha256()
    size = 0
    for block in chunked_blocks(fetch, name, listed, verify=False, each_chunk=True):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def chunked_ranges(
    fetch: FetchRange,
    name: str,
    listed: ChunkList,
    ranges: Iterable[tuple[int, int]],
    check_range: Callable[[int, int, int], None],
) -> Generator[bytes, None, None]:
    """Yield the plain bytes of each ``(offset, length)`` range of a chunked part, reading
    only the frames holding them, each chunk checked against its SHA-256."""
    reader = FrameReader(fetch)
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


def pack_names(lists: Mapping[str, RawList]) -> set[str]:
    """The packs the chunk lists ``lists`` reference."""
    return {ref.name for raw in lists.values() for ref in raw.packs}
