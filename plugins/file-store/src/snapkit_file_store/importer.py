"""Taking in snapshots, history and pointer copied from another store
(:class:`snapkit.store.SnapshotImporter`, used by ``snapkit snapshots copy``).

A snapshot is imported like a commit that neither appends to the history nor moves the
pointer: its missing or damaged parts are streamed into a staging directory and re-hashed,
then installed with the manifest and the listing index under the meta mutex. The history is
appended and the pointer written under the mutex, history first, so that an interrupted import
is completed by running it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from snapkit.contracts import HistoryEntry, Pointer, SnapshotManifest
from snapkit.errors import CorruptSnapshotError, SnapshotNotFoundError, StoreError
from snapkit.store import PartOpener, info_of
from snapkit_file_store.pointer import read_pointer_file, write_pointer_file

if TYPE_CHECKING:
    from snapkit_file_store.store import FileStore

_BLOCK = 1 << 20


def import_snapshot(store: FileStore, manifest: SnapshotManifest, open_part: PartOpener) -> bool:
    """See :meth:`snapkit.store.SnapshotImporter.import_snapshot`."""
    refs = {} if manifest.status == "failed" else {ref.sha256: ref for ref in manifest.parts}
    layout = store.layout
    missing = [
        sha for sha in refs if not store._stored_part_ok(layout.part(sha), sha, layout.tmp / "-")
    ]
    if not missing and _has_good_manifest(store, manifest.id):
        return False
    txn = store.begin()
    try:
        for sha in missing:
            writer = txn.part_writer()
            with open_part(sha) as handle:
                while block := handle.read(_BLOCK):
                    writer.write(block)
            digest, _size = writer.close()
            if digest != sha:
                raise CorruptSnapshotError(
                    f"part {refs[sha].name!r} of snapshot {manifest.id} read from the source "
                    f"hashes to {digest}, not {sha}",
                    hint="run `snapkit snapshots verify` on the source store",
                )
        with store.meta_mutex():
            if refs:
                store._install_parts(txn.staging, manifest, {})
            loaded, written = store.manifest_files.install(manifest)
            if written or manifest.id not in store.snapshot_index.ids():
                store.snapshot_index.append(info_of(loaded.manifest, loaded.size))
    finally:
        txn.abort()
    return True


def _has_good_manifest(store: FileStore, snapshot_id: str) -> bool:
    try:
        store.manifest_files.forget(snapshot_id)
        store.manifest_files.load(snapshot_id)
    except (CorruptSnapshotError, SnapshotNotFoundError):
        return False
    return snapshot_id in store.checked_index().ids()


def import_history(
    store: FileStore, entries: Sequence[HistoryEntry], pointer: Pointer | None
) -> int:
    """See :meth:`snapkit.store.SnapshotImporter.import_history`."""
    with store.meta_mutex():
        own = store.history_log.items()
        check_prefix(own, entries, store.location)
        for entry in entries[len(own) :]:
            store.history_log.append(entry)
        if pointer is not None:
            try:
                loaded = store.manifest_files.load(pointer.snapshot_id)
            except (CorruptSnapshotError, SnapshotNotFoundError) as exc:
                raise StoreError(
                    f"cannot set the pointer of {store.location} to snapshot "
                    f"{pointer.snapshot_id}: {exc}",
                    hint="import every snapshot before the history",
                ) from None
            wanted = Pointer(
                snapshot_id=pointer.snapshot_id,
                manifest_sha256=loaded.sha256,
                generation=pointer.generation,
                updated_at=pointer.updated_at,
            )
            if read_pointer_file(store.layout).pointer != wanted:
                write_pointer_file(store.layout, wanted)
                store._current = None
    return len(entries) - len(own)


def check_prefix(own: Sequence[HistoryEntry], entries: Sequence[HistoryEntry], where: str) -> None:
    """Raise unless ``own`` (a store's history) is a prefix of ``entries``."""
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
