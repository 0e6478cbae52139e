"""The SQL store: snapshots in insert-only tables, the pointer moved by compare-and-swap.

One class serves SQLite and PostgreSQL; a :class:`snapkit_sql_store.backend.Backend` supplies
the connections and the dialect. Commits live in :mod:`snapkit_sql_store.commit`, rows and
their checks in :mod:`snapkit_sql_store.rows`. Opening a store and reading it create nothing:
a database without the store's tables reads as an empty store. The first write (a
transaction, the lease, a commit) creates and migrates them.

A commit is one database transaction: it installs the staged parts it references, records the
manifest, moves the pointer with ``UPDATE ... WHERE generation = ?`` (or inserts the first
one) checked to change exactly one row, and appends the history, all or nothing. If the
database reports an error at ``COMMIT`` (the answer lost with the connection), the store reads
the pointer and the history again and counts the commit as done when they name its snapshot.
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO

from snapkit.canonical import sha256_hex
from snapkit.chunking import CHUNK_TARGET, MIN_CHUNK_TARGET
from snapkit.contracts import (
    HistoryEntry,
    Pointer,
    SnapshotInfo,
    SnapshotManifest,
    parse_time,
    utc_now,
)
from snapkit.errors import (
    AmbiguousSnapshotIdError,
    CorruptSnapshotError,
    SnapshotNotFoundError,
    StoreError,
)
from snapkit.identifiers import check_id_prefix
from snapkit.store import (
    ChunkTable,
    CommitResult,
    ListFilter,
    LockInfo,
    PartOpener,
    PruneReport,
    RetentionPolicy,
    VerifyReport,
)
from snapkit_sql_store.backend import Backend, Db, host_name, pid_alive
from snapkit_sql_store.chunks import (
    CHUNKED,
    Resolved,
    chunked_blocks,
    chunked_ranges,
    iter_chunk_data,
    resolve,
)
from snapkit_sql_store.lease import SqlLease, read_lease, stale_reason
from snapkit_sql_store.parts import (
    PART_COLUMNS,
    BlockStream,
    PartRow,
    discard_blobs,
    hash_part,
    iter_blocks,
    part_row,
)
from snapkit_sql_store.rows import (
    INFO_COLUMNS,
    LoadedManifest,
    PointerRead,
    append_history,
    check_manifest_bytes,
    check_part_hash,
    history_entry,
    info_row,
    micros,
    pointer_of,
    with_became_current,
)
from snapkit_sql_store.schema import LATEST

log = logging.getLogger(__name__)

DEFAULT_COMPRESSION_LEVEL = 3
DEFAULT_UPLOAD_GRACE = 3600.0
_CACHE_SIZE = 256
_RESOLVED_SIZE = 4
"""Resolved chunk lists a store handle keeps (about 70 bytes a chunk)."""


class SqlStore:
    """A snapshot store in a SQL database (docs/stores.md).

    :param backend: the database (:class:`SqliteBackend` or :class:`PostgresBackend`).
    :param compression_level: zstd level for parts (1-22), or 0 to store them plain.
    :param upload_grace: seconds after which staged parts of a writer on another host (or a
        live one here) are removed by the next transaction when no live lease holds them;
        those of a dead process on this host go at once.
    :param chunk_size: plain bytes a chunk of a chunked part averages (at least
        :data:`~snapkit.chunking.MIN_CHUNK_TARGET`; :data:`~snapkit.chunking.CHUNK_TARGET` is
        the measured choice); ``0``, the default, stores every part whole: in a SQL store a
        chunk costs a row and an index entry, which makes reads and commits several times
        slower (docs/stores.md). Both are read.
    :raises StoreError: if ``chunk_size`` is neither 0 nor at least ``MIN_CHUNK_TARGET``.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        upload_grace: float = DEFAULT_UPLOAD_GRACE,
        chunk_size: int = 0,
    ) -> None:
        if chunk_size and chunk_size < MIN_CHUNK_TARGET:
            raise StoreError(
                f"chunk_size {chunk_size} of the SQL store is too small",
                hint=f"use 0 (whole parts) or {MIN_CHUNK_TARGET} bytes or more "
                f"({CHUNK_TARGET} is the measured choice)",
            )
        self.backend = backend
        self.key = backend.dialect
        self.compression_level = compression_level
        self.upload_grace = upload_grace
        self.chunk_size = chunk_size
        self._resolved: OrderedDict[tuple[str, int], Resolved] = OrderedDict()
        self._created = False
        self._cache: OrderedDict[str, LoadedManifest] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._current: tuple[Pointer, SnapshotManifest] | None = None
        self._history: tuple[int, tuple[HistoryEntry, ...]] = (0, ())
        self._recovered_unreported = False
        self.last_recovery: str | None = None
        """What the last recovery of the pointer by this handle found and did (for messages)."""

    def __repr__(self) -> str:
        return f"SqlStore({self.key}, {self.location!r})"

    def close(self) -> None:
        """Release this handle's connections (they reopen if the store is used again)."""
        self.backend.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- where the store is, and creating it --------------------------------------------------

    @property
    def location(self) -> str:
        """Where the store lives, for messages (:class:`snapkit.store.StoreLocation`)."""
        return self.backend.location

    def exists(self) -> bool:
        """Whether the store's tables exist (``False`` until the first write creates them)."""
        if self._created:
            return True
        return self._readable()

    def _readable(self) -> bool:
        """Whether there is anything to read (the tables exist, at the current version)."""
        if self._created:
            return True
        version = self.backend.schema_version()
        if version is None:
            return False
        if version < LATEST:
            self._create()  # an older schema: migrate it forward (the store's own job)
        self._created = True
        return True

    def _create(self) -> None:
        """Create and migrate the store's tables if needed (every write calls it first)."""
        if not self._created:
            self.backend.create()
            self._created = True

    # -- writing -----------------------------------------------------------------------------

    def begin(self) -> Any:
        """Start a transaction for one refresh (creates the store if it does not exist yet).

        Staged parts that dead writers left behind are removed first.
        """
        from snapkit_sql_store.transaction import SqlTransaction

        self._create()
        self._clean_uploads()
        return SqlTransaction(self)

    def _clean_uploads(self) -> None:
        """Remove uploads of dead processes on this host, and old ones no live lease holds."""
        with self.backend.read() as db:
            rows = db.all("SELECT blob_id, host, pid, started_at FROM {p}uploads")
        if not rows:
            return
        now = _dt.datetime.now(_dt.UTC)
        me = host_name()
        lease = read_lease(self.backend)
        live_lease = lease is not None and stale_reason(lease, self.upload_grace, now) is None
        doomed: list[int] = []
        for blob_id, host, pid, started_at in rows:
            dead = host == me and not pid_alive(int(pid))
            try:
                old = (now - parse_time(str(started_at))).total_seconds() > self.upload_grace
            except ValueError:
                old = True
            if dead or (old and not live_lease):
                doomed.append(int(blob_id))
        if doomed:
            log.info("removing %d staged part(s) left by writers that are gone", len(doomed))
            discard_blobs(self.backend, doomed)

    def _commit_staged(
        self,
        staged: dict[str, PartRow],
        blob_ids: list[int],
        manifest: SnapshotManifest,
        *,
        move_pointer: bool,
        expected_generation: int | None,
    ) -> CommitResult:
        """Record ``manifest`` with its staged parts and move the pointer if asked (see
        :mod:`snapkit_sql_store.commit`). Called by :class:`SqlTransaction`."""
        from snapkit_sql_store.commit import commit_staged

        return commit_staged(
            self,
            staged,
            blob_ids,
            manifest,
            move_pointer=move_pointer,
            expected_generation=expected_generation,
        )

    # -- the pointer and its recovery --------------------------------------------------------

    def _read_row(self) -> PointerRead:
        with self.backend.read() as db:
            return self._read_row_in(db)

    @staticmethod
    def _read_row_in(db: Db) -> PointerRead:
        return pointer_of(
            db.one(
                "SELECT snapshot_id, manifest_sha256, generation, updated_at "
                "FROM {p}pointer WHERE id = 1"
            )
        )

    def read_pointer(self) -> Pointer | None:
        """Return the current pointer, recovering a damaged or missing one; ``None`` if none."""
        if not self._readable():
            return None
        read = self._read_row()
        if read.pointer is not None:
            return read.pointer
        if read.damage is None and not self._pointer_expected():
            return None
        return self._recover(
            read.damage or "the pointer row is missing although the history moved it"
        )

    def _pointer_expected(self) -> bool:
        with self.backend.read() as db:
            return (
                db.one("SELECT 1 FROM {p}history WHERE event = 'pointer_moved' LIMIT 1") is not None
            )

    def _recover(
        self, reason: str, *, expected: Pointer | None = None, keep_if_none: bool = False
    ) -> Pointer | None:
        """Point at the pointer's rightful target; record and log the recovery.

        The rightful target is the snapshot of the last pointer move in the history whose
        manifest and parts verify, else the newest verified good snapshot (as in the file
        store). Without ``expected``, only a damaged or missing pointer row is replaced; with
        it, a well-formed row equal to ``expected`` is replaced too if it still cannot stand
        (:meth:`_pointer_problem`, checked again under the exclusive transaction, so a commit
        that moved it meanwhile wins). With no verified snapshot left the row is removed,
        unless ``keep_if_none``: then it is left as it is and ``None`` returned (a well-formed
        pointer whose target is damaged keeps naming it, so reads fail loudly until a refresh
        writes it again).
        """
        with self.backend.write(exclusive=True) as db:
            read = pointer_of(
                db.one(
                    "SELECT snapshot_id, manifest_sha256, generation, "
                    "updated_at FROM {p}pointer WHERE id = 1"
                )
            )
            if read.pointer is not None:
                if expected is None or read.pointer != expected:
                    return read.pointer
                now = self._pointer_problem(db, read.pointer)
                if now is None:
                    return read.pointer
                reason = now
            elif (
                read.damage is None
                and db.one("SELECT 1 FROM {p}history WHERE event = 'pointer_moved' LIMIT 1") is None
            ):
                return None
            candidates: list[str] = []
            for (snapshot_id,) in db.all(
                "SELECT snapshot_id FROM {p}history WHERE event = 'pointer_moved' ORDER BY seq DESC"
            ):
                if snapshot_id not in candidates:
                    candidates.append(str(snapshot_id))
            for (snapshot_id,) in db.all(
                "SELECT snapshot_id FROM {p}manifests WHERE status = "
                "'success' ORDER BY created_us DESC, seq DESC"
            ):
                if snapshot_id not in candidates:
                    candidates.append(str(snapshot_id))
            row = db.one("SELECT max(generation) FROM {p}history")
            last = int(row[0]) if row and row[0] is not None else 0
            for snapshot_id in candidates:
                loaded = self._verified(db, snapshot_id)
                if loaded is None:
                    continue
                pointer = Pointer(
                    snapshot_id=snapshot_id,
                    manifest_sha256=loaded.sha256,
                    generation=last + 1,
                    updated_at=utc_now(),
                )
                db.execute("DELETE FROM {p}pointer WHERE id = 1")
                db.execute(
                    "INSERT INTO {p}pointer (id, snapshot_id, manifest_sha256, "
                    "generation, updated_at) VALUES (1, ?, ?, ?, ?)",
                    (snapshot_id, loaded.sha256, pointer.generation, pointer.updated_at),
                )
                append_history(
                    db,
                    HistoryEntry(
                        at=pointer.updated_at,
                        event="pointer_moved",
                        snapshot_id=snapshot_id,
                        status=loaded.manifest.status,
                        generation=pointer.generation,
                    ),
                )
                self._recovered_unreported = True
                self.last_recovery = (
                    f"the current pointer was unusable ({reason}); recovered it to snapshot "
                    f"{snapshot_id}, the last verified pointer target"
                )
                log.warning(
                    "current pointer of %s was unusable (%s); recovered it to snapshot "
                    "%s, the last verified pointer target",
                    self.location,
                    reason,
                    snapshot_id,
                )
                return pointer
            if keep_if_none and read.pointer is not None:
                return None
            db.execute("DELETE FROM {p}pointer WHERE id = 1")
        self._recovered_unreported = True
        self.last_recovery = (
            f"the current pointer was unusable ({reason}) and no verified "
            "snapshot is left; it was removed"
        )
        log.warning(
            "current pointer of %s was unusable (%s) and no verified snapshot is left; "
            "the store has no current snapshot until the next refresh",
            self.location,
            reason,
        )
        return None

    def _pointer_problem(self, db: Db, pointer: Pointer) -> str | None:
        """Why a well-formed pointer cannot stand, or ``None``: it must name a good manifest
        that verifies and whose hash it records, and be the history's last pointer move."""
        what = f"it names snapshot {pointer.snapshot_id}"
        row = db.one(
            "SELECT body, sha256 FROM {p}manifests WHERE snapshot_id = ?", (pointer.snapshot_id,)
        )
        if row is None:
            return f"{what}, whose manifest is missing"
        body = bytes(row[0])
        try:
            manifest = check_manifest_bytes(pointer.snapshot_id, body)
        except CorruptSnapshotError:
            return f"{what}, whose manifest is damaged"
        if sha256_hex(body) != row[1] or row[1] != pointer.manifest_sha256:
            return f"{what} with a manifest hash that does not match the stored manifest"
        if manifest.status == "failed":
            return f"{what}, a failed snapshot"
        last = db.one(
            "SELECT snapshot_id, generation FROM {p}history WHERE event = "
            "'pointer_moved' ORDER BY seq DESC LIMIT 1"
        )
        if (
            last is not None
            and last[1] is not None
            and int(last[1]) >= pointer.generation
            and (str(last[0]), int(last[1])) != (pointer.snapshot_id, pointer.generation)
        ):
            return (
                f"it names generation {pointer.generation}, but the history's last "
                f"pointer move is to snapshot {last[0]} at generation {last[1]}: the "
                "pointer row was moved back or replaced"
            )
        return None

    def _verified(self, db: Db, snapshot_id: str) -> LoadedManifest | None:
        """The manifest, if it and every part it references re-hash correctly and it is good."""
        row = db.one("SELECT body, sha256 FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
        if row is None:
            return None
        body = bytes(row[0])
        try:
            manifest = check_manifest_bytes(snapshot_id, body)
        except CorruptSnapshotError:
            return None
        if manifest.status == "failed" or sha256_hex(body) != row[1]:
            return None
        for ref in manifest.parts:
            part = db.one(f"SELECT {PART_COLUMNS} FROM {{p}}parts WHERE sha256 = ?", (ref.sha256,))
            if part is None:
                return None
            try:
                hash_part(self.backend, part_row(part))
            except CorruptSnapshotError:
                return None
        return LoadedManifest(manifest, str(row[1]), len(body))

    def take_recovery_flag(self) -> bool:
        """Return whether this handle recovered the pointer since last asked, and reset it."""
        flag, self._recovered_unreported = self._recovered_unreported, False
        return flag

    # -- reading -----------------------------------------------------------------------------

    def _forget(self, snapshot_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(snapshot_id, None)

    def _manifest_sha(self, snapshot_id: str) -> str | None:
        with self.backend.read() as db:
            row = db.one("SELECT sha256 FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
        return None if row is None else str(row[0])

    def _load(self, snapshot_id: str) -> LoadedManifest:
        """Load and check the manifest of a full snapshot id (cached by its stored hash).

        :raises SnapshotNotFoundError: if there is no such manifest.
        :raises CorruptSnapshotError: if it does not parse or does not hash to its id.
        """
        sha = self._manifest_sha(snapshot_id) if self._readable() else None
        if sha is None:
            raise SnapshotNotFoundError(
                f"no snapshot {snapshot_id} in the store at {self.location}",
                hint="list snapshots with `snapkit snapshots list`",
            )
        with self._cache_lock:
            cached = self._cache.get(snapshot_id)
            if cached is not None and cached.sha256 == sha:
                self._cache.move_to_end(snapshot_id)
                return cached
        with self.backend.read() as db:
            row = db.one(
                "SELECT body, sha256 FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,)
            )
        if row is None:
            raise SnapshotNotFoundError(
                f"no snapshot {snapshot_id} in the store at {self.location}",
                hint="list snapshots with `snapkit snapshots list`",
            )
        body = bytes(row[0])
        manifest = check_manifest_bytes(snapshot_id, body)
        if sha256_hex(body) != row[1]:
            raise CorruptSnapshotError(
                f"manifest of snapshot {snapshot_id} does not match the SHA-256 recorded with it",
                hint="run `snapkit snapshots verify` and refresh to write a good snapshot",
            )
        loaded = LoadedManifest(manifest, str(row[1]), len(body))
        with self._cache_lock:
            self._cache[snapshot_id] = loaded
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return loaded

    def _resolve(self, ref: str) -> str:
        check_id_prefix(ref)
        matches: list[str] = []
        if self._readable():
            with self.backend.read() as db:
                if len(ref) == 64:
                    rows = db.all(
                        "SELECT snapshot_id FROM {p}manifests WHERE snapshot_id = ?", (ref,)
                    )
                else:
                    rows = db.all(
                        "SELECT snapshot_id FROM {p}manifests WHERE snapshot_id >= ? "
                        "AND snapshot_id < ? ORDER BY snapshot_id LIMIT 6",
                        (ref, ref + "g"),
                    )
            matches = [str(row[0]) for row in rows]
        if not matches:
            raise SnapshotNotFoundError(
                f"no snapshot matches {ref!r} in the store at {self.location}",
                hint="list snapshots with `snapkit snapshots list`",
            )
        if len(matches) > 1:
            shown = ", ".join(m[:12] for m in matches[:5])
            count = f"{len(matches)}" if len(matches) < 6 else "6 or more"
            raise AmbiguousSnapshotIdError(
                f"snapshot id prefix {ref!r} matches {count} snapshots ({shown})",
                hint="give more digits of the id",
            )
        return matches[0]

    def latest_successful(self) -> SnapshotManifest | None:
        """Return the pointer's target (the last known good snapshot), or ``None``.

        One query when the pointer has not moved: its target stays in memory.
        """
        pointer = self.read_pointer()
        if pointer is None:
            self._current = None
            return None
        cached = self._current
        if cached is not None and cached[0] == pointer:
            return cached[1]
        loaded = self._servable(pointer)
        if loaded is None:  # look again under the exclusive transaction, recover if still bad
            recovered = self._recover(
                "its target cannot be served", expected=pointer, keep_if_none=True
            )
            if recovered is None:
                raise CorruptSnapshotError(
                    f"the current pointer cannot be served: it names snapshot "
                    f"{pointer.snapshot_id}, whose manifest is missing, damaged, failed or "
                    "not the one it recorded, and no verified snapshot is left to recover to",
                    hint="run `snapkit snapshots verify`, then `snapkit refresh` to write a "
                    "good snapshot",
                )
            pointer = recovered
            loaded = self._servable(pointer)
            if loaded is None:
                raise CorruptSnapshotError(
                    f"the current pointer names snapshot {pointer.snapshot_id}, which cannot "
                    "be read",
                    hint="run `snapkit snapshots verify`",
                )
        self._current = (pointer, loaded.manifest)
        return loaded.manifest

    def _servable(self, pointer: Pointer) -> LoadedManifest | None:
        """The pointer's manifest, if it is there, verifies, is the one recorded and is good."""
        try:
            loaded = self._load(pointer.snapshot_id)
        except (SnapshotNotFoundError, CorruptSnapshotError):
            return None
        if loaded.sha256 != pointer.manifest_sha256 or loaded.manifest.status == "failed":
            return None
        return loaded

    def latest(self) -> SnapshotManifest | None:
        """Return the newest snapshot of any status, or ``None``."""
        newest = self.list(limit=1)
        return self.get(newest[0].id) if newest else None

    def get(self, ref: str) -> SnapshotManifest:
        """Return the snapshot with this id or unique id prefix.

        :raises InvalidIdentifierError: if ``ref`` is not lowercase hex.
        :raises SnapshotNotFoundError, AmbiguousSnapshotIdError, CorruptSnapshotError:
        """
        return self._load(self._resolve(ref)).manifest

    def list(
        self, filters: ListFilter | None = None, limit: int | None = None
    ) -> list[SnapshotInfo]:
        """Return snapshot metadata, newest first (by capture time), filtered and limited.

        ``became_current`` comes from the history: whether any pointer move named the snapshot.
        """
        if limit is not None and limit <= 0:
            return []
        if not self._readable():
            return []
        where: list[str] = []
        params: list[Any] = []
        if filters is not None:
            if filters.status:
                where.append(f"status IN ({', '.join('?' * len(filters.status))})")
                params.extend(filters.status)
            if filters.namespace is not None:
                where.append("namespace = ?")
                params.append(filters.namespace)
            if filters.scope_id is not None:
                where.append("scope_id = ?")
                params.append(filters.scope_id)
            if filters.since is not None:
                where.append("created_us >= ?")
                params.append(micros(filters.since))
            if filters.until is not None:
                where.append("created_us < ?")
                params.append(micros(filters.until))
        sql = f"SELECT {INFO_COLUMNS} FROM {{p}}manifests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_us DESC, seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self.backend.read() as db:
            rows = db.all(sql, params)
        return with_became_current(
            (info_row(row) for row in rows), self.history(), self._read_row().pointer
        )

    def history(self) -> Sequence[HistoryEntry]:
        """Return the append-only history of pointer moves and runs, oldest first."""
        if not self._readable():
            return ()
        with self.backend.read() as db:
            row = db.one("SELECT count(*) FROM {p}history")
            count = int(row[0]) if row else 0
            if count == self._history[0]:
                return self._history[1]
            rows = db.all(
                "SELECT at, event, snapshot_id, status, generation, errors "
                "FROM {p}history ORDER BY seq"
            )
        entries = tuple(history_entry(r) for r in rows)
        self._history = (len(entries), entries)
        return entries

    def as_of(self, when: _dt.datetime) -> SnapshotManifest | None:
        """Return the snapshot that was current at ``when`` (naive means UTC), or ``None``.

        :raises SnapshotNotFoundError: if that snapshot has since been pruned.
        """
        when = when if when.tzinfo else when.replace(tzinfo=_dt.UTC)
        target: str | None = None
        for entry in self.history():
            if entry.event != "pointer_moved":
                continue
            if parse_time(entry.at) > when:
                break
            target = entry.snapshot_id
        return None if target is None else self.get(target)

    # -- parts -------------------------------------------------------------------------------

    def _part_rows(self, shas: Sequence[str]) -> dict[str, PartRow]:
        out: dict[str, PartRow] = {}
        if not shas or not self._readable():
            return out
        with self.backend.read() as db:
            for start in range(0, len(shas), 100):
                batch = shas[start : start + 100]
                rows = db.all(
                    f"SELECT {PART_COLUMNS} FROM {{p}}parts WHERE sha256 IN "
                    f"({', '.join('?' * len(batch))})",
                    batch,
                )
                for row in rows:
                    part = part_row(row)
                    out[part.sha256] = part
        return out

    def _stored_part(self, sha256: str) -> PartRow:
        check_part_hash(sha256)
        row = self._part_rows([sha256]).get(sha256)
        if row is None:
            raise CorruptSnapshotError(
                f"part {sha256} is not in the store at {self.location}",
                hint="run `snapkit snapshots verify`; the snapshot referencing it is damaged",
            )
        return row

    def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Iterator[bytes]:
        """Yield a part's canonical JSON Lines bytes in blocks, as they are decompressed.

        Block boundaries fall anywhere, even inside a line; the blocks joined are the part.
        ``verify=True`` checks the SHA-256 at the end, as :meth:`open_part` does;
        ``verify=False`` relies on the zstd frame's content checksum and its completeness
        (raw parts are hashed either way).

        :raises InvalidIdentifierError: if ``sha256`` is not 64 lowercase hex digits.
        :raises CorruptSnapshotError: if the part is missing, or (at its end) damaged.
        """
        row = self._stored_part(sha256)
        if row.codec == CHUNKED:
            yield from chunked_blocks(self.backend, self._resolve_part(row), verify=verify)
        else:
            yield from iter_blocks(self.backend, row, verify=verify)

    @contextmanager
    def open_part(self, sha256: str) -> Iterator[BinaryIO]:
        """Open a stored part for streaming reads of its canonical JSON Lines bytes.

        :raises InvalidIdentifierError: if ``sha256`` is not 64 lowercase hex digits.
        :raises CorruptSnapshotError: if the part is missing, or (at its end) damaged.
        """
        row = self._stored_part(sha256)
        raw = BlockStream(
            chunked_blocks(self.backend, self._resolve_part(row), verify=True)
            if row.codec == CHUNKED
            else iter_blocks(self.backend, row, verify=True)
        )
        handle = io.BufferedReader(raw, buffer_size=1 << 16)
        try:
            yield handle
        finally:
            handle.close()

    def iter_part_lines(self, sha256: str) -> Iterator[bytes]:
        """Yield a part's lines (each a canonical JSON record ending in ``\\n``)."""
        with self.open_part(sha256) as handle:
            yield from handle

    # -- chunks (snapkit.store.ChunkedPartReader) --------------------------------------------

    def _resolve_part(self, row: PartRow) -> Resolved:
        """The checked chunk table of a chunked part (the last few are kept, by blob id)."""
        key = (row.sha256, row.blob_id)
        with self._cache_lock:
            cached = self._resolved.get(key)
            if cached is not None:
                self._resolved.move_to_end(key)
                return cached
        resolved = resolve(self.backend, row.sha256, row.blob_id, row.chunks, row.size)
        with self._cache_lock:
            self._resolved[key] = resolved
            while len(self._resolved) > _RESOLVED_SIZE:
                self._resolved.popitem(last=False)
        return resolved

    def part_chunks(self, sha256: str) -> ChunkTable | None:
        """Return the part's chunks in table order, or ``None`` if it is stored whole (written
        before chunking, by a store with ``chunk_size = 0``, or smaller than ``MIN_CHUNKS``
        chunk targets). The table comes from the chunk rows, checked against the digest its
        chunk list records.

        :raises CorruptSnapshotError: if the part or its chunk list is missing or damaged.
        """
        row = self._stored_part(sha256)
        return self._resolve_part(row).table if row.codec == CHUNKED else None

    def iter_chunks(
        self, sha256: str, positions: Iterable[int], *, verify: bool = True
    ) -> Generator[bytes, None, None]:
        """Yield the bytes of the part's chunks at ``positions`` (ascending indexes into
        :meth:`part_chunks`), a batch per query, each checked against its SHA-256 with
        ``verify`` (else by zstd's content checksum and its size).

        :raises CorruptSnapshotError: for a missing or damaged chunk list or chunk, or a part
            stored whole.
        :raises ValueError: if positions do not ascend or are out of range.
        """
        row = self._stored_part(sha256)
        if row.codec != CHUNKED:
            raise CorruptSnapshotError(
                f"part {sha256} is stored whole, not as chunks",
                hint="read it with open_part; part_chunks returns None for such parts",
            )
        yield from iter_chunk_data(self.backend, self._resolve_part(row), positions, verify=verify)

    def read_part_ranges(
        self, sha256: str, ranges: Iterable[tuple[int, int]]
    ) -> Generator[bytes, None, None]:
        """Yield the part's plain bytes for each ``(offset, length)`` range, offsets ascending
        (:class:`snapkit.store.PartRangeReader`): a chunked part reads only the chunks holding
        them, each checked against its SHA-256; a whole part is read from its start.

        :raises CorruptSnapshotError: if the part is missing or damaged.
        :raises ValueError: if a range starts before the previous one or its length is < 0.
        """
        row = self._stored_part(sha256)
        if row.codec == CHUNKED:
            yield from chunked_ranges(self.backend, self._resolve_part(row), ranges)
            return
        yield from _whole_ranges(iter_blocks(self.backend, row, verify=False), ranges)

    # -- importing (snapkit.store.SnapshotImporter) ------------------------------------------

    def import_snapshot(self, manifest: SnapshotManifest, open_part: PartOpener) -> bool:
        """Store a snapshot copied from another store unless it is here already (see
        :class:`snapkit.store.SnapshotImporter`); no history, the pointer untouched."""
        from snapkit_sql_store.importer import import_snapshot

        return import_snapshot(self, manifest, open_part)

    def import_history(self, entries: Sequence[HistoryEntry], pointer: Pointer | None) -> int:
        """Append the entries after this store's history (a prefix of them) and set the
        pointer as ``pointer`` was, in one transaction (see
        :class:`snapkit.store.SnapshotImporter`)."""
        from snapkit_sql_store.importer import import_history

        self._current = None
        return import_history(self, entries, pointer)

    # -- lease -------------------------------------------------------------------------------

    def lock(self, holder: str, stale_after: float) -> SqlLease:
        """Take the refresh lease or raise :class:`snapkit.errors.LockHeldError`.

        Creates the store if it does not exist yet.
        """
        self._create()
        return SqlLease.take(self.backend, holder, stale_after)

    def lock_info(self) -> LockInfo | None:
        """Return who holds the refresh lease, or ``None``."""
        if not self._readable():
            return None
        return read_lease(self.backend)

    # -- maintenance -------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Re-hash every manifest and part; check the pointer against its history."""
        from snapkit_sql_store.verify import verify_store

        return verify_store(self)

    def prune(
        self, policy: RetentionPolicy, *, dry_run: bool = False, now: _dt.datetime | None = None
    ) -> PruneReport:
        """Apply a retention policy; with ``dry_run`` only say what would happen and why."""
        from snapkit_sql_store.prune import prune_store

        return prune_store(self, policy, dry_run=dry_run, now=now or _dt.datetime.now(_dt.UTC))


def _whole_ranges(
    blocks: Iterator[bytes], ranges: Iterable[tuple[int, int]]
) -> Generator[bytes, None, None]:
    """Cut ``(offset, length)`` ranges (offsets ascending) out of a part read from its start;
    what the blocks' checks catch (zstd's content checksum, the size) raises by the end."""
    held = b""
    start = 0  # offset of held[0] in the part
    previous = 0
    for offset, length in ranges:
        if length < 0 or offset < previous:
            raise ValueError(f"ranges must ascend with lengths >= 0 (got ({offset}, {length}))")
        previous = offset
        if offset > start:
            drop = min(offset - start, len(held))
            held, start = held[drop:], start + drop
        while start + len(held) < offset + length:
            block = next(blocks, None)
            if block is None:
                break
            held += block
            if start < offset:
                drop = min(offset - start, len(held))
                held, start = held[drop:], start + drop
        yield held[offset - start : offset - start + length] if offset >= start else b""
    for _rest in blocks:  # finish the read so that its checks run
        pass
