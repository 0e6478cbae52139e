"""``verify`` for the SQL store: re-hash everything, check the pointer against its history.

Every manifest row is re-parsed, its id recomputed from its bytes and their SHA-256 compared
with the one recorded beside them; every stored part is read back chunk by chunk, decompressed
and re-hashed; every part a recorded (not failed) snapshot references must be stored; the
pointer must name a verified good snapshot whose manifest hash it records, and be the last
pointer move of the history. A damaged or lost pointer is recovered first (``read_pointer``),
with a warning and ``pointer_recovered=True``. Staged chunks of open transactions are not data
and are not looked at.

Nothing is locked while hashing: commits and prunes go on. A part found missing is reported only
if, looked at again, its snapshot is still recorded and the part still absent (a prune removes
both); the pointer is read at the end, and a snapshot committed after the listing is checked
then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snapkit.canonical import sha256_hex
from snapkit.contracts import PartRef, Pointer, SnapshotManifest
from snapkit.errors import CorruptSnapshotError
from snapkit.store import VerifyProblem, VerifyReport
from snapkit_sql_store.parts import PART_COLUMNS, PartRow, hash_part, part_row

if TYPE_CHECKING:
    from snapkit_sql_store.store import SqlStore

_PAGE = 200


def verify_store(store: SqlStore) -> VerifyReport:
    """Re-hash every manifest and part of ``store`` and check its pointer and history."""
    from snapkit_sql_store.rows import check_manifest_bytes

    if not store.exists():
        return VerifyReport(snapshots=0, parts=0)
    store.read_pointer()  # recovers a damaged or lost pointer (and says so in the report)
    backend = store.backend
    problems: list[VerifyProblem] = []

    manifests: dict[str, tuple[SnapshotManifest, str]] = {}
    listed = 0
    last = -1
    while True:
        with backend.read() as db:
            rows = db.all("SELECT seq, snapshot_id, body, sha256, status FROM {p}manifests "
                          "WHERE seq > ? ORDER BY seq LIMIT ?", (last, _PAGE))
        if not rows:
            break
        for seq, snapshot_id, body, sha, status in rows:
            last = int(seq)
            listed += 1
            data = bytes(body)
            try:
                manifest = check_manifest_bytes(str(snapshot_id), data)
            except CorruptSnapshotError as exc:
                problems.append(VerifyProblem("manifest", str(snapshot_id), exc.message))
                continue
            if sha256_hex(data) != sha:
                problems.append(VerifyProblem("manifest", str(snapshot_id),
                                              "does not match the SHA-256 recorded with it"))
                continue
            if manifest.status != status:
                problems.append(VerifyProblem(
                    "manifest", str(snapshot_id),
                    f"is {manifest.status} but listed as {status}"))
            manifests[str(snapshot_id)] = (manifest, str(sha))

    with backend.read() as db:
        part_rows = [part_row(r) for r in db.all(f"SELECT {PART_COLUMNS} FROM {{p}}parts "
                                                   "ORDER BY sha256")]
    good: set[str] = set()
    present = {row.sha256 for row in part_rows}
    for row in part_rows:
        if _hashes(store, row, problems):
            good.add(row.sha256)

    suspects = [
        (snapshot_id, ref)
        for snapshot_id, (manifest, _sha) in manifests.items()
        if manifest.status != "failed"
        for ref in manifest.parts
        if ref.sha256 not in present
    ]
    problems.extend(_still_missing(store, suspects))
    problems.extend(_check_pointer(store, manifests, good))
    return VerifyReport(
        snapshots=listed,
        parts=len(part_rows),
        problems=tuple(problems),
        pointer_recovered=store.take_recovery_flag(),
    )


def _hashes(store: SqlStore, row: PartRow, problems: list[VerifyProblem]) -> bool:
    try:
        hash_part(store.backend, row)
    except CorruptSnapshotError as exc:
        if _part_gone(store, row):
            return False  # pruned while we read it
        problems.append(VerifyProblem("part", row.sha256, f"is damaged: {exc.message}"))
        return False
    return True


def _part_gone(store: SqlStore, row: PartRow) -> bool:
    with store.backend.read() as db:
        return db.one("SELECT 1 FROM {p}parts WHERE sha256 = ? AND blob_id = ?",
                      (row.sha256, row.blob_id)) is None


def _still_missing(store: SqlStore, suspects: list[tuple[str, PartRef]]) -> list[VerifyProblem]:
    """The suspects still missing now: the snapshot is still recorded, the part absent."""
    problems = []
    with store.backend.read() as db:
        for snapshot_id, ref in suspects:
            recorded = db.one("SELECT 1 FROM {p}manifests WHERE snapshot_id = ?",
                              (snapshot_id,)) is not None
            stored = db.one("SELECT 1 FROM {p}parts WHERE sha256 = ?",
                            (ref.sha256,)) is not None
            if recorded and not stored:
                problems.append(VerifyProblem(
                    "part", ref.sha256,
                    f"is missing; snapshot {snapshot_id} references it as {ref.name!r}"))
    return problems


def _check_pointer(
    store: SqlStore, manifests: dict[str, tuple[SnapshotManifest, str]], good: set[str]
) -> list[VerifyProblem]:
    """Check the pointer as it is now, and the history's last move against it."""
    from snapkit_sql_store.rows import check_manifest_bytes

    pointer = store._read_row().pointer
    if pointer is None:
        return []
    problems: list[VerifyProblem] = []
    problems.extend(_check_history(store, pointer))
    entry = manifests.get(pointer.snapshot_id)
    if entry is None:  # committed after the listing, or damaged / missing
        with store.backend.read() as db:
            row = db.one("SELECT body, sha256 FROM {p}manifests WHERE snapshot_id = ?",
                         (pointer.snapshot_id,))
        if row is not None:
            try:
                entry = (check_manifest_bytes(pointer.snapshot_id, bytes(row[0])), str(row[1]))
            except CorruptSnapshotError:
                entry = None
    if entry is None:
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id, "names a snapshot whose manifest is missing or "
            "damaged"))
        return problems
    manifest, sha = entry
    if manifest.status == "failed":
        problems.append(VerifyProblem("pointer", pointer.snapshot_id, "names a failed snapshot"))
    if sha != pointer.manifest_sha256:
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id,
            "records a manifest hash that does not match the stored manifest"))
    unchecked = [ref.sha256 for ref in manifest.parts if ref.sha256 not in good]
    rows = store._part_rows(unchecked)
    bad = 0
    for sha256 in unchecked:
        part = rows.get(sha256)
        if part is None:
            bad += 1
            continue
        try:
            hash_part(store.backend, part)
        except CorruptSnapshotError:
            bad += 1
    if bad:
        problems.append(VerifyProblem(
            "pointer", pointer.snapshot_id,
            f"names a snapshot with {bad} missing or damaged part(s)"))
    return problems


def _check_history(store: SqlStore, pointer: Pointer) -> list[VerifyProblem]:
    """The history's newest pointer move must be the pointer itself."""
    with store.backend.read() as db:
        row = db.one("SELECT snapshot_id, generation FROM {p}history WHERE event = "
                     "'pointer_moved' ORDER BY generation DESC LIMIT 1")
    if row is None:
        return [VerifyProblem("history", pointer.snapshot_id,
                              "has no pointer move, yet the pointer names this snapshot")]
    snapshot_id, generation = str(row[0]), int(row[1])
    if generation < pointer.generation:
        return [VerifyProblem(
            "history", pointer.snapshot_id,
            f"ends at generation {generation}, behind the pointer's {pointer.generation}")]
    if generation == pointer.generation and snapshot_id != pointer.snapshot_id:
        return [VerifyProblem(
            "history", pointer.snapshot_id,
            f"moved generation {generation} to {snapshot_id}, not to the pointer's snapshot")]
    return []  # a newer move is a commit that landed after the pointer was read
