"""One refresh's writes to a file store: parts staged in a private temp directory.

Parts are written to ``tmp/txn-<host>-<pid>-<random>/`` as they stream in (a chunked part as
its chunk list and a pack of its new chunks; see :mod:`snapkit_file_store.chunked`).
``commit`` hands the staging directory to the store, which moves the referenced parts into
``parts/`` (packs first; a part already stored is not rewritten), records the manifest and
moves the pointer; the staging directory is removed whatever happens. ``abort`` removes it
without recording anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snapkit.contracts import SnapshotManifest
from snapkit.errors import StoreError
from snapkit.store import CommitResult
from snapkit_file_store.atomic import make_dir, remove_quietly, temp_name
from snapkit_file_store.chunked import ChunkedPartWriter, KnownChunks
from snapkit_file_store.parts import ZstdPartWriter
from snapkit_file_store.paths import writer_tag

if TYPE_CHECKING:
    from snapkit_file_store.internals import StoreInternals


class FileTransaction:
    """Staged parts of one refresh, then exactly one ``commit`` or ``abort``."""

    def __init__(self, store: StoreInternals) -> None:
        self._store = store
        self.staging = store.layout.tmp / temp_name("txn", writer_tag())
        make_dir(self.staging)
        self._writers: list[ZstdPartWriter | ChunkedPartWriter] = []
        self._known: KnownChunks = store.known_chunks()  # loaded by the first chunked part
        self._finished = False

    def part_writer(self) -> ZstdPartWriter | ChunkedPartWriter:
        """Return a writer for a new part, staged until commit: chunked unless the store's
        ``chunk_size`` is 0."""
        self._check_open()
        store = self._store
        writer: ZstdPartWriter | ChunkedPartWriter
        if store.chunk_size:
            writer = ChunkedPartWriter(
                self.staging,
                store.compression_level,
                writer_tag(),
                self._known,
                store.layout.pack,
                target=store.chunk_size,
            )
        else:
            writer = ZstdPartWriter(self.staging, store.compression_level, writer_tag())
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
            stored before.
        """
        self._check_open()
        self._finished = True
        try:
            for writer in self._writers:
                writer.discard()  # only unfinished writers; finished ones are no-ops
            return self._store.commit_staged(
                self.staging,
                manifest,
                move_pointer=move_pointer,
                expected_generation=expected_generation,
            )
        finally:
            remove_quietly(self.staging)

    def abort(self) -> None:
        """Discard everything staged; leave no files behind. Safe to call more than once."""
        if self._finished:
            return
        self._finished = True
        for writer in self._writers:
            writer.discard()
        remove_quietly(self.staging)

    def _check_open(self) -> None:
        if self._finished:
            raise StoreError(
                "this transaction was already committed or aborted", hint="call store.begin()"
            )

    def __enter__(self) -> FileTransaction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()
