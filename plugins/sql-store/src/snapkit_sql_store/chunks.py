"""Chunked parts in the database: chunks stored once by SHA-256, parts as chunk lists.

A part of at least :data:`snapkit.chunking.MIN_CHUNKS` chunk targets is cut by
:class:`snapkit.chunking.LineCutter` into chunks of whole lines. Each chunk is one row of
``chunks`` (its raw SHA-256, unique; rows; size; where its bytes are), written once and shared
by every part that holds it. Its bytes are in a *frame* (``chunk_frames``): the new chunks of
one batch of a part, compressed together as parts are (zstd with its content checksum), so
small chunks compress as the table would. The part's blob (its ``part_chunks`` rows) holds its
chunk list (:mod:`snapkit_sql_store.chunklist`), and its ``parts`` row has the codec
:data:`CHUNKED`.

**Writing.** :class:`ChunkedPartWriter` looks the chunks up a batch at a time; a chunk stored
already is reused after its stored bytes are compared with the new ones (a damaged one is
written again into a new frame and its row pointed there, its address being its content); new
ones go into a frame carrying the writer's upload id, so a cleanup of dead writers and an
abort delete it (and its chunks) and a prune leaves it alone. The commit marks committed every
frame holding a chunk the parts it installs name, and counts those chunks in its transaction:
a chunk removed meanwhile (by a prune) fails the commit, and nothing is recorded.

**Reading.** A chunk list is resolved in a few queries (one per 64 runs of ids) and checked
against the table digest it records; chunks are read in list order, up to :data:`_BATCH` (and
about :data:`_BATCH_BYTES`) per query with their frames, each checked against its SHA-256 (or,
with ``verify=False``, by its frame's zstd content checksum and its size). See
docs/stores.md.
"""

from __future__ import annotations

import hashlib
import logging
from array import array
from bisect import bisect_right
from collections.abc import Generator, Iterable, Iterator, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import zstandard

from snapkit.chunking import CHUNK_TARGET, PartCutter
from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit.store import ChunkTable
from snapkit_sql_store import chunklist
from snapkit_sql_store.backend import Backend, Db
from snapkit_sql_store.codec import RAW, ZSTD, corrupt

if TYPE_CHECKING:
    from snapkit_sql_store.parts import PartRow

log = logging.getLogger(__name__)

CHUNKED = "chunks"
"""The codec of a ``parts`` row whose blob is a chunk list."""

_BATCH = 256
"""Chunks looked up, inserted or read per query."""

_BATCH_BYTES = 1 << 20
"""Plain bytes of chunks read or written per query, at most (a long line is one chunk)."""

_BLOCK = 1 << 17
"""Plain bytes per block a chunked part's reads hand out (at least)."""

_RUNS = 64
"""Runs of chunk ids per resolving or claiming query."""

_PAGE = 2000
"""Chunk rows per page when a prune or verify walks the whole table."""


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _between(runs: Sequence[tuple[int, int]]) -> tuple[str, list[int]]:
    """``(id BETWEEN ? AND ? OR ...)`` for runs ``(first, count)``, and its parameters."""
    params: list[int] = []
    for first, count in runs:
        params += [first, first + count - 1]
    return "(" + " OR ".join(["id BETWEEN ? AND ?"] * len(runs)) + ")", params


def merge_runs(runs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of runs ``(first, count)`` as sorted, disjoint runs."""
    merged: list[list[int]] = []
    for first, count in sorted(runs):
        if merged and first <= merged[-1][0] + merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], first + count - merged[-1][0])
        else:
            merged.append([first, count])
    return [(first, count) for first, count in merged]


# -- one chunk's bytes --------------------------------------------------------------------


def encode_chunk(data: bytes, level: int) -> tuple[str, bytes]:
    """A chunk's codec and stored bytes (zstd with its content checksum, or plain)."""
    if level <= 0:
        return RAW, data
    return ZSTD, zstandard.ZstdCompressor(level=level, write_checksum=True).compress(data)


def _corrupt_chunk(name: str, position: int, what: str) -> CorruptSnapshotError:
    return CorruptSnapshotError(
        f"chunk {position} of stored part {name} {what}",
        hint="run `snapkit snapshots verify` and refresh to write the chunks again",
    )


def decode_chunk(codec: str, stored: bytes, size: int) -> bytes | None:
    """A chunk's plain bytes, or ``None`` if they do not decompress to ``size`` bytes (zstd
    checks its content checksum)."""
    if codec == RAW:
        data = stored
    elif codec == ZSTD:
        try:
            data = zstandard.ZstdDecompressor().decompress(stored, max_output_size=max(size, 1))
        except zstandard.ZstdError:
            return None
    else:
        return None
    return data if len(data) == size else None


class FrameCache:
    """The last few frames read, decompressed (``None``: missing or damaged)."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._frames: dict[int, bytes | None] = {}
        self._plain: set[int] = set()

    def plain(self, frame_id: int) -> bool:
        """Whether a frame is stored plain (no checksum: its chunks must be hashed)."""
        return frame_id in self._plain

    def get(self, frame_id: int) -> bytes | None:
        """A frame :meth:`load` read (``None`` if it was missing or damaged)."""
        return self._frames.get(frame_id)

    def load(self, db: Db, frame_ids: Iterable[int]) -> None:
        """Read the frames not held yet (one query), forgetting the oldest beyond a few."""
        needed = set(frame_ids)
        wanted = [f for f in needed if f not in self._frames]
        for frame_id in needed:
            self._frames[frame_id] = self._frames.pop(frame_id, None)  # newest last
        if wanted:
            for frame_id, codec, size, stored in db.all(
                "SELECT id, codec, size, data FROM {p}chunk_frames WHERE id IN "
                f"({', '.join('?' * len(wanted))})",
                wanted,
            ):
                self._frames[int(frame_id)] = decode_chunk(str(codec), bytes(stored), int(size))
                if codec == RAW:
                    self._plain.add(int(frame_id))
        keep = max(self._keep, len(needed))
        while len(self._frames) > keep:
            oldest = next(iter(self._frames))
            del self._frames[oldest]
            self._plain.discard(oldest)


# -- writing ------------------------------------------------------------------------------


class ChunkedPartWriter:
    """Writes one staged part as chunks and a chunk list (see the module docstring); a part
    smaller than :data:`MIN_CHUNKS` chunk targets is written whole.

    It has what :class:`snapkit_sql_store.transaction.SqlTransaction` needs of a writer:
    ``blob_id`` and ``staged`` once closed.
    """

    def __init__(self, backend: Backend, level: int, target: int = CHUNK_TARGET) -> None:
        from snapkit_sql_store.parts import SqlPartWriter

        self._backend = backend
        self._level = level
        self._part = PartCutter(target)
        self._list = SqlPartWriter(backend, 0)  # the chunk list's blob (already compressed)
        self._whole: SqlPartWriter | None = None
        self._pending: list[tuple[bytes, int]] = []
        self._pending_bytes = 0
        self._frames = FrameCache()
        self._seen: dict[bytes, int] = {}
        self._ids: array[int] = array("q")
        self._digests = bytearray()
        self._rows: array[int] = array("Q")
        self._sizes: array[int] = array("Q")
        self._closed = False
        self.staged: PartRow | None = None
        """The part as staged, once :meth:`close` returned."""

    @property
    def blob_id(self) -> int | None:
        """The upload (blob) id of this part, once anything was written."""
        return self._whole.blob_id if self._whole is not None else self._list.blob_id

    def write(self, data: bytes) -> None:
        """Append plain bytes to the part."""
        if self._closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        for chunk in self._part.feed(bytes(data)):
            self._pending.append(chunk)
            self._pending_bytes += len(chunk[0])
            if len(self._pending) >= _BATCH or self._pending_bytes >= _BATCH_BYTES:
                self._flush()

    def _flush(self) -> None:
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not pending:
            return
        digests = [hashlib.sha256(chunk).digest() for chunk, _rows in pending]
        wanted = list({d for d in digests if d not in self._seen})
        found: dict[bytes, tuple[int, int, int, int]] = {}
        if wanted:
            with self._backend.read() as db:
                rows = db.all(
                    "SELECT sha256, id, size, frame_id, frame_offset FROM {p}chunks WHERE "
                    f"sha256 IN ({', '.join('?' * len(wanted))})",
                    wanted,
                )
                for sha, *place in rows:
                    found[bytes(sha)] = (int(place[0]), int(place[1]), int(place[2]), int(place[3]))
                self._frames.load(db, {place[2] for place in found.values()})
        new: dict[bytes, tuple[bytes, int]] = {}
        repairs: list[tuple[int, bytes]] = []
        for (chunk, rows_in), digest in zip(pending, digests, strict=True):
            if digest in self._seen or digest in new:
                continue
            hit = found.get(digest)
            if hit is None:
                new[digest] = (chunk, rows_in)
                continue
            chunk_id, size, frame_id, offset = hit
            frame = self._frames.get(frame_id)
            if frame is None or frame[offset : offset + size] != chunk:
                log.warning("stored chunk %s is damaged; writing it again", digest.hex())
                repairs.append((chunk_id, chunk))
            self._seen[digest] = chunk_id
        if new or repairs:
            self._store(new, repairs)
        for (chunk, rows_in), digest in zip(pending, digests, strict=True):
            self._ids.append(self._seen[digest])
            self._digests += digest
            self._rows.append(rows_in)
            self._sizes.append(len(chunk))
        self._seen.clear()  # a chunk repeated later is found by the next lookup

    def _store(self, new: dict[bytes, tuple[bytes, int]], repairs: list[tuple[int, bytes]]) -> None:
        """Write the new chunks as one frame of this upload and their rows (their ids ascend
        in table order), and good copies of damaged stored chunks as a committed frame (they
        are named already), in one transaction."""
        upload = self._list._register()
        with self._backend.write() as db:
            if repairs:
                frame_id, offsets = self._frame(db, [chunk for _id, chunk in repairs], None)
                for (chunk_id, _chunk), offset in zip(repairs, offsets, strict=True):
                    db.execute(
                        "UPDATE {p}chunks SET frame_id = ?, frame_offset = ? WHERE id = ?",
                        (frame_id, offset, chunk_id),
                    )
            if not new:
                return
            frame_id, offsets = self._frame(db, [chunk for chunk, _rows in new.values()], upload)
            values: list[Any] = []
            for (digest, (chunk, rows_in)), offset in zip(new.items(), offsets, strict=True):
                values += [digest, rows_in, len(chunk), frame_id, offset]
            inserted = db.all(
                "INSERT INTO {p}chunks (sha256, row_count, size, frame_id, frame_offset) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?)"] * len(new))
                + " ON CONFLICT (sha256) DO NOTHING RETURNING id, sha256",
                values,
            )
            for chunk_id, sha in inserted:
                self._seen[bytes(sha)] = int(chunk_id)
            raced = [d for d in new if d not in self._seen]
            if raced:  # another writer inserted them meanwhile: use its rows
                for chunk_id, sha in db.all(
                    "SELECT id, sha256 FROM {p}chunks WHERE sha256 IN "
                    f"({', '.join('?' * len(raced))})",
                    raced,
                ):
                    self._seen[bytes(sha)] = int(chunk_id)

    def _frame(self, db: Db, chunks: list[bytes], upload: int | None) -> tuple[int, list[int]]:
        """Insert one frame of ``chunks``; return its id and each chunk's offset in it."""
        offsets = list(accumulate((len(c) for c in chunks[:-1]), initial=0))
        plain = b"".join(chunks)
        codec, stored = encode_chunk(plain, self._level)
        row = db.one(
            "INSERT INTO {p}chunk_frames (codec, size, data, upload_id) VALUES (?, ?, ?, ?) "
            "RETURNING id",
            (codec, len(plain), stored, upload),
        )
        assert row is not None
        return int(row[0]), offsets

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and plain size in bytes."""
        from snapkit_sql_store.parts import PartRow, SqlPartWriter

        if self._closed:
            raise StoreError("part writer is already closed")
        if self._part.held is not None:  # small: stored whole
            self._whole = SqlPartWriter(self._backend, self._level)
            for data in self._part.held:
                self._whole.write(data)
            self._part.held = None
            self._closed = True
            result = self._whole.close()
            self.staged = self._whole.staged
            return result
        self._pending += self._part.finish()
        self._flush()
        self._closed = True
        name = self._part.hexdigest()
        table = chunklist.table_digest(bytes(self._digests), self._rows, self._sizes)
        runs = chunklist.runs_of(self._ids)
        data = chunklist.encode(name, self._part.size, table, runs, self._level)
        self._list.write(data)
        self._list.close()
        listed = self._list.staged
        assert listed is not None
        self.staged = PartRow(
            name,
            listed.blob_id,
            CHUNKED,
            self._part.size,
            listed.stored_bytes,
            listed.chunks,
            runs=tuple(runs),
        )
        return name, self._part.size

    def abort(self) -> None:
        """Discard this part (the engine calls it before retrying a failed stream)."""
        self._closed = True
        self.staged = None
        self._part.held = None
        if self._whole is not None:
            self._whole.abort()
        self._list.abort()

    def discard_unfinished(self) -> None:
        """Discard the part if it was never closed (a finished one is left to the commit)."""
        if not self._closed:
            self.abort()


def claim_chunks(db: Db, name: str, runs: Sequence[tuple[int, int]]) -> None:
    """Inside a commit: mark the frames holding the chunks a staged chunked part names as
    committed (so no writer's abort deletes them) and check the chunks are all there.

    :raises StoreError: if a chunk is missing (a prune removed it while the part was written).
    """
    for group in _batches(merge_runs(runs), _RUNS):
        where, params = _between(group)
        db.execute(
            "UPDATE {p}chunk_frames SET upload_id = NULL WHERE upload_id IS NOT NULL AND id IN "
            f"(SELECT frame_id FROM {{p}}chunks WHERE {where})",
            params,
        )
        row = db.one(f"SELECT count(*) FROM {{p}}chunks WHERE {where}", params)
        if row is None or int(row[0]) != sum(count for _first, count in group):
            raise StoreError(
                f"chunks of part {name} were removed while it was written (a prune ran)",
                hint="nothing was recorded and the pointer did not move; refresh again",
            )


# -- reading ------------------------------------------------------------------------------


class Resolved:
    """A chunked part's chunk list resolved against the ``chunks`` rows: its checked table,
    the chunk ids, and where each chunk starts in the part's plain bytes. (Where a chunk's
    bytes are is read with them: a refresh may move a damaged chunk to a new frame.)"""

    __slots__ = ("blob_id", "ids", "name", "offsets", "size", "table")

    def __init__(self, name: str, blob_id: int, table: ChunkTable, ids: array[int]) -> None:
        self.name = name
        self.blob_id = blob_id
        self.table = table
        self.ids = ids
        self.offsets = array("Q", accumulate(table.sizes, initial=0))
        self.size = self.offsets.pop()

    def __len__(self) -> int:
        return len(self.ids)


def read_list(db: Db, name: str, blob_id: int, blob_rows: int) -> chunklist.RawList:
    """Read and check the chunk list in blob ``blob_id`` of part ``name``.

    :raises CorruptSnapshotError: if it is missing, damaged or another part's.
    """
    rows = db.all("SELECT seq, data FROM {p}part_chunks WHERE blob_id = ? ORDER BY seq", (blob_id,))
    if [int(seq) for seq, _data in rows] != list(range(blob_rows)):
        raise corrupt(name, "is missing part of its chunk list")
    try:
        return chunklist.decode(b"".join(bytes(data) for _seq, data in rows), name)
    except chunklist.ChunkListError as exc:
        raise corrupt(name, str(exc)) from None


def resolve(backend: Backend, name: str, blob_id: int, blob_rows: int, size: int) -> Resolved:
    """The checked chunk table of a chunked part (a few queries).

    :raises CorruptSnapshotError: if the list is damaged, a chunk row is missing, or the
        rows do not match the table digest or the part's size.
    """
    with backend.read() as db:
        raw = read_list(db, name, blob_id, blob_rows)
        if raw.size != size:
            raise corrupt(name, "has a chunk list of another size than its part")
        ids: array[int] = array("q")
        digests = bytearray()
        rows: array[int] = array("Q")
        sizes: array[int] = array("Q")
        for group in _batches(raw.runs, _RUNS):
            where, params = _between(merge_runs(group))
            found = {
                int(chunk_id): (bytes(sha), int(n), int(length))
                for chunk_id, sha, n, length in db.all(
                    f"SELECT id, sha256, row_count, size FROM {{p}}chunks WHERE {where}", params
                )
            }
            for first, count in group:
                for chunk_id in range(first, first + count):
                    meta = found.get(chunk_id)
                    if meta is None:
                        raise _corrupt_chunk(name, len(ids), "is missing")
                    ids.append(chunk_id)
                    digests += meta[0]
                    rows.append(meta[1])
                    sizes.append(meta[2])
    if chunklist.table_digest(bytes(digests), rows, sizes) != raw.table_sha256:
        raise corrupt(name, "has chunk rows that do not match its chunk list (damaged)")
    table = ChunkTable(bytes(digests), rows, sizes)
    resolved = Resolved(name, blob_id, table, ids)
    if resolved.size != size:
        raise corrupt(name, "has chunks that do not add up to the part's size")
    return resolved


def _checked_positions(positions: Iterable[int], count: int) -> Iterator[int]:
    previous = -1
    for position in positions:
        if position <= previous or not 0 <= position < count:
            raise ValueError(
                f"chunk positions must ascend within 0..{count - 1} (got {position} "
                f"after {previous})"
            )
        previous = position
        yield position


def _groups(positions: Iterator[int], sizes: Sequence[int]) -> Iterator[list[int]]:
    """Positions in groups of at most :data:`_BATCH` chunks and about :data:`_BATCH_BYTES`."""
    group: list[int] = []
    held = 0
    for position in positions:
        group.append(position)
        held += sizes[position]
        if len(group) >= _BATCH or held >= _BATCH_BYTES:
            yield group
            group, held = [], 0
    if group:
        yield group


def iter_chunk_data(
    backend: Backend, resolved: Resolved, positions: Iterable[int], *, verify: bool
) -> Generator[bytes, None, None]:
    """Yield the bytes of the chunks at ``positions`` (ascending), :data:`_BATCH` per query,
    each checked against its SHA-256 when ``verify`` (else by zstd's content checksum and its
    size; plain chunks are hashed either way).

    :raises CorruptSnapshotError: for a missing or damaged chunk.
    :raises ValueError: if positions do not ascend or are out of range.
    """
    table = resolved.table
    frames = FrameCache(keep=2)
    for group in _groups(_checked_positions(positions, len(resolved)), table.sizes):
        wanted = list({resolved.ids[p] for p in group})
        with backend.read() as db:
            placed = {
                int(chunk_id): (int(frame_id), int(offset))
                for chunk_id, frame_id, offset in db.all(
                    "SELECT id, frame_id, frame_offset FROM {p}chunks WHERE id IN "
                    f"({', '.join('?' * len(wanted))})",
                    wanted,
                )
            }
            frames.load(db, (frame_id for frame_id, _offset in placed.values()))
        for position in group:
            place = placed.get(resolved.ids[position])
            if place is None:
                raise _corrupt_chunk(resolved.name, position, "is missing")
            frame_id, offset = place
            frame = frames.get(frame_id)
            if frame is None:
                raise _corrupt_chunk(
                    resolved.name,
                    position,
                    "is damaged (its frame is missing or does not decompress)",
                )
            data = frame[offset : offset + table.sizes[position]]
            if len(data) != table.sizes[position]:
                raise _corrupt_chunk(resolved.name, position, "is cut short in its frame")
            if (verify or frames.plain(frame_id)) and hashlib.sha256(data).digest() != table.digest(
                position
            ):
                raise _corrupt_chunk(resolved.name, position, "does not match its SHA-256")
            yield data


def chunked_blocks(
    backend: Backend, resolved: Resolved, *, verify: bool
) -> Generator[bytes, None, None]:
    """Yield a chunked part's plain bytes in blocks of about :data:`_BLOCK`; with
    ``verify`` each chunk is checked against its SHA-256 and the part against its name at the
    end.

    :raises CorruptSnapshotError: for a missing or damaged chunk, or a part that does not
        hash to its name.
    """
    digest = hashlib.sha256() if verify else None
    block: list[bytes] = []
    held = 0
    for data in iter_chunk_data(backend, resolved, range(len(resolved)), verify=verify):
        block.append(data)
        held += len(data)
        if held >= _BLOCK:
            out = b"".join(block)
            block, held = [], 0
            if digest is not None:
                digest.update(out)
            yield out
    if block:
        out = b"".join(block)
        if digest is not None:
            digest.update(out)
        yield out
    if digest is not None and digest.hexdigest() != resolved.name:
        raise corrupt(resolved.name, "does not match its SHA-256 (its chunks were changed)")


def chunked_ranges(
    backend: Backend, resolved: Resolved, ranges: Iterable[tuple[int, int]]
) -> Generator[bytes, None, None]:
    """Yield the plain bytes of each ``(offset, length)`` range (offsets ascending), reading
    only the chunks that hold them, each checked against its SHA-256."""
    offsets = resolved.offsets
    previous = 0
    cached: dict[int, bytes] = {}
    for offset, length in ranges:
        if length < 0 or offset < previous:
            raise ValueError(f"ranges must ascend with lengths >= 0 (got ({offset}, {length}))")
        previous = offset
        end = min(offset + length, resolved.size)
        if offset >= end:
            yield b""
            continue
        first = bisect_right(offsets, offset) - 1
        last = bisect_right(offsets, end - 1) - 1
        missing = [p for p in range(first, last + 1) if p not in cached]
        fetched = dict(
            zip(missing, iter_chunk_data(backend, resolved, missing, verify=True), strict=True)
        )
        cached = {p: cached.get(p) or fetched[p] for p in range(first, last + 1)}
        data = b"".join(cached[p] for p in range(first, last + 1))
        base = offsets[first]
        yield data[offset - base : end - base]


# -- maintenance --------------------------------------------------------------------------


def referenced_runs(db: Db) -> list[tuple[int, int]] | None:
    """The chunk ids every chunked part's list names, as sorted disjoint runs; ``None`` if a
    list cannot be read (then nothing can be known unused)."""
    runs: list[tuple[int, int]] = []
    for name, blob_id, blob_rows in db.all(
        "SELECT sha256, blob_id, chunks FROM {p}parts WHERE codec = ?", (CHUNKED,)
    ):
        try:
            runs += read_list(db, str(name), int(blob_id), int(blob_rows)).runs
        except CorruptSnapshotError as exc:
            log.warning("cannot read the chunk list of part %s (%s)", name, exc.message)
            return None
    return merge_runs(runs)


def sweep_chunks(db: Db) -> tuple[int, int]:
    """Inside a prune: delete the committed chunks no chunked part names any more, then the
    committed frames no chunk is in (chunks and frames of open uploads are left alone).
    Returns how many chunks, and the stored bytes of the frames deleted.

    A damaged chunk list makes it keep every chunk (and say so in the log).
    """
    runs = referenced_runs(db)
    if runs is None:
        log.warning("keeping every chunk: a chunk list is damaged (run `snapkit snapshots verify`)")
        return 0, 0
    starts = [first for first, _count in runs]
    removed = 0
    last = 0
    while True:
        page = db.all(
            "SELECT c.id FROM {p}chunks c JOIN {p}chunk_frames f ON f.id = c.frame_id "
            "WHERE f.upload_id IS NULL AND c.id > ? ORDER BY c.id LIMIT ?",
            (last, _PAGE),
        )
        if not page:
            break
        doomed: list[int] = []
        for (chunk_id,) in page:
            last = int(chunk_id)
            at = bisect_right(starts, last) - 1
            if at < 0 or last >= runs[at][0] + runs[at][1]:
                doomed.append(last)
        for batch in _batches(doomed, _BATCH):
            marks = ", ".join("?" * len(batch))
            db.execute(f"DELETE FROM {{p}}chunks WHERE id IN ({marks})", batch)
        removed += len(doomed)
    empty = db.all(
        "SELECT id, length(data) FROM {p}chunk_frames f WHERE upload_id IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM {p}chunks c WHERE c.frame_id = f.id)"
    )
    for batch in _batches(empty, _BATCH):
        marks = ", ".join("?" * len(batch))
        db.execute(
            f"DELETE FROM {{p}}chunk_frames WHERE id IN ({marks})", [int(r[0]) for r in batch]
        )
    return removed, sum(int(r[1]) for r in empty)


def release_upload_chunks(db: Db, upload_id: int, *, keep: bool) -> None:
    """Inside a commit or a discard: with ``keep`` (its part was installed), the frames upload
    ``upload_id`` wrote become committed; else those no commit claimed are deleted with their
    chunks (the frames first: a commit claiming one meanwhile keeps it)."""
    if keep:
        db.execute("UPDATE {p}chunk_frames SET upload_id = NULL WHERE upload_id = ?", (upload_id,))
        return
    doomed = [
        int(row[0])
        for row in db.all(
            "DELETE FROM {p}chunk_frames WHERE upload_id = ? RETURNING id", (upload_id,)
        )
    ]
    for batch in _batches(doomed, _BATCH):
        marks = ", ".join("?" * len(batch))
        db.execute(f"DELETE FROM {{p}}chunks WHERE frame_id IN ({marks})", batch)


def damaged_chunks(backend: Backend) -> Iterator[tuple[str, str]]:
    """Re-hash every committed chunk in its frame; yield ``(sha256 hex, what is wrong)`` of
    damaged ones (a frame that does not decompress damages every chunk in it)."""
    last = 0
    while True:
        with backend.read() as db:
            page = db.all(
                "SELECT id FROM {p}chunk_frames WHERE upload_id IS NULL AND id > ? "
                "ORDER BY id LIMIT 16",
                (last,),
            )
            if not page:
                break
            ids = [int(r[0]) for r in page]
            last = ids[-1]
            frames = FrameCache(keep=len(ids))
            frames.load(db, ids)
            chunks = db.all(
                "SELECT sha256, size, frame_id, frame_offset FROM {p}chunks WHERE frame_id IN "
                f"({', '.join('?' * len(ids))})",
                ids,
            )
        for sha, size, frame_id, offset in chunks:
            frame = frames.get(int(frame_id))
            if frame is None:
                yield bytes(sha).hex(), "is damaged (its frame does not decompress)"
                continue
            data = frame[int(offset) : int(offset) + int(size)]
            if hashlib.sha256(data).digest() != bytes(sha):
                yield bytes(sha).hex(), "does not match its SHA-256"
    with backend.read() as db:
        lost = db.all(
            "SELECT sha256 FROM {p}chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM {p}chunk_frames f WHERE f.id = c.frame_id)"
        )
    for (sha,) in lost:
        yield bytes(sha).hex(), "is missing (its frame is gone)"
