"""``verify`` for the SQL store: re-hash everything, check the pointer against its history.

Every manifest row is re-parsed, its id recomputed from its bytes and their SHA-256 compared
with the one recorded beside them; every stored part is read back, decompressed and re-hashed
(a chunked part: its chunk list checked, each of its chunks against its SHA-256, the part
against its name); every committed chunk is re-hashed against its SHA-256 (those no part names
any more too, until a prune removes them); every part a recorded (not failed) snapshot
references must be stored; the pointer must name a verified good snapshot whose manifest hash
it records, and be the last pointer move of the history. A damaged or lost pointer row is
recovered first (``read_pointer``); a well-formed one that cannot stand (names a missing,
damaged or failed manifest, records the wrong manifest hash, or disagrees with the history's
last move) is recovered at the end to its rightful target, as the file store does, with a
warning, ``pointer_recovered=True`` and a problem saying what was done. Staged chunks of open
transactions are not data and are not looked at.

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
from snapkit_sql_store.chunks import damaged_chunks
from snapkit_sql_store.parts import PART_COLUMNS, PartRow, hash_part, part_row
from snapkit_sql_store.rows import check_manifest_bytes

if TYPE_CHECKING:
    from snapkit_sql_store.store import SqlStore

_PAGE = 200


def verify_store(store: SqlStore) -> VerifyReport:
    """Re-hash every manifest and part of ``store`` and check its pointer and history."""
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
            rows = db.all(
                "SELECT seq, snapshot_id, body, sha256, status FROM {p}manifests "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, _PAGE),
            )
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
                problems.append(
                    VerifyProblem(
                        "manifest", str(snapshot_id), "does not match the SHA-256 recorded with it"
                    )
                )
                continue
            if manifest.status != status:
                problems.append(
                    VerifyProblem(
                        "manifest", str(snapshot_id), f"is {manifest.status} but listed as {status}"
                    )
                )
            manifests[str(snapshot_id)] = (manifest, str(sha))

    with backend.read() as db:
        part_rows = [
            part_row(r) for r in db.all(f"SELECT {PART_COLUMNS} FROM {{p}}parts ORDER BY sha256")
        ]
    good: set[str] = set()
    present = {row.sha256 for row in part_rows}
    for row in part_rows:
        if _hashes(store, row, problems):
            good.add(row.sha256)
    problems.extend(
        VerifyProblem("chunk", sha256, what) for sha256, what in damaged_chunks(backend)
    )

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
        return (
            db.one(
                "SELECT 1 FROM {p}parts WHERE sha256 = ? AND blob_id = ?", (row.sha256, row.blob_id)
            )
            is None
        )


def _still_missing(store: SqlStore, suspects: list[tuple[str, PartRef]]) -> list[VerifyProblem]:
    """The suspects still missing now: the snapshot is still recorded, the part absent."""
    problems = []
    with store.backend.read() as db:
        for snapshot_id, ref in suspects:
            recorded = (
                db.one("SELECT 1 FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
                is not None
            )
            stored = db.one("SELECT 1 FROM {p}parts WHERE sha256 = ?", (ref.sha256,)) is not None
            if recorded and not stored:
                problems.append(
                    VerifyProblem(
                        "part",
                        ref.sha256,
                        f"is missing; snapshot {snapshot_id} references it as {ref.name!r}",
                    )
                )
    return problems


def _check_pointer(
    store: SqlStore, manifests: dict[str, tuple[SnapshotManifest, str]], good: set[str]
) -> list[VerifyProblem]:
    """Check the pointer as it is now; recover it if it cannot stand (as the file store does).

    A pointer that names a missing, damaged or failed manifest, records the wrong manifest
    hash, or disagrees with the history's last pointer move is recovered to its rightful
    target (see :meth:`SqlStore._recover`), and the problem says what was done. A pointer
    the history lacks the moves of gets its own move added (it was lost or set aside).
    """
    pointer = store._read_row().pointer
    if pointer is None:
        return []
    with store.backend.read() as db:
        reason = store._pointer_problem(db, pointer)
    if reason is not None:
        return [_recover(store, pointer, reason)]
    problems = _heal_history(store, pointer)
    entry = manifests.get(pointer.snapshot_id)
    if entry is None:  # committed after the listing
        with store.backend.read() as db:
            row = db.one(
                "SELECT body FROM {p}manifests WHERE snapshot_id = ?", (pointer.snapshot_id,)
            )
        if row is None:
            return problems
        try:
            entry = (check_manifest_bytes(pointer.snapshot_id, bytes(row[0])), "")
        except CorruptSnapshotError:
            return problems
    manifest, _sha = entry
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
        problems.append(
            VerifyProblem(
                "pointer",
                pointer.snapshot_id,
                f"names a snapshot with {bad} missing or damaged part(s); refresh to write "
                "them again",
            )
        )
    return problems


def _recover(store: SqlStore, pointer: Pointer, reason: str) -> VerifyProblem:
    """Recover the pointer and describe what was wrong and what was done."""
    recovered = store._recover(reason, expected=pointer, keep_if_none=True)
    if recovered is None:
        done = "no verified snapshot is left to recover to; refresh to write a good one"
    elif recovered == pointer:
        return VerifyProblem("pointer", pointer.snapshot_id, f"{reason}; it was repaired meanwhile")
    else:
        done = f"recovered it to snapshot {recovered.snapshot_id}, the last verified pointer target"
    return VerifyProblem("pointer", pointer.snapshot_id, f"{reason}; {done}")


def _heal_history(store: SqlStore, pointer: Pointer) -> list[VerifyProblem]:
    """Add the pointer's move to the history when the history stops before it.

    The pointer and its history row are written in one transaction, so this happens only
    when history rows were removed by hand: the moves lost are reported, and the current
    pointer's move is added back (so ``current~N`` and ``list`` can follow it again).
    """
    from snapkit.contracts import HistoryEntry
    from snapkit_sql_store.rows import append_history

    with store.backend.write(exclusive=True) as db:
        row = db.one("SELECT max(generation) FROM {p}history WHERE event = 'pointer_moved'")
        last = int(row[0]) if row and row[0] is not None else 0
        now = store._read_row_in(db).pointer
        if now != pointer or pointer.generation <= last:
            return []
        status = db.one(
            "SELECT status FROM {p}manifests WHERE snapshot_id = ?", (pointer.snapshot_id,)
        )
        append_history(
            db,
            HistoryEntry(
                at=pointer.updated_at,
                event="pointer_moved",
                snapshot_id=pointer.snapshot_id,
                status=str(status[0]) if status else "success",  # type: ignore[arg-type]
                generation=pointer.generation,
            ),
        )
    lost = (
        f"generation {last + 1}"
        if pointer.generation == last + 1
        else f"generations {last + 1}-{pointer.generation}"
    )
    return [
        VerifyProblem(
            "history",
            pointer.snapshot_id,
            f"lacks the pointer moves of {lost} (the pointer is at generation "
            f"{pointer.generation}): rows were removed; added the current pointer's move",
        )
    ]
