"""The snapshot store contract (docs/stores.md): what every store plugin implements.

A store persists manifests and parts, keeps the current pointer, lists, prunes, verifies and
locks. Writes go through a :class:`Transaction`: parts are staged, then ``commit`` makes them
durable, writes the manifest and — when asked — moves the pointer by compare-and-swap on its
generation. ``abort`` leaves nothing behind. The conformance kit in
:mod:`snapkit.testing.store_kit` checks every method's behaviour.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol, overload, runtime_checkable

from attrs import field, frozen

from snapkit.contracts import (
    HistoryEntry,
    Pointer,
    SnapshotInfo,
    SnapshotManifest,
    SnapshotStatus,
)


@frozen
class PointerTrail:
    """The snapshots the current pointer named, oldest first, as the history tells it.

    :param ids: one id per pointer move, consecutive moves to the same snapshot counted once
        (refreshing the same data twice moves the pointer twice, to one snapshot); only the
        unbroken run of moves that ends at the pointer's target.
    :param whole: ``False`` when moves are missing before that run (history lines lost or
        damaged, or the history restarted after it was lost): what came earlier is unknown.
    """

    ids: tuple[str, ...]
    whole: bool

    def back(self, n: int) -> str | None:
        """The snapshot the pointer named ``n`` moves back, or ``None`` if unknown."""
        return self.ids[-1 - n] if 0 <= n < len(self.ids) else None


def pointer_trail(history: Iterable[HistoryEntry], pointer: Pointer | None = None) -> PointerTrail:
    """Follow the pointer back through a store's history of moves (see :class:`PointerTrail`).

    ``current~N`` is ``trail.back(N)``: refresh A, then B, then A again, and the ids are
    ``(A, B, A)``, so ``current~1`` is B. Moves count from the newest back while their
    generations step down by one. ``pointer``, when given, is where the run must end: a
    pointer one generation past the last move (a crash between the pointer's write and the
    history's append) adds its own move; one that disagrees otherwise leaves only itself.
    """
    moves = [
        (entry.generation or 0, entry.snapshot_id)
        for entry in history
        if entry.event == "pointer_moved"
    ]
    whole = True
    if pointer is not None:
        own = (pointer.generation, pointer.snapshot_id)
        if not moves or (moves[-1] != own and moves[-1][0] + 1 != pointer.generation):
            whole = not moves and pointer.generation == 1
            moves = [own]
        elif moves[-1] != own:
            moves.append(own)
    start = len(moves) - 1
    while start > 0 and moves[start - 1][0] == moves[start][0] - 1:
        start -= 1
    whole = whole and (not moves or (start == 0 and moves[0][0] == 1))
    ids: list[str] = []
    for _generation, snapshot_id in moves[max(start, 0) :]:
        if not ids or ids[-1] != snapshot_id:
            ids.append(snapshot_id)
    return PointerTrail(ids=tuple(ids), whole=whole)


def _statuses(value: Iterable[str]) -> tuple[SnapshotStatus, ...]:
    statuses = tuple(value)
    for status in statuses:
        if status not in {"success", "partial", "failed"}:
            raise ValueError(f"unknown snapshot status {status!r}")
    return statuses  # type: ignore[return-value]


@frozen
class ListFilter:
    """Filters for listing snapshots; every field is optional.

    :param status: keep only these statuses.
    :param namespace: keep only snapshots of this namespace.
    :param scope_id: keep only snapshots of this scope.
    :param since: keep snapshots created at or after this time (UTC).
    :param until: keep snapshots created before this time (UTC).
    """

    status: tuple[SnapshotStatus, ...] = field(default=(), converter=_statuses)
    namespace: str | None = None
    scope_id: str | None = None
    since: _dt.datetime | None = None
    until: _dt.datetime | None = None


@frozen
class RetentionPolicy:
    """Which snapshots to keep, as data (like restic's ``forget`` flags).

    A snapshot is kept if any rule keeps it; the pointer's target, the last successful
    snapshot and the newest failed run are always kept.

    :param keep_last: keep the N newest snapshots.
    :param keep_daily: keep the newest snapshot of each of the last D days (UTC) that have one.
    :param max_age_days: remove snapshots older than this many days unless another rule
        keeps them; ``None`` means age alone never removes.
    """

    keep_last: int | None = None
    keep_daily: int | None = None
    max_age_days: float | None = None


@frozen
class RetentionDecision:
    """Whether one snapshot is kept, and every reason why."""

    snapshot_id: str
    created_at: str
    status: SnapshotStatus
    keep: bool
    reasons: tuple[str, ...]


@frozen
class PruneReport:
    """What a prune did (or, for a dry run, would do)."""

    dry_run: bool
    decisions: tuple[RetentionDecision, ...]
    removed_snapshots: int
    removed_parts: int
    freed_bytes: int


@frozen
class VerifyProblem:
    """One thing ``verify`` found wrong: what kind of object, which, and what."""

    kind: str
    ref: str
    message: str


@frozen
class VerifyReport:
    """The result of re-hashing a store.

    What ``verify`` repaired from verified data (a pointer recovered to its rightful target,
    damaged history lines set aside, a listing rebuilt) is reported as a problem too, saying
    what was done, so the run that found it is not ``ok`` and the next one is.
    ``pointer_recovered`` says the pointer was moved by a recovery.
    """

    snapshots: int
    parts: int
    problems: tuple[VerifyProblem, ...] = ()
    pointer_recovered: bool = False

    @property
    def ok(self) -> bool:
        """``True`` when nothing is wrong."""
        return not self.problems


@frozen
class LockInfo:
    """Who holds a refresh lease: holder name, host, pid, and when it last renewed."""

    holder: str
    host: str
    pid: int
    acquired_at: str
    heartbeat_at: str


@frozen
class CommitResult:
    """What a commit did: the snapshot id and the new pointer, if it moved."""

    snapshot_id: str
    pointer: Pointer | None


def info_of(manifest: SnapshotManifest, manifest_bytes: int) -> SnapshotInfo:
    """The listing metadata of a manifest stored in ``manifest_bytes`` bytes, as every store
    computes it (its size counts the manifest and its parts)."""
    return SnapshotInfo(
        id=manifest.id,
        created_at=manifest.created_at,
        status=manifest.status,
        schema_version=manifest.schema_version,
        calculation_version=manifest.calculation_version,
        namespace=manifest.scope.namespace,
        scope_id=manifest.scope.id,
        size_bytes=manifest_bytes + sum(part.bytes for part in manifest.parts),
        error_count=len(manifest.errors),
        part_count=len(manifest.parts),
        record_count=sum(part.records for part in manifest.parts),
    )


@runtime_checkable
class PartWriter(Protocol):
    """Receives the canonical JSON Lines bytes of one part, in order."""

    def write(self, data: bytes) -> None:
        """Append bytes to the part."""

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and size in bytes (uncompressed)."""
        ...

    def abort(self) -> None:
        """Discard this part (the engine calls it before retrying a failed stream)."""


@runtime_checkable
class Lease(Protocol):
    """A held refresh lock. Renew it with :meth:`heartbeat`; leaving the ``with`` frees it."""

    info: LockInfo

    def heartbeat(self) -> None:
        """Renew the lease so other processes do not take it over as stale."""

    def __enter__(self) -> Lease: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class Transaction(Protocol):
    """One refresh's writes: staged parts, then a commit or an abort."""

    def part_writer(self) -> PartWriter:
        """Return a writer for a new part, staged until commit."""
        ...

    def commit(
        self, manifest: SnapshotManifest, *, move_pointer: bool, expected_generation: int | None
    ) -> CommitResult:
        """Make the manifest and the staged parts it references durable; move the pointer
        if asked. Staged parts the manifest does not reference are discarded.

        The pointer moves only if its generation is still ``expected_generation`` (``0`` when
        there was no pointer; ``None`` skips the check); otherwise
        :class:`snapkit.errors.PointerConflictError` is raised and the pointer is untouched.
        A failed snapshot is recorded with its errors and its staged parts are discarded.

        A commit never leaves the snapshot referencing a stored part that does not verify: a
        part staged now whose stored copy is damaged or missing is written again; a damaged
        stored part the transaction did not stage makes the commit raise
        :class:`snapkit.errors.StoreError` (nothing recorded, the pointer untouched).
        """
        ...

    def abort(self) -> None:
        """Discard everything staged; leave no files behind."""


@runtime_checkable
class PartBlockReader(Protocol):
    """Optional for stores: a part's bytes in large blocks, the SHA-256 check optional.

    Scans (``snapkit search``) read parts through this method when a store has it, else
    through :meth:`SnapshotStore.open_part`. The blocks joined are the part's canonical JSON
    Lines bytes; their boundaries fall anywhere, even inside a line.

    ``verify=True`` checks what ``open_part`` checks: the SHA-256 of the bytes against the
    part's name, raising :class:`snapkit.errors.CorruptSnapshotError` at the end if it
    differs. ``verify=False`` lets the store skip the SHA-256 only where its format has a
    cheaper check that still catches damage (the file store: zstd's content checksum of each
    frame, every frame complete and listed by a checked seek table); a damaged part must
    still raise by the end of the read. What it may miss
    is a part replaced by another well-formed one; ``SnapshotStore.verify`` and checked reads
    catch that. Both checks happen at the end: a read that stops early (a search that has
    found its page) checks only what the format checks as it goes (with either setting).
    The conformance kit checks both settings when a store has the method.
    """

    def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Iterator[bytes]:
        """Yield a part's canonical JSON Lines bytes in blocks (see the class docstring)."""
        ...


@runtime_checkable
class PartRangeReader(Protocol):
    """Optional for stores: byte ranges of a part's plain bytes, without reading the rest.

    The search index (``snapkit.search_index.fetch_rows``) reads the rows it wants through
    this method when a store has it, else by reading the part from its start
    (:class:`PartBlockReader`). ``ranges`` are ``(offset, length)`` pairs in the part's plain
    (canonical JSON Lines) bytes, offsets ascending (the iterable is consumed as results are
    taken); the method yields, for each in turn, the bytes ``[offset, offset + length)``,
    shorter only where the part ends (``b""`` for a range past its end).

    **What it checks.** Not the part's SHA-256 (it reads too little for that): the caller
    checks what it uses (the index checks each row against a digest taken from a verified
    read of the part). The store must check what it decompresses as its format allows, so
    that damage never reads as other bytes: the file store decompresses only the frames
    holding a range, each whole, from a seek table whose integrity it checks first, and
    checks each frame's size and zstd content checksum. A damaged frame, seek table or
    part file raises :class:`snapkit.errors.CorruptSnapshotError`, as does a missing part; a
    store may read a part stored in an older, unseekable layout from its start. The
    conformance kit checks the method when a store has it.
    """

    def read_part_ranges(
        self, sha256: str, ranges: Iterable[tuple[int, int]]
    ) -> Generator[bytes, None, None]:
        """Yield the part's bytes for each ``(offset, length)`` range, in order (see the class
        docstring). A generator: closing it early releases what it holds open.

        :raises ValueError: if a range starts before the previous one or its length is < 0.
        """
        ...


@frozen
class ChunkRef:
    """One chunk of a chunked part: a run of whole canonical JSON lines, stored once.

    :param sha256: the SHA-256 of the chunk's lines (each with its ``\\n``), its address.
    :param rows: how many lines (records) it holds.
    :param size: its bytes (uncompressed).

    Two chunks with the same ``sha256`` hold the same rows, so a diff skips them unread.
    """

    sha256: str
    rows: int
    size: int


DIGEST_SIZE = 32
"""Bytes of one raw SHA-256 in :attr:`ChunkTable.digests`."""


class ChunkTable(Sequence[ChunkRef]):
    """A chunked part's chunks in table order, held as three columns.

    A large part has hundreds of thousands of chunks; readers compare and slice the columns
    (:attr:`digests` is one ``bytes`` of raw SHA-256s end to end, so two tables' common
    runs are found by comparing slices) and make a :class:`ChunkRef` only when one is
    indexed. Stores build one with :meth:`from_refs` or, faster, from columns they keep.

    :param digests: the chunks' raw SHA-256s (32 bytes each), concatenated.
    :param rows: the rows (lines) of each chunk, e.g. an ``array("L")``.
    :param sizes: the plain bytes of each chunk.
    :raises ValueError: if the columns' lengths disagree.
    """

    __slots__ = ("digests", "rows", "sizes")

    def __init__(self, digests: bytes, rows: Sequence[int], sizes: Sequence[int]) -> None:
        if len(digests) != DIGEST_SIZE * len(rows) or len(rows) != len(sizes):
            raise ValueError(
                f"a chunk table needs {DIGEST_SIZE} digest bytes, one row count and one size "
                f"per chunk (got {len(digests)} bytes, {len(rows)} and {len(sizes)})"
            )
        self.digests = digests
        self.rows = rows
        self.sizes = sizes

    @classmethod
    def from_refs(cls, refs: Iterable[ChunkRef]) -> ChunkTable:
        """The table of ``refs``, in their order."""
        from array import array

        listed = list(refs)
        return cls(
            b"".join(bytes.fromhex(ref.sha256) for ref in listed),
            array("Q", [ref.rows for ref in listed]),
            array("Q", [ref.size for ref in listed]),
        )

    def digest(self, position: int) -> bytes:
        """The raw SHA-256 of the chunk at ``position`` (non-negative)."""
        if not 0 <= position < len(self.rows):
            raise IndexError(position)
        start = position * DIGEST_SIZE
        return self.digests[start : start + DIGEST_SIZE]

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> ChunkRef: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ChunkRef]: ...

    def __getitem__(self, index: int | slice) -> ChunkRef | Sequence[ChunkRef]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return ChunkRef(self.digest(index).hex(), self.rows[index], self.sizes[index])

    def __iter__(self) -> Iterator[ChunkRef]:
        digests = self.digests
        for i, (rows, size) in enumerate(zip(self.rows, self.sizes, strict=True)):
            start = i * DIGEST_SIZE
            yield ChunkRef(digests[start : start + DIGEST_SIZE].hex(), rows, size)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ChunkTable):
            return (
                self.digests == other.digests
                and list(self.rows) == list(other.rows)
                and list(self.sizes) == list(other.sizes)
            )
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ChunkTable of {len(self)} chunks, {sum(self.rows)} rows>"


@runtime_checkable
class ChunkedPartReader(Protocol):
    """Optional for stores: parts kept as chunks, each stored once and shared between snapshots.

    A part's address stays the SHA-256 of its whole canonical JSON Lines bytes; a store that
    chunks parts also knows the chunks, in table order, whose bytes joined are the part's.
    Diffs compare chunk tables and read only chunks one side lacks; reads of a page of rows
    skip whole chunks by their row counts. Stores cut parts with
    :class:`snapkit.chunking.LineCutter`, so equal rows make equal chunks in every store.
    The conformance kit checks both methods when a store has them.
    """

    def part_chunks(self, sha256: str) -> ChunkTable | None:
        """Return the part's chunks in table order, or ``None`` if the part is stored whole
        (written in an older format, or too small to chunk).

        The table's digests come from data the store checked (they are what
        :meth:`iter_chunks` verifies chunks against).

        :raises snapkit.errors.CorruptSnapshotError: if the part or its chunk list is missing
            or damaged.
        """
        ...

    def iter_chunks(
        self, sha256: str, positions: Iterable[int], *, verify: bool = True
    ) -> Generator[bytes, None, None]:
        """Yield the bytes of the part's chunks at ``positions`` (indexes into
        :meth:`part_chunks`, ascending), in that order. With ``verify`` each chunk's bytes are
        checked against its SHA-256 before it is yielded.

        :raises snapkit.errors.CorruptSnapshotError: for a missing or damaged chunk.
        :raises ValueError: if positions are not ascending or out of range.
        """
        ...


@runtime_checkable
class StoreLocation(Protocol):
    """Optional for stores: where the store lives, and whether it has been created yet.

    A store should create nothing when it is opened or read: a store that does not exist yet
    reads as an empty one, and its first write (``begin``, ``lock``, a commit) creates it.
    ``exists()`` says whether it has been created; ``location`` names where it lives (a
    directory, a URL without credentials) for people to read. When a store has both, the
    "no snapshots yet" messages of ``snapkit`` name the location of a store that does not
    exist, so an operator who mistyped its path sees it. Stores without them keep the plain
    messages. The conformance kit checks, when a store has them, that reads leave
    ``exists()`` false and that the first commit makes it true.
    """

    @property
    def location(self) -> str:
        """Where the store lives, for messages (never a secret)."""
        ...

    def exists(self) -> bool:
        """Whether the store has been created (by its first write)."""
        ...


PartOpener = Callable[[str], AbstractContextManager[BinaryIO]]
"""Opens a part by its SHA-256 for reading its canonical JSON Lines bytes (``open_part``)."""


@runtime_checkable
class SnapshotImporter(Protocol):
    """Optional for stores: take in snapshots, history and pointer copied from another store.

    ``snapkit snapshots copy`` needs it of the target store: a :class:`Transaction` cannot
    reproduce another store's history (its pointer moves, their generations and times). Both
    methods are idempotent, so a copy that was interrupted is resumed by running it again.
    The conformance kit checks them when a store has them.
    """

    def import_snapshot(self, manifest: SnapshotManifest, open_part: PartOpener) -> bool:
        """Store ``manifest`` and the parts it references unless they are stored already.

        Nothing is appended to the history and the pointer does not move. A part stored
        already that re-hashes to its name is kept; a missing or damaged one is read with
        ``open_part(sha256)``, re-hashed as it is written, and a copy that does not hash to
        its name raises :class:`snapkit.errors.CorruptSnapshotError` with nothing recorded. A
        ``failed`` snapshot is recorded without parts (stores keep none for failed runs).

        :returns: whether anything was written (``False``: all of it was there already).
        """
        ...

    def import_history(self, entries: Sequence[HistoryEntry], pointer: Pointer | None) -> int:
        """Make the store's history ``entries`` and its pointer ``pointer``, as they were.

        The store's own history must be a prefix of ``entries`` (empty for a new store);
        the entries after it are appended unchanged (times, generations, errors), and the
        pointer is set to ``pointer``'s snapshot, generation and time, recording the
        SHA-256 of this store's copy of the manifest. One atomic step where the store can
        (the SQL store), else history first, then the pointer (so a rerun completes it).

        :returns: how many entries were appended.
        :raises StoreError: if the store's history is not a prefix of ``entries`` (nothing
            changed), or the pointer names a snapshot the store does not hold.
        """
        ...


@runtime_checkable
class SnapshotStore(Protocol):
    """Persists snapshots and the current pointer. See the module docstring."""

    key: str

    def begin(self) -> Transaction:
        """Start a transaction for one refresh."""
        ...

    def read_pointer(self) -> Pointer | None:
        """Return the current pointer (recovering a damaged one), or ``None``."""
        ...

    def get(self, ref: str) -> SnapshotManifest:
        """Return the snapshot with this id or unique id prefix.

        :raises SnapshotNotFoundError, AmbiguousSnapshotIdError, InvalidIdentifierError,
            CorruptSnapshotError:
        """
        ...

    def latest_successful(self) -> SnapshotManifest | None:
        """Return the pointer's target (the last known good snapshot), or ``None``."""
        ...

    def latest(self) -> SnapshotManifest | None:
        """Return the newest snapshot of any status, or ``None``."""
        ...

    def list(
        self, filters: ListFilter | None = None, limit: int | None = None
    ) -> list[SnapshotInfo]:
        """Return snapshot metadata, newest first, filtered and limited.

        Each row's ``became_current`` says whether a pointer move in :meth:`history` named the
        snapshot: ``False`` for a success that lost the compare-and-swap or was committed
        without moving the pointer, and for every failed run; ``None`` (unknown) for a
        snapshot not in the trail when the history is not whole (see :class:`PointerTrail`).
        """
        ...

    def history(self) -> Sequence[HistoryEntry]:
        """Return the append-only history of pointer moves and failed runs, oldest first.

        Entries are in the order they happened: the ``pointer_moved`` entries are the
        pointer's moves in order, each one generation past the one before, so
        :func:`pointer_trail` of the history ends with the pointer's target.
        """
        ...

    def as_of(self, when: _dt.datetime) -> SnapshotManifest | None:
        """Return the snapshot that was current at ``when`` (UTC), or ``None``."""
        ...

    def open_part(self, sha256: str) -> AbstractContextManager[BinaryIO]:
        """Open a stored part for reading its canonical JSON Lines bytes."""
        ...

    def iter_part_lines(self, sha256: str) -> Iterator[bytes]:
        """Yield a part's lines (each a canonical JSON record ending in ``\\n``)."""
        ...

    def lock(self, holder: str, stale_after: float) -> Lease:
        """Take the refresh lease or raise :class:`snapkit.errors.LockHeldError`."""
        ...

    def lock_info(self) -> LockInfo | None:
        """Return who holds the refresh lease, or ``None``."""
        ...

    def verify(self) -> VerifyReport:
        """Re-hash every manifest and part; check the pointer against the manifests and the
        history; report what does not match (see :class:`VerifyReport`)."""
        ...

    def prune(
        self, policy: RetentionPolicy, *, dry_run: bool = False, now: _dt.datetime | None = None
    ) -> PruneReport:
        """Apply a retention policy; with ``dry_run`` only say what would happen and why."""
        ...
