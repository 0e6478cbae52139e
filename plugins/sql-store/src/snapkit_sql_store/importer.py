"""Taking in snapshots, history and pointer copied from another store
(:class:`snapkit.store.SnapshotImporter`, used by ``snapkit snapshots copy``).

A snapshot is imported like a commit that neither appends to the history nor moves the
pointer: its missing or damaged parts are streamed in as uploads and re-hashed, then one
database transaction installs them with the manifest. The history and the pointer are set in
one exclusive transaction: all of it, or (interrupted) none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from snapkit import convert
from snapkit.contracts import HistoryEntry, Pointer, SnapshotManifest
from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit.store import PartOpener
from snapkit_sql_store.backend import Db
from snapkit_sql_store.parts import PartRow, discard_blobs, hash_part, release_blobs
from snapkit_sql_store.rows import append_history, check_manifest_bytes, history_entry

if TYPE_CHECKING:
    from snapkit_sql_store.store import SqlStore

_BLOCK = 1 << 20


def import_snapshot(store: SqlStore, manifest: SnapshotManifest, open_part: PartOpener) -> bool:
    """See :meth:`snapkit.store.SnapshotImporter.import_snapshot`."""
    from snapkit_sql_store.commit import (
        _damaged_stored_copies,
        _install_manifest,
        _install_parts,
    )

    refs = {} if manifest.status == "failed" else {ref.sha256: ref for ref in manifest.parts}
    stored = store._part_rows(list(refs))
    missing = [sha for sha in refs if not _good(store, stored.get(sha))]
    if not missing and _has_good_manifest(store, manifest.id):
        return False
    txn = store.begin()
    staged: dict[str, PartRow] = {}
    blob_ids: list[int] = []
    try:
        for sha in missing:
            writer = txn.part_writer()
            with open_part(sha) as handle:
                while block := handle.read(_BLOCK):
                    writer.write(block)
            digest, _size = writer.close()
            if writer.blob_id is not None:
                blob_ids.append(writer.blob_id)
            if digest != sha:
                raise CorruptSnapshotError(
                    f"part {refs[sha].name!r} of snapshot {manifest.id} read from the source "
                    f"hashes to {digest}, not {sha}",
                    hint="run `snapkit snapshots verify` on the source store",
                )
            assert writer.staged is not None
            staged[sha] = writer.staged
        replace = _damaged_stored_copies(store, refs, staged)
        with store.backend.write() as db:
            used = _install_parts(db, refs, staged, replace)
            _install_manifest(store, db, manifest, convert.dumps(manifest))
            release_blobs(db, blob_ids, used)
        txn._finished = True
    except BaseException:
        txn._finished = True
        discard_blobs(store.backend, blob_ids)
        raise
    return True


def _good(store: SqlStore, row: PartRow | None) -> bool:
    if row is None:
        return False
    try:
        hash_part(store.backend, row)
    except CorruptSnapshotError:
        return False
    return True


def _has_good_manifest(store: SqlStore, snapshot_id: str) -> bool:
    with store.backend.read() as db:
        row = db.one("SELECT body FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
    if row is None:
        return False
    try:
        check_manifest_bytes(snapshot_id, bytes(row[0]))
    except CorruptSnapshotError:
        return False
    return True


def import_history(
    store: SqlStore, entries: Sequence[HistoryEntry], pointer: Pointer | None
) -> int:
    """See :meth:`snapkit.store.SnapshotImporter.import_history`."""
    store._create()
    with store.backend.write(exclusive=True) as db:
        own = [
            history_entry(r)
            for r in db.all(
                "SELECT at, event, snapshot_id, status, generation, errors FROM {p}history "
                "ORDER BY seq"
            )
        ]
        _check_prefix(own, entries, store.location)
        for entry in entries[len(own) :]:
            append_history(db, entry)
        if pointer is not None:
            _set_pointer(store, db, pointer)
    return len(entries) - len(own)


def _set_pointer(store: SqlStore, db: Db, pointer: Pointer) -> None:
    row = db.one("SELECT sha256 FROM {p}manifests WHERE snapshot_id = ?", (pointer.snapshot_id,))
    if row is None:
        raise StoreError(
            f"cannot set the pointer of {store.location} to snapshot {pointer.snapshot_id}: "
            "it is not in the store",
            hint="import every snapshot before the history",
        )
    db.execute("DELETE FROM {p}pointer WHERE id = 1")
    db.execute(
        "INSERT INTO {p}pointer (id, snapshot_id, manifest_sha256, generation, "
        "updated_at) VALUES (1, ?, ?, ?, ?)",
        (pointer.snapshot_id, str(row[0]), pointer.generation, pointer.updated_at),
    )


def _check_prefix(own: Sequence[HistoryEntry], entries: Sequence[HistoryEntry], where: str) -> None:
    if len(own) > len(entries) or list(own) != list(entries[: len(own)]):
        first = next(
            (i for i, (a, b) in enumerate(zip(own, entries, strict=False)) if a != b),
            min(len(own), len(entries)),
        )
        raise StoreError(
            f"the store at {where} has a history of its own ({len(own)} entries, differing "
            f"from the source's at entry {first + 1}): copying would mix two histories",
            hint="copy into a new, empty store (or one an earlier copy of this source started)",
        )
