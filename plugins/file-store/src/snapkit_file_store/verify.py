"""``verify`` for the file store: re-hash everything, like restic's ``check --read-data``.

Every manifest is re-parsed and its id recomputed from its content; every stored part is
decompressed and re-hashed; every part a recorded (not failed) snapshot references must be
present; the pointer must name a verified good snapshot. A damaged or lost pointer is recovered
to the newest verified good snapshot, with a warning and ``pointer_recovered=True``. The staging
area and temp files are not data and are ignored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from snapkit.canonical import sha256_hex
from snapkit.contracts import HistoryEntry, SnapshotManifest, SnapshotStatus
from snapkit.errors import CorruptSnapshotError, InvalidIdentifierError
from snapkit.store import VerifyProblem, VerifyReport

from snapkit_file_store.manifests import check_manifest_bytes
from snapkit_file_store.parts import hash_part_file
from snapkit_file_store.paths import check_part_hash
from snapkit_file_store.pointer import read_pointer_file

if TYPE_CHECKING:
    from snapkit_file_store.store import FileStore

log = logging.getLogger(__name__)


def verify_store(store: FileStore) -> VerifyReport:
    """Re-hash every manifest and part of ``store`` and check its pointer."""
    layout = store.layout
    problems: list[VerifyProblem] = []
    manifests: dict[str, tuple[SnapshotManifest, str]] = {}

    for name in layout.stray_manifest_names():
        problems.append(VerifyProblem("manifest", name, "is not named <snapshot id>.json"))
    manifest_ids = sorted(layout.manifest_ids())
    for snapshot_id in manifest_ids:
        try:
            data = layout.manifest(snapshot_id).read_bytes()
            manifests[snapshot_id] = (check_manifest_bytes(snapshot_id, data), sha256_hex(data))
        except FileNotFoundError:
            continue  # pruned while we looked
        except CorruptSnapshotError as exc:
            problems.append(VerifyProblem("manifest", snapshot_id, exc.message))

    good_parts: set[str] = set()
    part_files = layout.part_files()
    for stem, path in part_files:
        try:
            check_part_hash(stem)
        except InvalidIdentifierError:
            problems.append(VerifyProblem("part", stem, f"unexpected file {path} in parts/"))
            continue
        if path != layout.part(stem):
            problems.append(VerifyProblem("part", stem, f"is stored at the wrong path {path}"))
            continue
        try:
            digest, _size = hash_part_file(path)
        except FileNotFoundError:
            continue
        except CorruptSnapshotError as exc:
            problems.append(VerifyProblem("part", stem, f"is damaged: {exc.message}"))
            continue
        if digest != stem:
            problems.append(VerifyProblem(
                "part", stem, f"content hashes to {digest}: the file was changed or damaged"))
            continue
        good_parts.add(stem)

    present = {stem for stem, _path in part_files}
    for snapshot_id, (manifest, _sha) in manifests.items():
        if manifest.status == "failed":
            continue
        for ref in manifest.parts:
            if ref.sha256 not in present:
                problems.append(VerifyProblem(
                    "part", ref.sha256,
                    f"is missing; snapshot {snapshot_id} references it as {ref.name!r}"))

    recovered = _check_pointer(store, manifests, good_parts, problems)
    if store._index_out_of_step():
        with store._meta_mutex():
            if store._index_out_of_step():
                store._rebuild_index()
    return VerifyReport(
        snapshots=len(manifest_ids),
        parts=len(part_files),
        problems=tuple(problems),
        pointer_recovered=recovered,
    )


def _repair_history(store: FileStore, status: SnapshotStatus) -> None:
    """Add the pointer's last move to the history if a crash left it out."""
    with store._meta_mutex():
        pointer = read_pointer_file(store.layout).pointer
        if pointer is None:
            return
        moves = [e.generation or 0 for e in store._history.items() if e.event == "pointer_moved"]
        if pointer.generation > max(moves, default=0):
            store._history.append(HistoryEntry(
                at=pointer.updated_at, event="pointer_moved", snapshot_id=pointer.snapshot_id,
                status=status, generation=pointer.generation))
            log.warning("history of %s lacked the pointer move to generation %d; added it",
                        store.layout.root, pointer.generation)


def _check_pointer(
    store: FileStore,
    manifests: dict[str, tuple[SnapshotManifest, str]],
    good_parts: set[str],
    problems: list[VerifyProblem],
) -> bool:
    read = read_pointer_file(store.layout)
    if read.pointer is None:
        store.read_pointer()  # recovers a damaged or lost pointer, under the mutex
        return store.take_recovery_flag()
    pointer = read.pointer
    entry = manifests.get(pointer.snapshot_id)
    _repair_history(store, entry[0].status if entry else "success")
    if entry is None:
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id,
            "names a snapshot whose manifest is missing or damaged"))
    else:
        manifest, sha = entry
        if manifest.status == "failed":
            problems.append(VerifyProblem(
                "pointer", pointer.snapshot_id, "names a failed snapshot"))
        if sha != pointer.manifest_sha256:
            problems.append(VerifyProblem(
                "pointer", pointer.snapshot_id,
                "records a manifest hash that does not match the stored manifest"))
        bad = [ref.sha256 for ref in manifest.parts if ref.sha256 not in good_parts]
        if bad:
            problems.append(VerifyProblem(
                "pointer", pointer.snapshot_id,
                f"names a snapshot with {len(bad)} missing or damaged part(s)"))
    return store.take_recovery_flag()
