"""``verify`` for the file store: re-hash everything, like restic's ``check --read-data``.

Every manifest is re-parsed and its id recomputed from its content; every stored part is
decompressed and re-hashed; every part a recorded (not failed) snapshot references must be
present; the pointer must name a verified good snapshot. A damaged or lost pointer is recovered
to the newest verified good snapshot, with a warning and ``pointer_recovered=True``. The staging
area and temp files are not data and are ignored.

Listing and re-hashing take no lock, so a long verify never holds up a refresh; commits and
prunes may run meanwhile. What they can make look wrong is looked at again under the store's
short mutex before it is reported: a part found missing is reported only if the snapshot
referencing it is still recorded and the part still absent (a prune removes both), and the
pointer is checked as it is under the mutex, its manifest read from disk when it was committed
after the listing. Files that appear after the listing are checked by the next verify.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import frozen
from snapkit.canonical import sha256_hex
from snapkit.contracts import HistoryEntry, PartRef, Pointer, SnapshotManifest, SnapshotStatus
from snapkit.errors import CorruptSnapshotError, InvalidIdentifierError
from snapkit.store import VerifyProblem, VerifyReport

from snapkit_file_store.manifests import check_manifest_bytes
from snapkit_file_store.parts import hash_part_file
from snapkit_file_store.paths import Layout, check_part_hash
from snapkit_file_store.pointer import read_pointer_file

if TYPE_CHECKING:
    from snapkit_file_store.store import FileStore

log = logging.getLogger(__name__)


@frozen
class _Manifest:
    """A manifest as verify read it, with the SHA-256 of its file."""

    manifest: SnapshotManifest
    sha256: str


@frozen
class _Parts:
    """What the part listing found.

    :param files: ``(name stem, path)`` of every file listed under ``parts/``.
    :param present: stems of the listed files that were not removed before they were read.
    :param good: stems of the parts that re-hashed to their name.
    """

    files: list[tuple[str, Path]]
    present: frozenset[str]
    good: frozenset[str]


def verify_store(store: FileStore) -> VerifyReport:
    """Re-hash every manifest and part of ``store`` and check its pointer."""
    layout = store.layout
    problems: list[VerifyProblem] = []
    manifest_ids, manifests = _read_manifests(layout, problems)
    parts = _hash_parts(layout, problems)

    suspects = [
        (snapshot_id, ref)
        for snapshot_id, entry in manifests.items()
        if entry.manifest.status != "failed"
        for ref in entry.manifest.parts
        if ref.sha256 not in parts.present
    ]
    has_pointer = read_pointer_file(layout).pointer is not None
    if not has_pointer:
        store.read_pointer()  # recovers a damaged or lost pointer, under the mutex
    if suspects or has_pointer:
        with store._meta_mutex():  # briefly: existence checks and small reads, no hashing
            problems.extend(_missing_parts_locked(layout, suspects))
            if has_pointer:
                problems.extend(_check_pointer_locked(store, set(manifest_ids), manifests,
                                                      parts))
    recovered = store.take_recovery_flag()

    if store._index_out_of_step():
        with store._meta_mutex():
            if store._index_out_of_step():
                store._rebuild_index()
    return VerifyReport(
        snapshots=len(manifest_ids),
        parts=len(parts.files),
        problems=tuple(problems),
        pointer_recovered=recovered,
    )


def _read_manifests(
    layout: Layout, problems: list[VerifyProblem]
) -> tuple[list[str], dict[str, _Manifest]]:
    """Re-parse every listed manifest; return the listed ids and the good manifests."""
    for name in layout.stray_manifest_names():
        problems.append(VerifyProblem("manifest", name, "is not named <snapshot id>.json"))
    manifests: dict[str, _Manifest] = {}
    manifest_ids = sorted(layout.manifest_ids())
    for snapshot_id in manifest_ids:
        try:
            data = layout.manifest(snapshot_id).read_bytes()
            manifests[snapshot_id] = _Manifest(check_manifest_bytes(snapshot_id, data),
                                               sha256_hex(data))
        except FileNotFoundError:
            continue  # pruned while we looked
        except CorruptSnapshotError as exc:
            problems.append(VerifyProblem("manifest", snapshot_id, exc.message))
    return manifest_ids, manifests


def _hash_parts(layout: Layout, problems: list[VerifyProblem]) -> _Parts:
    """Re-hash every file under ``parts/``."""
    files = layout.part_files()
    gone: set[str] = set()
    good: set[str] = set()
    for stem, path in files:
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
            gone.add(stem)  # pruned while we looked
            continue
        except CorruptSnapshotError as exc:
            problems.append(VerifyProblem("part", stem, f"is damaged: {exc.message}"))
            continue
        if digest != stem:
            problems.append(VerifyProblem(
                "part", stem, f"content hashes to {digest}: the file was changed or damaged"))
            continue
        good.add(stem)
    present = frozenset(stem for stem, _path in files) - gone
    return _Parts(files=files, present=present, good=frozenset(good))


def _missing_parts_locked(
    layout: Layout, suspects: list[tuple[str, PartRef]]
) -> list[VerifyProblem]:
    """The suspects still missing now (call under the meta mutex, where no commit or prune
    is half done): the snapshot is still recorded and the part is still absent."""
    return [
        VerifyProblem("part", ref.sha256,
                      f"is missing; snapshot {snapshot_id} references it as {ref.name!r}")
        for snapshot_id, ref in suspects
        if layout.manifest(snapshot_id).exists() and not layout.part(ref.sha256).exists()
    ]


def _check_pointer_locked(
    store: FileStore, listed: set[str], manifests: dict[str, _Manifest], parts: _Parts
) -> list[VerifyProblem]:
    """Check the pointer as it is now (call under the meta mutex).

    A pointer that names a snapshot committed after the listing has its manifest read now;
    that snapshot's parts count as good if they re-hashed in the listing, or, when they were
    not listed yet, if they are present now (their content is checked by the next verify).
    """
    layout = store.layout
    pointer = read_pointer_file(layout).pointer
    if pointer is None:
        return []  # damaged or removed since it was read: the next read recovers it
    problems: list[VerifyProblem] = []
    entry = manifests.get(pointer.snapshot_id)
    if entry is None:
        entry = _reread_manifest(layout, pointer.snapshot_id, listed, problems)
    _repair_history_locked(store, pointer, entry.manifest.status if entry else "success")
    if entry is None:
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id,
            "names a snapshot whose manifest is missing or damaged"))
        return problems
    if entry.manifest.status == "failed":
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id, "names a failed snapshot"))
    if entry.sha256 != pointer.manifest_sha256:
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id,
            "records a manifest hash that does not match the stored manifest"))
    bad = [
        ref.sha256 for ref in entry.manifest.parts
        if ref.sha256 not in parts.good
        and (ref.sha256 in parts.present or not layout.part(ref.sha256).exists())
    ]
    if bad:
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id,
            f"names a snapshot with {len(bad)} missing or damaged part(s)"))
    return problems


def _reread_manifest(
    layout: Layout, snapshot_id: str, listed: set[str], problems: list[VerifyProblem]
) -> _Manifest | None:
    """Read the pointer's manifest from disk when the listing holds no good copy of it.

    The listing lacks it when it was committed after it was listed; a damaged one was reported
    when it was listed, and is reported here when it was not.
    """
    try:
        data = layout.manifest(snapshot_id).read_bytes()
        return _Manifest(check_manifest_bytes(snapshot_id, data), sha256_hex(data))
    except FileNotFoundError:
        return None
    except CorruptSnapshotError as exc:
        if snapshot_id not in listed:
            problems.append(VerifyProblem("manifest", snapshot_id, exc.message))
        return None


def _repair_history_locked(store: FileStore, pointer: Pointer, status: SnapshotStatus) -> None:
    """Add the pointer's last move to the history if a crash left it out (under the mutex)."""
    moves = [e.generation or 0 for e in store._history.items() if e.event == "pointer_moved"]
    if pointer.generation > max(moves, default=0):
        store._history.append(HistoryEntry(
            at=pointer.updated_at, event="pointer_moved", snapshot_id=pointer.snapshot_id,
            status=status, generation=pointer.generation))
        log.warning("history of %s lacked the pointer move to generation %d; added it",
                    store.layout.root, pointer.generation)
