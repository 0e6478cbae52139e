"""Parts in the database: streamed into chunk rows while they are written, read back in blocks.

A :class:`SqlPartWriter` registers an *upload* (a row naming its host and pid, which gives the
blob its id), then inserts each full chunk in its own short statement, so neither the process
nor the database holds more than a chunk of it at a time and no transaction stays open while an
oracle streams. The chunks are invisible as data until a commit inserts the ``parts`` row that
names their blob; an abort, or the cleanup of a dead writer's uploads, deletes them.

:func:`iter_blocks` reads a stored part's chunks a few rows per query and hands out the plain
blocks, checking the part at the end (see :class:`snapkit_sql_store.codec.ChunkDecoder`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

from attrs import frozen

from snapkit.contracts import utc_now
from snapkit.errors import StoreError
from snapkit_sql_store.backend import Backend, Db, host_name
from snapkit_sql_store.chunks import release_upload_chunks
from snapkit_sql_store.codec import ChunkDecoder, ChunkEncoder, corrupt


@frozen
class PartRow:
    """A stored part as its ``parts`` row describes it."""

    sha256: str
    blob_id: int
    codec: str
    size: int
    stored_bytes: int
    chunks: int
    runs: tuple[tuple[int, int], ...] = ()
    """For a chunked part staged by this process: the runs of chunk ids its list names."""


PART_COLUMNS = "sha256, blob_id, codec, size, stored_bytes, chunks"


def part_row(row: tuple[Any, ...]) -> PartRow:
    """A :class:`PartRow` from a row of :data:`PART_COLUMNS`."""
    return PartRow(str(row[0]), int(row[1]), str(row[2]), int(row[3]), int(row[4]), int(row[5]))


def discard_blobs(backend: Backend, blob_ids: list[int]) -> None:
    """Delete staged blobs no part names, the chunks their uploads wrote that no commit
    claimed, and their upload rows (one transaction)."""
    if not blob_ids:
        return
    with backend.write() as db:
        for blob_id in blob_ids:
            db.execute(
                "DELETE FROM {p}part_chunks WHERE blob_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM {p}parts WHERE blob_id = ?)",
                (blob_id, blob_id),
            )
            release_upload_chunks(db, blob_id, keep=False)
            db.execute("DELETE FROM {p}uploads WHERE blob_id = ?", (blob_id,))


def release_blobs(db: Db, blob_ids: list[int], used: set[int]) -> None:
    """Inside a commit: delete the staged blobs (and the chunks their uploads wrote) that no
    installed part names, and every upload row of ``blob_ids``. The chunks of installed
    parts were claimed by :func:`snapkit_sql_store.chunks.claim_chunks` first."""
    for blob_id in blob_ids:
        if blob_id not in used:
            db.execute("DELETE FROM {p}part_chunks WHERE blob_id = ?", (blob_id,))
        release_upload_chunks(db, blob_id, keep=blob_id in used)
        db.execute("DELETE FROM {p}uploads WHERE blob_id = ?", (blob_id,))


class SqlPartWriter:
    """Writes one staged part, chunk by chunk, as the kernel streams its bytes in."""

    def __init__(self, backend: Backend, level: int) -> None:
        self._backend = backend
        self._encoder = ChunkEncoder(level)
        self.blob_id: int | None = None
        self.staged: PartRow | None = None
        """The part as staged, once :meth:`close` returned."""
        self._seq = 0
        self._stored = 0
        self._closed = False

    def _register(self) -> int:
        if self.blob_id is None:
            with self._backend.autocommit() as db:
                row = db.one(
                    "INSERT INTO {p}uploads (host, pid, started_at) VALUES (?, ?, ?) "
                    "RETURNING blob_id",
                    (host_name(), os.getpid(), utc_now()),
                )
            assert row is not None
            self.blob_id = int(row[0])
        return self.blob_id

    def _put(self, chunk: bytes) -> None:
        blob_id = self._register()
        with self._backend.autocommit() as db:
            db.execute(
                "INSERT INTO {p}part_chunks (blob_id, seq, data) VALUES (?, ?, ?)",
                (blob_id, self._seq, chunk),
            )
        self._seq += 1
        self._stored += len(chunk)

    def write(self, data: bytes) -> None:
        """Append plain bytes to the part."""
        if self._closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        for chunk in self._encoder.feed(data):
            self._put(chunk)

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and plain size in bytes."""
        if self._closed:
            raise StoreError("part writer is already closed")
        for chunk in self._encoder.finish():
            self._put(chunk)
        blob_id = self._register()
        self._closed = True
        self.staged = PartRow(
            self._encoder.sha256,
            blob_id,
            self._encoder.codec,
            self._encoder.size,
            self._stored,
            self._seq,
        )
        return self.staged.sha256, self.staged.size

    def abort(self) -> None:
        """Discard this part (the engine calls it before retrying a failed stream)."""
        if self._closed and self.staged is None:
            return
        self._closed = True
        self.staged = None
        if self.blob_id is not None:
            discard_blobs(self._backend, [self.blob_id])

    def discard_unfinished(self) -> None:
        """Discard the part if it was never closed (a finished one is left to the commit)."""
        if not self._closed:
            self.abort()


def iter_chunks(backend: Backend, row: PartRow) -> Iterator[bytes]:
    """Yield a stored part's chunks in order, a few rows per query.

    :raises CorruptSnapshotError: if a chunk is missing.
    """
    batch = backend.chunk_batch()
    seq = 0
    while seq < row.chunks:
        with backend.read() as db:
            rows = db.all(
                "SELECT seq, data FROM {p}part_chunks WHERE blob_id = ? AND seq >= ? "
                "AND seq < ? ORDER BY seq",
                (row.blob_id, seq, seq + batch),
            )
        if not rows:
            raise corrupt(row.sha256, f"is missing chunk {seq} of {row.chunks}")
        for number, data in rows:
            if number != seq:
                raise corrupt(row.sha256, f"is missing chunk {seq} of {row.chunks}")
            yield bytes(data)
            seq += 1


def iter_blocks(backend: Backend, row: PartRow, *, verify: bool = True) -> Iterator[bytes]:
    """Yield a stored part's plain bytes in blocks; check it at the end.

    :raises CorruptSnapshotError: if the part is damaged (at the latest, at its end).
    """
    from snapkit_sql_store.chunks import CHUNKED, chunked_blocks, resolve

    if row.codec == CHUNKED:
        resolved = resolve(backend, row.sha256, row.blob_id, row.chunks, row.size)
        yield from chunked_blocks(backend, resolved, verify=verify)
        return
    decoder = ChunkDecoder(row.codec, row.sha256, verify=verify)
    for chunk in iter_chunks(backend, row):
        yield from decoder.feed(chunk)
    decoder.finish()
    if decoder.size != row.size:
        raise corrupt(row.sha256, f"holds {decoder.size} bytes, not the {row.size} recorded")


def hash_part(backend: Backend, row: PartRow) -> None:
    """Read a stored part to its end, checking its SHA-256 and size.

    :raises CorruptSnapshotError: if it is damaged.
    """
    for _block in iter_blocks(backend, row, verify=True):
        pass


class BlockStream(io.RawIOBase):
    """Plain blocks as a raw stream; an error sticks, so a buffered reader cannot drop it."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        super().__init__()
        self._blocks = blocks
        self._pending = memoryview(b"")
        self._pos = 0
        self._error: BaseException | None = None
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._error is not None:
            raise self._error
        while self._pos >= len(self._pending):
            if self._done:
                return 0
            try:
                block = next(self._blocks)
            except StopIteration:
                self._done = True
                return 0
            except BaseException as exc:
                self._error = exc
                raise
            self._pending = memoryview(block)
            self._pos = 0
        count = min(len(buffer), len(self._pending) - self._pos)
        buffer[:count] = self._pending[self._pos : self._pos + count]
        self._pos += count
        return count

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._blocks, "close", None)
            if close is not None:
                close()
        super().close()
