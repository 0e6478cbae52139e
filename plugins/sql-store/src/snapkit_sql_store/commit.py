"""A commit: one database transaction that records a snapshot and moves the pointer.

Before the transaction, the parts the manifest references that are stored already are re-hashed:
a damaged stored copy is replaced by the copy this transaction staged, or, without one, the
commit is refused (the pointer never names a part that does not verify). Then, in one
transaction: ``parts`` rows for the staged parts not stored yet, the manifest row (a damaged
stored copy replaced), the pointer moved with ``UPDATE ... WHERE generation = ?`` (or the first
one inserted) checked to change exactly one row, the history row, and the staged chunks nobody
needs deleted. On a conflict the snapshot stays recorded and :class:`PointerConflictError` is
raised after the transaction commits.

If the database reports an error at ``COMMIT``, the outcome is settled by reading the pointer
and the history again (:func:`_settle_unknown`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from snapkit import convert
from snapkit.canonical import sha256_hex
from snapkit.contracts import HistoryEntry, Pointer, SnapshotManifest, utc_now
from snapkit.errors import CorruptSnapshotError, PointerConflictError, StoreError
from snapkit.store import CommitResult, info_of
from snapkit_sql_store.backend import CommitOutcomeUnknown, Db
from snapkit_sql_store.chunks import CHUNKED, claim_chunks
from snapkit_sql_store.parts import PART_COLUMNS, PartRow, hash_part, release_blobs
from snapkit_sql_store.rows import (
    INFO_COLUMNS,
    append_history,
    check_manifest_bytes,
    micros,
)

if TYPE_CHECKING:
    from snapkit_sql_store.store import SqlStore

log = logging.getLogger(__name__)


def commit_staged(
    store: SqlStore,
    staged: dict[str, PartRow],
    blob_ids: list[int],
    manifest: SnapshotManifest,
    *,
    move_pointer: bool,
    expected_generation: int | None,
) -> CommitResult:
    """Record ``manifest`` with its staged parts and move the pointer if asked (see the
    module docstring). Called by :class:`SqlTransaction`."""
    failed = manifest.status == "failed"
    moving = move_pointer and not failed
    refs = {} if failed else {ref.sha256: ref for ref in manifest.parts}
    replace = _damaged_stored_copies(store, refs, staged)
    body = convert.dumps(manifest)
    snapshot_id = manifest.id
    conflict: PointerConflictError | None = None
    pointer: Pointer | None = None
    started = utc_now()
    try:
        with store.backend.write() as db:
            used = _install_parts(db, refs, staged, replace)
            stored_sha = _install_manifest(store, db, manifest, body)
            if moving:
                try:
                    pointer = _swap_pointer(store, db, snapshot_id, stored_sha, expected_generation)
                except PointerConflictError as exc:
                    conflict = exc
                    append_history(
                        db,
                        HistoryEntry(
                            at=utc_now(),
                            event="snapshot_recorded",
                            snapshot_id=snapshot_id,
                            status=manifest.status,
                        ),
                    )
                else:
                    append_history(
                        db,
                        HistoryEntry(
                            at=pointer.updated_at,
                            event="pointer_moved",
                            snapshot_id=snapshot_id,
                            status=manifest.status,
                            generation=pointer.generation,
                            errors=manifest.errors,
                        ),
                    )
            else:
                event: Literal["refresh_failed", "snapshot_recorded"] = (
                    "refresh_failed" if failed else "snapshot_recorded"
                )
                append_history(
                    db,
                    HistoryEntry(
                        at=utc_now(),
                        event=event,
                        snapshot_id=snapshot_id,
                        status=manifest.status,
                        errors=manifest.errors,
                    ),
                )
            release_blobs(db, blob_ids, used)
    except CommitOutcomeUnknown as exc:
        return _settle_unknown(store, exc, manifest, moving, expected_generation, started)
    if conflict is not None:
        raise conflict
    if pointer is not None:
        log.info("snapshot %s is now current (generation %d)", snapshot_id, pointer.generation)
    return CommitResult(snapshot_id=snapshot_id, pointer=pointer)


def _damaged_stored_copies(
    store: SqlStore, refs: dict[str, Any], staged: dict[str, PartRow]
) -> dict[str, int]:
    """Re-hash the parts the manifest references that are stored already.

    :returns: part hash -> blob id of each damaged stored copy this transaction staged a
        good copy of (the commit replaces them).
    :raises StoreError: if a stored copy is damaged and this transaction has no other.
    """
    replace: dict[str, int] = {}
    if not refs:
        return replace
    rows = store._part_rows(list(refs))
    for sha, row in rows.items():
        try:
            hash_part(store.backend, row)
        except CorruptSnapshotError as exc:
            if sha not in staged:
                raise StoreError(
                    f"snapshot part {refs[sha].name!r} ({sha}) is stored damaged and was "
                    "not written in this transaction",
                    hint="the pointer did not move; refresh again so the part is written "
                    "anew (`snapkit snapshots verify` lists the damage)",
                ) from exc
            log.warning(
                "stored part %s is damaged (%s); replacing it with the copy this commit wrote",
                sha,
                exc.message,
            )
            replace[sha] = row.blob_id
    return replace


def _install_parts(
    db: Db, refs: dict[str, Any], staged: dict[str, PartRow], replace: dict[str, int]
) -> set[int]:
    """Insert a ``parts`` row for each referenced staged part not stored yet.

    :returns: the blob ids now named by a part (the others are deleted by the commit).
    """
    used: set[int] = set()
    stored_at = utc_now()
    for sha, ref in refs.items():
        old = replace.get(sha)
        if old is not None:
            db.execute("DELETE FROM {p}parts WHERE sha256 = ? AND blob_id = ?", (sha, old))
            db.execute("DELETE FROM {p}part_chunks WHERE blob_id = ?", (old,))
        part = staged.get(sha)
        if part is not None:
            inserted = db.execute(
                f"INSERT INTO {{p}}parts ({PART_COLUMNS}, stored_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                (
                    sha,
                    part.blob_id,
                    part.codec,
                    part.size,
                    part.stored_bytes,
                    part.chunks,
                    stored_at,
                ),
            )
            if inserted == 1:
                if part.codec == CHUNKED:
                    claim_chunks(db, sha, part.runs)
                used.add(part.blob_id)
                continue
        if db.one("SELECT 1 FROM {p}parts WHERE sha256 = ?", (sha,)) is None:
            raise StoreError(
                f"snapshot part {ref.name!r} ({sha}) was not written in this transaction "
                "and is not in the store",
                hint="write every part through txn.part_writer() before commit",
            )
    return used


def _install_manifest(store: SqlStore, db: Db, manifest: SnapshotManifest, body: bytes) -> str:
    """Insert the manifest row unless a good copy is there; return the stored SHA-256.

    The same content gives the same id: the first capture time stands. A damaged stored
    copy is replaced by this one.
    """
    snapshot_id = manifest.id
    sha = sha256_hex(body)
    info = info_of(manifest, len(body))
    columns = f"{INFO_COLUMNS}, body, sha256, size, created_us"
    values = (
        info.id,
        info.created_at,
        info.status,
        info.schema_version,
        info.calculation_version,
        info.namespace,
        info.scope_id,
        info.size_bytes,
        info.error_count,
        info.part_count,
        info.record_count,
        body,
        sha,
        len(body),
        micros(info.created_at),
    )
    insert = (
        f"INSERT INTO {{p}}manifests ({columns}) VALUES "
        f"({', '.join('?' * len(values))}) ON CONFLICT (snapshot_id) DO NOTHING"
    )
    stored_sha = sha
    if db.execute(insert, values) != 1:
        row = db.one("SELECT body, sha256 FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
        assert row is not None
        try:
            check_manifest_bytes(snapshot_id, bytes(row[0]))
            if sha256_hex(bytes(row[0])) != row[1]:
                raise CorruptSnapshotError("its recorded SHA-256 does not match its bytes")
            stored_sha = str(row[1])
        except CorruptSnapshotError:
            log.warning("stored manifest of %s is damaged; replacing it", snapshot_id)
            db.execute("DELETE FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
            db.execute(insert, values)
            store._forget(snapshot_id)
    for sha256 in {ref.sha256 for ref in manifest.parts}:
        db.execute(
            "INSERT INTO {p}snapshot_parts (snapshot_id, sha256) VALUES (?, ?) "
            "ON CONFLICT (snapshot_id, sha256) DO NOTHING",
            (snapshot_id, sha256),
        )
    return stored_sha


def _swap_pointer(
    store: SqlStore, db: Db, snapshot_id: str, manifest_sha: str, expected_generation: int | None
) -> Pointer:
    """Compare-and-swap the pointer inside the commit's transaction.

    :raises PointerConflictError: if the generation is not ``expected_generation``.
    """
    expected = expected_generation
    if expected is None:
        row = db.one(f"SELECT generation FROM {{p}}pointer WHERE id = 1{store.backend.for_update}")
        expected = int(row[0]) if row else 0
    pointer = Pointer(
        snapshot_id=snapshot_id,
        manifest_sha256=manifest_sha,
        generation=expected + 1,
        updated_at=utc_now(),
    )
    if expected == 0:
        changed = db.execute(
            "INSERT INTO {p}pointer (id, snapshot_id, manifest_sha256, generation, "
            "updated_at) VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (snapshot_id, manifest_sha, pointer.generation, pointer.updated_at),
        )
    else:
        changed = db.execute(
            "UPDATE {p}pointer SET snapshot_id = ?, manifest_sha256 = ?, generation = ?, "
            "updated_at = ? WHERE id = 1 AND generation = ?",
            (snapshot_id, manifest_sha, pointer.generation, pointer.updated_at, expected),
        )
    if changed != 1:
        row = db.one("SELECT generation FROM {p}pointer WHERE id = 1")
        now = int(row[0]) if row else 0
        raise PointerConflictError(
            f"the current pointer is at generation {now}, not {expected}: another commit "
            "moved it since it was read",
            hint="the snapshot is recorded; re-read the pointer and refresh again if needed",
        )
    return pointer


def _settle_unknown(
    store: SqlStore,
    exc: CommitOutcomeUnknown,
    manifest: SnapshotManifest,
    moving: bool,
    expected_generation: int | None,
    started: str,
) -> CommitResult:
    """Decide a commit whose ``COMMIT`` got no answer, from what the store holds now.

    The pointer naming the snapshot (at the expected generation) settles it; so does a
    history row moving the pointer to it (at that generation, or, without one, since the
    commit started), when another commit has moved the pointer on since.
    """
    snapshot_id = manifest.id
    log.warning(
        "the commit of snapshot %s got no answer (%s); reading the store again", snapshot_id, exc
    )
    try:
        if moving:
            pointer = store._read_row().pointer
            if (
                pointer is not None
                and pointer.snapshot_id == snapshot_id
                and (expected_generation is None or pointer.generation == expected_generation + 1)
            ):
                log.warning(
                    "the pointer names snapshot %s: counting the commit as done", snapshot_id
                )
                return CommitResult(snapshot_id=snapshot_id, pointer=pointer)
            moved = _history_move(store, snapshot_id, expected_generation, started)
            if moved is not None:
                log.warning(
                    "the history moved the pointer to snapshot %s (since moved "
                    "on): counting the commit as done",
                    snapshot_id,
                )
                return CommitResult(snapshot_id=snapshot_id, pointer=moved)
        elif store._manifest_sha(snapshot_id) is not None:
            log.warning("snapshot %s is recorded: counting the commit as done", snapshot_id)
            return CommitResult(snapshot_id=snapshot_id, pointer=None)
    except StoreError as again:
        raise StoreError(
            f"the commit of snapshot {snapshot_id} to {store.location} got no answer "
            f"({exc}) and the store cannot be read now ({again.message})",
            hint="when the database is back, `snapkit snapshots current` shows whether it "
            "is current; refresh again if not",
        ) from exc
    raise StoreError(
        f"the commit of snapshot {snapshot_id} to {store.location} did not happen ({exc})",
        hint="the pointer did not move; refresh again",
    ) from exc


def _history_move(
    store: SqlStore, snapshot_id: str, expected_generation: int | None, started: str
) -> Pointer | None:
    """The pointer move to ``snapshot_id`` this commit made, if the history has it."""
    sql = (
        "SELECT h.at, m.sha256, h.generation FROM {p}history h JOIN {p}manifests m "
        "ON m.snapshot_id = h.snapshot_id WHERE h.event = 'pointer_moved' "
        "AND h.snapshot_id = ? "
    )
    if expected_generation is not None:
        sql += "AND h.generation = ?"
        params: tuple[Any, ...] = (snapshot_id, expected_generation + 1)
    else:
        sql += "AND h.at_us >= ? ORDER BY h.generation DESC LIMIT 1"
        params = (snapshot_id, micros(started))
    with store.backend.read() as db:
        row = db.one(sql, params)
    if row is None:
        return None
    return Pointer(
        snapshot_id=snapshot_id,
        manifest_sha256=str(row[1]),
        generation=int(row[2]),
        updated_at=str(row[0]),
    )
