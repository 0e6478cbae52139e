"""One refresh's writes to a SQL store: parts staged as uploads, then one commit or an abort.

Each :meth:`SqlTransaction.part_writer` streams a part into chunk rows under its own upload
(see :mod:`snapkit_sql_store.parts`). ``commit`` hands the finished parts to the store, which
installs those the manifest references in the same database transaction that records the
manifest and moves the pointer, and deletes the others. ``abort`` deletes every staged chunk.
A process killed mid-way leaves uploads naming its pid; the next transaction on this host
removes them.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from snapkit.contracts import SnapshotManifest
from snapkit.errors import StoreError
from snapkit.store import CommitResult
from snapkit_sql_store.chunks import ChunkedPartWriter
from snapkit_sql_store.parts import PartRow, SqlPartWriter, discard_blobs

PartWriter = SqlPartWriter | ChunkedPartWriter

if TYPE_CHECKING:
    from snapkit_sql_store.store import SqlStore

log = logging.getLogger(__name__)


class SqlTransaction:
    """Staged parts of one refresh, then exactly one ``commit`` or ``abort``."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._writers: list[PartWriter] = []
        self._lock = threading.Lock()
        self._finished = False

    def part_writer(self) -> PartWriter:
        """Return a writer for a new part, staged until commit (writers may run in threads).

        With ``chunk_size`` set, a part of at least ``MIN_CHUNKS`` chunk targets is kept as
        chunks (:mod:`snapkit_sql_store.chunks`), a smaller one whole.
        """
        self._check_open()
        store = self._store
        writer: PartWriter = (
            ChunkedPartWriter(store.backend, store.compression_level, store.chunk_size)
            if store.chunk_size
            else SqlPartWriter(store.backend, store.compression_level)
        )
        with self._lock:
            self._writers.append(writer)
        return writer

    def commit(
        self, manifest: SnapshotManifest, *, move_pointer: bool, expected_generation: int | None
    ) -> CommitResult:
        """Record ``manifest`` with its staged parts; move the pointer if asked and allowed.

        The pointer moves only for a ``success`` or ``partial`` snapshot with ``move_pointer``
        set, and only if its generation is still ``expected_generation`` (``None`` skips the
        check). A ``failed`` snapshot is recorded with its errors; its staged parts are dropped.

        :raises PointerConflictError: if the pointer moved since ``expected_generation``; the
            snapshot stays recorded, the pointer untouched.
        :raises StoreError: if the manifest references a part that was neither staged here nor
            stored before, or one stored damaged that this transaction did not write again.
        """
        self._check_open()
        self._finished = True
        staged: dict[str, PartRow] = {}
        blob_ids: list[int] = []
        for writer in self._writers:
            writer.discard_unfinished()
            if writer.staged is not None:
                staged.setdefault(writer.staged.sha256, writer.staged)
            if writer.blob_id is not None:
                blob_ids.append(writer.blob_id)
        try:
            return self._store._commit_staged(
                staged,
                blob_ids,
                manifest,
                move_pointer=move_pointer,
                expected_generation=expected_generation,
            )
        except BaseException:
            self._discard(blob_ids)
            raise

    def abort(self) -> None:
        """Discard everything staged; leave nothing behind. Safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        self._discard([w.blob_id for w in self._writers if w.blob_id is not None])

    def _discard(self, blob_ids: list[int]) -> None:
        try:
            discard_blobs(self._store.backend, blob_ids)
        except StoreError as exc:
            log.warning(
                "could not remove %d staged part(s) now (%s); the next transaction removes them",
                len(blob_ids),
                exc.message,
            )

    def _check_open(self) -> None:
        if self._finished:
            raise StoreError(
                "this transaction was already committed or aborted", hint="call store.begin()"
            )

    def __enter__(self) -> SqlTransaction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()
