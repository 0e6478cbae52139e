"""The conformance kit every snapshot store passes (docs/stores.md), first-party or third-party.

Subclass :class:`StoreConformance` in a test module (its name must start with ``Test``) and
supply a ``make_store`` fixture: a function that opens the store at a given directory, which
does not exist yet for a fresh store (the store's first write creates what it needs). Calling
it twice with the same directory must open the *same* store (a second
handle, as another process would), because the kit checks what one handle sees of another's
writes, lock exclusion between handles, and a dead process's lease::

    import pytest
    from snapkit.testing.store_kit import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def make_store(self):
            return lambda path: MyStore(dsn=f"sqlite:///{path}/store.db")

        @pytest.fixture
        def damage_part(self):          # required: lets the kit check verify
            return my_damage_part       # (store, sha256, how) -> None

        @pytest.fixture
        def damage_manifest(self):      # required for the verify tests
            return my_damage_manifest   # (store, snapshot_id) -> None

``damage_part(store, sha256, how)`` damages the stored part ``sha256`` in place: ``how`` is
``"flip"`` (flip one bit), ``"truncate"`` (cut it short) or ``"delete"``.
``damage_manifest(store, snapshot_id)`` changes one byte of a stored manifest. Without these
hooks the verify-damage tests fail with a message saying which hook is missing: a store
passes the kit only when it shows that ``verify`` catches damage.

Snapshots are built with :func:`manifest` and committed with :func:`commit`, which writes parts
through ``txn.part_writer()`` as canonical JSON Lines, the way the engine does.

A store that also offers the optional block reads (:class:`snapkit.store.PartBlockReader`,
``iter_part_blocks(sha256, verify=...)``) is checked for them too: the blocks joined are the
part with either ``verify`` setting, and a damaged part raises with either setting. A store
that offers range reads (:class:`snapkit.store.PartRangeReader`, ``read_part_ranges(sha256,
ranges)``) is checked for them: ranges across the part (and past its end) read the part's
bytes, ranges that do not ascend are refused, and a damaged part raises rather than reading
as other bytes. A store without them skips those tests. A store that also says where it
lives and whether it exists (:class:`snapkit.store.StoreLocation`, ``location`` and
``exists()``) is checked for what
``snapkit`` relies on: a fresh store does not exist, every read leaves it so and sees an empty
store, and the first commit creates it.

The kit also checks the trust guarantees every store gives (issue 11): a commit that stages a
part whose stored copy is damaged writes it again, and one that references a damaged stored
part it did not stage refuses (the pointer never names a part that does not verify); listings
say which snapshots never became current (``SnapshotInfo.became_current``); the history keeps
the pointer's moves in order, each one generation on, so ``current~N`` can follow it
(:func:`snapkit.store.pointer_trail`).

A store that keeps parts as chunks (:class:`snapkit.store.ChunkedPartReader`, ``part_chunks``
and ``iter_chunks``) is checked for them: the chunks of a large part are whole lines that join
to the part, each with its SHA-256, rows and size; a second snapshot with one row of a large
table changed (or one row inserted) shares all but a few chunks with the first; and
``iter_chunks`` raises for a damaged chunk with either ``verify`` setting, as ``verify`` reports
it. Such a store supplies a third hook, ``damage_chunk(store, sha256, position, how)``, which
damages the stored bytes of chunk ``position`` of part ``sha256`` (``how``: ``"flip"`` or
``"delete"``); the kit's store must chunk a part of about 1 MB.

A store that can take in another store's snapshots and history
(:class:`snapkit.store.SnapshotImporter`, what ``snapkit snapshots copy`` writes into) is
checked for that too: a copy between two stores of the kind keeps ids, history and pointer,
verifies, and is idempotent; a store with a history of its own refuses another's; a part that
does not hash to its name is refused. A store without it skips those tests.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from snapkit.canonical import canonical_bytes, sha256_hex
from snapkit.contracts import (
    ErrorInfo,
    PartRef,
    Scope,
    SnapshotManifest,
    SnapshotStatus,
)
from snapkit.errors import (
    AmbiguousSnapshotIdError,
    InvalidIdentifierError,
    LockHeldError,
    PointerConflictError,
    SnapshotNotFoundError,
    StoreError,
)
from snapkit.store import (
    ChunkedPartReader,
    ChunkTable,
    CommitResult,
    ListFilter,
    PartBlockReader,
    PartRangeReader,
    RetentionPolicy,
    SnapshotImporter,
    SnapshotStore,
    StoreLocation,
    Transaction,
    pointer_trail,
)

MakeStore = Callable[[Path], SnapshotStore]
DamagePart = Callable[[SnapshotStore, str, str], None]
DamageManifest = Callable[[SnapshotStore, str], None]
DamageChunk = Callable[[SnapshotStore, str, int, str], None]

NOW = _dt.datetime(2024, 6, 15, 12, 0, tzinfo=_dt.UTC)
"""The fixed "now" the retention tests measure ages from."""

_KEEP = object()


def at(days_ago: float, *, now: _dt.datetime = NOW) -> str:
    """An ISO UTC time ``days_ago`` days before ``now``, as snapshots record it."""
    return (now - _dt.timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_lines(records: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """The canonical JSON Lines of ``records`` (one ``bytes`` per record, ending in ``\\n``)."""
    return [canonical_bytes(dict(record)) + b"\n" for record in records]


def write_part(
    txn: Transaction, name: str, records: Sequence[Mapping[str, Any]], *, chunk: int = 7
) -> PartRef:
    """Write ``records`` as one part through ``txn.part_writer()``, a few lines per write."""
    writer = txn.part_writer()
    lines = record_lines(records)
    for start in range(0, len(lines), chunk):
        writer.write(b"".join(lines[start : start + chunk]))
    sha256, size = writer.close()
    return PartRef(name=name, sha256=sha256, records=len(lines), bytes=size, oracle=name)


def manifest(
    *,
    namespace: str = "kit",
    status: SnapshotStatus = "success",
    payload: Any = None,
    parts: Sequence[PartRef] = (),
    created_at: str | None = None,
    errors: Sequence[ErrorInfo] = (),
    context: str | None = None,
) -> SnapshotManifest:
    """A snapshot manifest for tests; ``payload`` makes its content (and so its id) distinct."""
    extra: dict[str, Any] = {} if created_at is None else {"created_at": created_at}
    if status == "failed" and not errors:
        errors = (ErrorInfo(code="kit_failure", message="the kit made this run fail"),)
    return SnapshotManifest(
        scope=Scope(namespace=namespace, context=context),
        schema_version="1",
        calculation_version="1",
        status=status,
        errors=tuple(errors),
        payloads={"value": payload},
        parts=tuple(parts),
        **extra,
    )


def commit(
    store: SnapshotStore,
    *,
    payload: Any = None,
    status: SnapshotStatus = "success",
    records: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    move_pointer: bool | None = None,
    expected_generation: Any = _KEEP,
    namespace: str = "kit",
    created_at: str | None = None,
    context: str | None = None,
) -> CommitResult:
    """Write parts and commit one snapshot the way the engine does.

    :param records: part name -> records, written through ``txn.part_writer()``.
    :param move_pointer: defaults to ``True`` for ``success``, ``False`` otherwise.
    :param expected_generation: defaults to the generation read from the pointer now.
    """
    if expected_generation is _KEEP:
        pointer = store.read_pointer()
        expected_generation = pointer.generation if pointer else 0
    txn = store.begin()
    try:
        parts = [write_part(txn, name, rows) for name, rows in (records or {}).items()]
        snap = manifest(
            namespace=namespace,
            status=status,
            payload=payload,
            parts=parts,
            created_at=created_at,
            context=context,
        )
        return txn.commit(
            snap,
            move_pointer=(status == "success") if move_pointer is None else move_pointer,
            expected_generation=expected_generation,
        )
    except BaseException:
        txn.abort()
        raise


def _rows(count: int, tag: str = "r") -> list[dict[str, Any]]:
    return [{"id": f"{tag}{i}", "n": i, "name": f"row {i}"} for i in range(count)]


def _hold_lock_and_die(make_store: MakeStore, path: Path) -> None:
    store = make_store(path)
    store.lock("doomed-holder", 3600.0)
    os._exit(0)


class StoreConformance:
    """Behaviour every snapshot store must show. Subclass it as ``Test<YourStore>``."""

    # -- fixtures a store's tests supply ---------------------------------------------------

    @pytest.fixture
    def make_store(self) -> MakeStore:
        """Override: return ``make_store(path) -> SnapshotStore``."""
        pytest.fail("define a make_store fixture returning a function path -> SnapshotStore")

    @pytest.fixture
    def damage_part(self) -> DamagePart | None:
        """Override to let the kit damage a stored part: ``(store, sha256, how) -> None``."""
        return None

    @pytest.fixture
    def damage_manifest(self) -> DamageManifest | None:
        """Override to let the kit damage a stored manifest: ``(store, snapshot_id) -> None``."""
        return None

    @pytest.fixture
    def damage_chunk(self) -> DamageChunk | None:
        """Override to let the kit damage a stored chunk (stores with ChunkedPartReader):
        ``(store, sha256, position, how) -> None``."""
        return None

    @pytest.fixture
    def store_path(self, tmp_path: Path) -> Path:
        """The directory the store under test lives in."""
        return tmp_path / "store"

    @pytest.fixture
    def store(self, make_store: MakeStore, store_path: Path) -> SnapshotStore:
        """A fresh, empty store."""
        return make_store(store_path)

    @pytest.fixture
    def reopen(self, make_store: MakeStore, store_path: Path) -> Callable[[], SnapshotStore]:
        """Open a second handle on the same store."""
        return lambda: make_store(store_path)

    # -- the contract's shape --------------------------------------------------------------

    def test_store_implements_the_store_protocol(self, store: SnapshotStore) -> None:
        assert isinstance(store, SnapshotStore)
        assert isinstance(store.key, str) and store.key
        txn = store.begin()
        assert isinstance(txn, Transaction)
        txn.abort()

    def test_empty_store_has_no_current_snapshot(self, store: SnapshotStore) -> None:
        _assert_reads_as_empty(store)

    def test_reads_leave_a_store_not_created_yet_uncreated_if_it_says_where_it_is(
        self, store: SnapshotStore
    ) -> None:
        if not isinstance(store, StoreLocation):
            pytest.skip("the store has no location and exists() (optional: StoreLocation)")
        assert isinstance(store.location, str) and store.location
        assert not store.exists(), "a store must not exist before its first write"
        _assert_reads_as_empty(store)
        assert store.lock_info() is None
        with pytest.raises(SnapshotNotFoundError):
            store.get("ab" * 32)
        with pytest.raises(StoreError):
            list(store.iter_part_lines("0" * 64))
        report = store.verify()
        assert report.ok and report.snapshots == 0 and report.parts == 0
        assert store.prune(RetentionPolicy(keep_last=1), dry_run=True, now=NOW).decisions == ()
        assert not store.exists(), "reads must not create the store"
        commit(store, payload=1)
        assert store.exists()

    # -- commits and the pointer -----------------------------------------------------------

    def test_success_moves_pointer_to_the_new_snapshot(self, store: SnapshotStore) -> None:
        result = commit(store, payload=1, records={"people": _rows(5)})
        assert result.pointer is not None
        assert result.pointer.snapshot_id == result.snapshot_id
        assert result.pointer.generation == 1
        assert len(result.pointer.manifest_sha256) == 64
        assert store.read_pointer() == result.pointer
        current = store.latest_successful()
        assert current is not None and current.id == result.snapshot_id

    def test_each_success_increments_the_generation(self, store: SnapshotStore) -> None:
        generations = [commit(store, payload=i).pointer for i in range(3)]
        assert [p.generation for p in generations if p] == [1, 2, 3]

    def test_failed_run_is_recorded_but_never_moves_pointer(self, store: SnapshotStore) -> None:
        good = commit(store, payload="good")
        failed = commit(store, payload="bad", status="failed", move_pointer=True)
        assert failed.pointer is None
        assert store.read_pointer() == good.pointer
        current = store.latest_successful()
        assert current is not None and current.id == good.snapshot_id
        latest = store.latest()
        assert latest is not None and latest.id == failed.snapshot_id
        recorded = store.get(failed.snapshot_id)
        assert recorded.status == "failed"
        assert [e.code for e in recorded.errors] == ["kit_failure"]

    def test_last_known_good_is_served_to_a_new_handle_after_a_failure(
        self, store: SnapshotStore, reopen: Callable[[], SnapshotStore]
    ) -> None:
        good = commit(store, payload="good", records={"t": _rows(3)})
        commit(store, payload="bad", status="failed")
        other = reopen()
        current = other.latest_successful()
        assert current is not None and current.id == good.snapshot_id
        assert other.read_pointer() == good.pointer

    def test_failed_first_run_leaves_no_current_snapshot(self, store: SnapshotStore) -> None:
        commit(store, payload="bad", status="failed", move_pointer=True)
        assert store.read_pointer() is None
        assert store.latest_successful() is None
        latest = store.latest()
        assert latest is not None and latest.status == "failed"

    def test_partial_moves_pointer_only_when_asked(self, store: SnapshotStore) -> None:
        good = commit(store, payload="good")
        kept_back = commit(store, payload="p1", status="partial", move_pointer=False)
        assert kept_back.pointer is None
        assert store.read_pointer() == good.pointer
        moved = commit(store, payload="p2", status="partial", move_pointer=True)
        assert moved.pointer is not None and moved.pointer.snapshot_id == moved.snapshot_id
        current = store.latest_successful()
        assert current is not None and current.status == "partial"

    def test_success_not_asked_to_move_leaves_pointer(self, store: SnapshotStore) -> None:
        first = commit(store, payload=1)
        second = commit(store, payload=2, move_pointer=False)
        assert second.pointer is None
        assert store.read_pointer() == first.pointer
        assert {i.id for i in store.list()} == {first.snapshot_id, second.snapshot_id}

    def test_stale_expected_generation_raises_conflict_and_leaves_pointer(
        self, store: SnapshotStore
    ) -> None:
        commit(store, payload=1)
        winner = commit(store, payload=2)
        with pytest.raises(PointerConflictError):
            commit(store, payload=3, expected_generation=1)
        assert store.read_pointer() == winner.pointer

    def test_first_commit_expects_generation_zero(self, store: SnapshotStore) -> None:
        with pytest.raises(PointerConflictError):
            commit(store, payload=1, expected_generation=5)
        assert store.read_pointer() is None

    def test_commit_without_generation_check_moves_pointer(self, store: SnapshotStore) -> None:
        commit(store, payload=1)
        result = commit(store, payload=2, expected_generation=None)
        assert result.pointer is not None and result.pointer.generation == 2

    def test_a_second_handle_sees_commits_of_the_first(
        self, store: SnapshotStore, reopen: Callable[[], SnapshotStore]
    ) -> None:
        other = reopen()
        assert other.latest_successful() is None
        first = commit(store, payload=1)
        current = other.latest_successful()
        assert current is not None and current.id == first.snapshot_id
        second = commit(other, payload=2)
        current = store.latest_successful()
        assert current is not None and current.id == second.snapshot_id

    # -- parts -----------------------------------------------------------------------------

    def test_part_reads_back_line_by_line(self, store: SnapshotStore) -> None:
        rows = _rows(250)
        result = commit(store, records={"people": rows})
        ref = store.get(result.snapshot_id).part("people")
        lines = record_lines(rows)
        assert ref.sha256 == sha256_hex(b"".join(lines))
        assert ref.bytes == len(b"".join(lines))
        assert list(store.iter_part_lines(ref.sha256)) == lines
        with store.open_part(ref.sha256) as handle:
            assert handle.read() == b"".join(lines)

    def test_empty_part_round_trips(self, store: SnapshotStore) -> None:
        result = commit(store, records={"nothing": []})
        ref = store.get(result.snapshot_id).part("nothing")
        assert ref.sha256 == sha256_hex(b"")
        assert list(store.iter_part_lines(ref.sha256)) == []

    def test_unchanged_part_is_shared_by_two_snapshots(self, store: SnapshotStore) -> None:
        rows = _rows(20)
        first = commit(store, payload=1, records={"t": rows})
        second = commit(store, payload=2, records={"t": rows})
        a = store.get(first.snapshot_id).part("t")
        b = store.get(second.snapshot_id).part("t")
        assert a.sha256 == b.sha256
        assert list(store.iter_part_lines(a.sha256)) == record_lines(rows)

    def test_abort_records_nothing(self, store: SnapshotStore) -> None:
        txn = store.begin()
        ref = write_part(txn, "t", _rows(10, "aborted"))
        txn.abort()
        assert store.list() == []
        assert store.read_pointer() is None
        with pytest.raises(StoreError):
            list(store.iter_part_lines(ref.sha256))

    def test_failed_run_keeps_no_parts(self, store: SnapshotStore) -> None:
        result = commit(store, status="failed", records={"t": _rows(10, "failed")})
        ref = store.get(result.snapshot_id).part("t")
        with pytest.raises(StoreError):
            list(store.iter_part_lines(ref.sha256))

    def test_part_refs_refuse_non_hex_hashes(self, store: SnapshotStore) -> None:
        for bad in ("../../etc/passwd", "A" * 64, "zz", ""):
            with pytest.raises(InvalidIdentifierError):
                list(store.iter_part_lines(bad))

    def test_part_reads_back_in_blocks_if_the_store_offers_block_reads(
        self, store: SnapshotStore
    ) -> None:
        if not isinstance(store, PartBlockReader):
            pytest.skip("the store has no iter_part_blocks (optional: PartBlockReader)")
        rows = _rows(3000)
        result = commit(store, records={"people": rows, "nothing": []})
        snap = store.get(result.snapshot_id)
        data = b"".join(record_lines(rows))
        for verify in (True, False):
            blocks = list(store.iter_part_blocks(snap.part("people").sha256, verify=verify))
            assert all(isinstance(block, bytes) for block in blocks)
            assert b"".join(blocks) == data
            assert (
                b"".join(store.iter_part_blocks(snap.part("nothing").sha256, verify=verify)) == b""
            )
            with pytest.raises(InvalidIdentifierError):
                list(store.iter_part_blocks("../../etc/passwd", verify=verify))
            with pytest.raises(StoreError):
                list(store.iter_part_blocks("0" * 64, verify=verify))

    def test_part_ranges_read_back_if_the_store_offers_range_reads(
        self, store: SnapshotStore
    ) -> None:
        if not isinstance(store, PartRangeReader):
            pytest.skip("the store has no read_part_ranges (optional: PartRangeReader)")
        rows = _rows(3000)
        result = commit(store, records={"people": rows, "nothing": []})
        snap = store.get(result.snapshot_id)
        data = b"".join(record_lines(rows))
        sha = snap.part("people").sha256
        ranges = [
            (0, 0),
            (0, 1),
            (5, 100),
            (5, 7),
            (len(data) // 3, 50_000),
            (len(data) // 2, 1),
            (len(data) - 10, 10),
            (len(data) - 3, 100),
            (len(data), 5),
            (len(data) + 1000, 5),
        ]
        pieces = list(store.read_part_ranges(sha, ranges))
        assert pieces == [data[offset : offset + length] for offset, length in ranges]
        assert all(isinstance(piece, bytes) for piece in pieces)
        assert list(store.read_part_ranges(sha, [])) == []
        assert b"".join(store.read_part_ranges(sha, [(0, len(data))])) == data
        assert list(store.read_part_ranges(snap.part("nothing").sha256, [(0, 10)])) == [b""]
        with pytest.raises(ValueError):
            list(store.read_part_ranges(sha, [(100, 1), (10, 1)]))
        with pytest.raises(InvalidIdentifierError):
            list(store.read_part_ranges("../../etc/passwd", [(0, 1)]))
        with pytest.raises(StoreError):
            list(store.read_part_ranges("0" * 64, [(0, 1)]))

    @pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
    def test_range_reads_of_a_damaged_part_raise(
        self, store: SnapshotStore, damage_part: DamagePart | None, how: str
    ) -> None:
        if not isinstance(store, PartRangeReader):
            pytest.skip("the store has no read_part_ranges (optional: PartRangeReader)")
        if damage_part is None:
            pytest.fail(
                "supply a damage_part fixture: a store with range reads must show "
                "that they detect damaged parts"
            )
        rows = _rows(200)
        good = commit(store, payload=1, records={"t": rows})
        sha = store.get(good.snapshot_id).part("t").sha256
        size = len(b"".join(record_lines(rows)))
        damage_part(store, sha, how)
        with pytest.raises(StoreError):
            list(store.read_part_ranges(sha, [(0, size)]))

    # -- chunked parts (optional: ChunkedPartReader) -----------------------------------------

    @staticmethod
    def _chunked(store: SnapshotStore, payload: Any, rows: list[dict[str, Any]]) -> str:
        """Commit ``rows`` as part ``t`` of a large table; return the part's SHA-256."""
        if not isinstance(store, ChunkedPartReader):
            pytest.skip("the store keeps parts whole (optional: ChunkedPartReader)")
        result = commit(store, payload=payload, records={"t": rows})
        sha = store.get(result.snapshot_id).part("t").sha256
        if store.part_chunks(sha) is None:
            pytest.skip(
                "the store kept a part of about 1 MB whole (chunking off): run the kit on a "
                "store opened with chunking on too"
            )
        return sha

    def test_chunks_of_a_large_part_join_to_it_if_the_store_chunks_parts(
        self, store: SnapshotStore
    ) -> None:
        rows = _rows(20_000)
        sha = self._chunked(store, 1, rows)
        assert isinstance(store, ChunkedPartReader)
        chunks = store.part_chunks(sha)
        assert isinstance(chunks, ChunkTable), "part_chunks returns a snapkit.store.ChunkTable"
        assert len(chunks) > 1
        data = b"".join(record_lines(rows))
        pieces = list(store.iter_chunks(sha, range(len(chunks))))
        assert b"".join(pieces) == data
        assert sum(chunk.rows for chunk in chunks) == len(rows)
        for chunk, piece in zip(chunks, pieces, strict=True):
            assert (chunk.size, chunk.sha256) == (len(piece), sha256_hex(piece))
            assert piece.endswith(b"\n") and piece.count(b"\n") == chunk.rows
        assert chunks.digests == b"".join(hashlib.sha256(piece).digest() for piece in pieces)
        last = len(chunks) - 1
        assert list(store.iter_chunks(sha, [0, last], verify=False)) == [pieces[0], pieces[-1]]
        assert list(store.iter_chunks(sha, [])) == []
        with pytest.raises(ValueError):
            list(store.iter_chunks(sha, [1, 0]))
        with pytest.raises(ValueError):
            list(store.iter_chunks(sha, [len(chunks)]))
        empty = commit(store, payload=2, records={"nothing": []})
        nothing = store.get(empty.snapshot_id).part("nothing").sha256
        assert store.part_chunks(nothing) in (None, [])
        with pytest.raises(StoreError):
            store.part_chunks("0" * 64)

    @pytest.mark.parametrize("change", ["changed", "inserted", "removed"])
    def test_a_row_changed_in_a_large_table_leaves_all_but_a_few_chunks_shared(
        self, store: SnapshotStore, change: str
    ) -> None:
        rows = _rows(20_000)
        first = self._chunked(store, 1, rows)
        if change == "changed":
            rows[12_345] = {**rows[12_345], "name": "a changed name"}
        elif change == "inserted":
            rows.insert(12_345, {"id": "new", "n": -1, "name": "an inserted row"})
        else:
            del rows[12_345]
        second = self._chunked(store, 2, rows)
        assert isinstance(store, ChunkedPartReader)
        before = {chunk.sha256 for chunk in store.part_chunks(first) or ()}
        after = store.part_chunks(second) or ()
        unshared = [chunk for chunk in after if chunk.sha256 not in before]
        assert 1 <= len(unshared) <= 3, f"{len(unshared)} of {len(after)} chunks are new"
        assert b"".join(store.iter_chunks(second, range(len(after)))) == b"".join(
            record_lines(rows)
        )

    @pytest.mark.parametrize("verify", [True, False])
    @pytest.mark.parametrize("how", ["flip", "delete"])
    def test_a_damaged_chunk_raises_and_verify_reports_it(
        self, store: SnapshotStore, damage_chunk: DamageChunk | None, how: str, verify: bool
    ) -> None:
        sha = self._chunked(store, 1, _rows(20_000))
        assert isinstance(store, ChunkedPartReader)
        if damage_chunk is None:
            pytest.fail(
                "supply a damage_chunk fixture: a store that chunks parts must show that "
                "chunk reads and verify detect damaged chunks"
            )
        chunks = store.part_chunks(sha) or ()
        position = len(chunks) // 2
        damage_chunk(store, sha, position, how)
        with pytest.raises(StoreError):
            list(store.iter_chunks(sha, [position], verify=verify))
        with pytest.raises(StoreError):
            list(store.iter_part_lines(sha))
        report = store.verify()
        assert not report.ok

    # -- identity --------------------------------------------------------------------------

    def test_same_content_gives_same_id_whatever_the_capture_time(
        self, store: SnapshotStore
    ) -> None:
        early = manifest(payload="same", created_at=at(3))
        late = manifest(payload="same", created_at=at(1))
        assert early.id == late.id
        first = commit(store, payload="same", created_at=at(3))
        second = commit(store, payload="same", created_at=at(1))
        assert first.snapshot_id == second.snapshot_id == early.id
        assert [info.id for info in store.list()] == [early.id]
        current = store.latest_successful()
        assert current is not None and current.id == early.id

    def test_different_content_gives_different_ids(self, store: SnapshotStore) -> None:
        ids = {commit(store, payload=i).snapshot_id for i in range(3)}
        assert len(ids) == 3

    def test_stored_manifest_keeps_versions_scope_and_errors(self, store: SnapshotStore) -> None:
        result = commit(store, payload={"k": [1, 2]}, status="failed", namespace="district-9")
        got = store.get(result.snapshot_id)
        assert got.schema_version == "1" and got.calculation_version == "1"
        assert got.scope.namespace == "district-9"
        assert got.payloads == {"value": {"k": [1, 2]}}
        assert got.errors and got.errors[0].code == "kit_failure"
        assert got.id == result.snapshot_id

    # -- get -------------------------------------------------------------------------------

    def test_get_accepts_a_full_id_or_a_unique_prefix(self, store: SnapshotStore) -> None:
        result = commit(store, payload="x")
        assert store.get(result.snapshot_id).id == result.snapshot_id
        assert store.get(result.snapshot_id[:12]).id == result.snapshot_id

    def test_get_raises_ambiguous_for_a_shared_prefix(self, store: SnapshotStore) -> None:
        by_first: dict[str, str] = {}
        n = 0
        while True:
            snapshot_id = commit(store, payload=n, move_pointer=False).snapshot_id
            n += 1
            if snapshot_id[0] in by_first:
                break
            by_first[snapshot_id[0]] = snapshot_id
        with pytest.raises(AmbiguousSnapshotIdError):
            store.get(snapshot_id[0])

    def test_get_raises_not_found_for_an_unknown_id(self, store: SnapshotStore) -> None:
        known = commit(store, payload="x").snapshot_id
        unknown = ("0" if known[0] != "0" else "1") * 64
        with pytest.raises(SnapshotNotFoundError):
            store.get(unknown)
        with pytest.raises(SnapshotNotFoundError):
            store.get(unknown[:10])

    @pytest.mark.parametrize(
        "ref", ["../x", "../../etc/passwd", "ABCDEF", "", "a/b", "0" * 65, "g1", " 0a", "0a\n"]
    )
    def test_get_refuses_refs_that_are_not_lowercase_hex(
        self, store: SnapshotStore, ref: str
    ) -> None:
        with pytest.raises(InvalidIdentifierError):
            store.get(ref)

    # -- list ------------------------------------------------------------------------------

    def test_list_is_newest_first_and_limited(self, store: SnapshotStore) -> None:
        ids = [commit(store, payload=i, created_at=at(10 - i)).snapshot_id for i in range(5)]
        listed = store.list()
        assert [info.id for info in listed] == list(reversed(ids))
        assert [info.id for info in store.list(limit=2)] == [ids[4], ids[3]]
        assert store.list(limit=0) == []

    def test_list_orders_by_capture_time_not_commit_order(self, store: SnapshotStore) -> None:
        newer = commit(store, payload="newer", created_at=at(1)).snapshot_id
        older = commit(store, payload="older", created_at=at(5)).snapshot_id
        assert [info.id for info in store.list()] == [newer, older]
        latest = store.latest()
        assert latest is not None and latest.id == newer

    def test_list_reports_metadata(self, store: SnapshotStore) -> None:
        result = commit(
            store, payload="m", records={"a": _rows(3), "b": _rows(4)}, created_at=at(1)
        )
        (info,) = store.list()
        assert info.id == result.snapshot_id
        assert info.created_at == at(1)
        assert info.status == "success"
        assert info.namespace == "kit"
        assert info.scope_id == Scope(namespace="kit").id
        assert info.part_count == 2 and info.record_count == 7 and info.error_count == 0
        assert info.schema_version == "1" and info.calculation_version == "1"
        assert info.size_bytes > 0

    def test_list_filters_by_status_namespace_scope_and_time(self, store: SnapshotStore) -> None:
        a = commit(store, payload=1, namespace="north", created_at=at(5)).snapshot_id
        b = commit(store, payload=2, namespace="south", created_at=at(3)).snapshot_id
        c = commit(
            store, payload=3, namespace="north", status="failed", created_at=at(2)
        ).snapshot_id
        d = commit(
            store,
            payload=4,
            namespace="north",
            status="partial",
            created_at=at(1),
            context="class-1",
        ).snapshot_id

        def ids(**kwargs: Any) -> list[str]:
            limit = kwargs.pop("limit", None)
            return [info.id for info in store.list(ListFilter(**kwargs), limit=limit)]

        assert ids(status=("failed",)) == [c]
        assert ids(status=("success", "partial")) == [d, b, a]
        assert ids(namespace="north") == [d, c, a]
        assert ids(namespace="north", limit=1) == [d]
        assert ids(scope_id=Scope(namespace="north", context="class-1").id) == [d]
        assert ids(since=NOW - _dt.timedelta(days=3)) == [d, c, b]
        assert ids(until=NOW - _dt.timedelta(days=3)) == [a]
        assert ids(since=NOW - _dt.timedelta(days=4), until=NOW - _dt.timedelta(days=1.5)) == [c, b]
        assert ids(namespace="nowhere") == []

    # -- history and as_of -----------------------------------------------------------------

    def test_history_counts_pointer_moves_and_failures(self, store: SnapshotStore) -> None:
        commit(store, payload=1)
        commit(store, payload=2, status="failed")
        commit(store, payload=3)
        commit(store, payload=4, status="failed")
        commit(store, payload=5, status="partial", move_pointer=False)
        last = commit(store, payload=6)
        history = list(store.history())
        moves = [e for e in history if e.event == "pointer_moved"]
        failures = [e for e in history if e.event == "refresh_failed"]
        assert [e.generation for e in moves] == [1, 2, 3]
        assert moves[-1].snapshot_id == last.snapshot_id
        assert len(failures) == 2
        assert all(e.status == "failed" and e.errors for e in failures)
        assert [e.at for e in history] == sorted(e.at for e in history)

    def test_as_of_returns_the_snapshot_current_at_that_time(self, store: SnapshotStore) -> None:
        before = _wait_past(_dt.datetime.now(_dt.UTC))
        first = commit(store, payload=1).snapshot_id
        between = _wait_past(_dt.datetime.now(_dt.UTC))
        commit(store, payload="f", status="failed")
        second = commit(store, payload=2).snapshot_id
        after = _wait_past(_dt.datetime.now(_dt.UTC))
        assert store.as_of(before) is None
        current = store.as_of(between)
        assert current is not None and current.id == first
        current = store.as_of(after)
        assert current is not None and current.id == second

    # -- retention -------------------------------------------------------------------------

    def _series(self, store: SnapshotStore, days: Sequence[float]) -> list[str]:
        """Commit one success per entry of ``days`` (days ago), oldest first; return ids."""
        ordered = sorted(days, reverse=True)
        return [
            commit(
                store, payload=f"day-{d}", created_at=at(d), records={"t": _rows(2, f"d{d}")}
            ).snapshot_id
            for d in ordered
        ]

    def test_prune_keep_last_keeps_the_newest_n(self, store: SnapshotStore) -> None:
        ids = self._series(store, [5, 4, 3, 2, 1])
        report = store.prune(RetentionPolicy(keep_last=2), now=NOW)
        assert report.removed_snapshots == 3
        assert {i.id for i in store.list()} == set(ids[-2:])
        for snapshot_id in ids[:3]:
            with pytest.raises(SnapshotNotFoundError):
                store.get(snapshot_id)

    def test_prune_keep_daily_keeps_the_newest_of_each_day(self, store: SnapshotStore) -> None:
        ids = self._series(store, [3.1, 3.0, 2.2, 2.1, 1.1, 1.0])
        # days 1, 2, 3 ago: keep the newest of the two most recent days with a snapshot
        store.prune(RetentionPolicy(keep_daily=2), now=NOW)
        assert {i.id for i in store.list()} == {ids[5], ids[3]}

    def test_prune_max_age_removes_only_old_snapshots(self, store: SnapshotStore) -> None:
        ids = self._series(store, [40, 35, 10, 1])
        report = store.prune(RetentionPolicy(max_age_days=30), now=NOW)
        assert {i.id for i in store.list()} == set(ids[2:])
        dropped = {d.snapshot_id: d for d in report.decisions if not d.keep}
        assert set(dropped) == set(ids[:2])
        assert all(any("30" in r for r in d.reasons) for d in dropped.values())

    def test_prune_never_removes_the_pointer_target_or_last_success(
        self, store: SnapshotStore
    ) -> None:
        target = commit(store, payload="target", created_at=at(50)).snapshot_id
        newer = [
            commit(
                store, payload=f"p{i}", status="partial", move_pointer=False, created_at=at(10 - i)
            ).snapshot_id
            for i in range(3)
        ]
        report = store.prune(RetentionPolicy(keep_last=1, max_age_days=5), now=NOW)
        kept = {d.snapshot_id: d.reasons for d in report.decisions if d.keep}
        assert target in kept
        assert any("pointer" in r for r in kept[target])
        assert any("success" in r for r in kept[target])
        assert newer[-1] in kept
        current = store.latest_successful()
        assert current is not None and current.id == target

    def test_prune_dry_run_removes_nothing_and_says_why(self, store: SnapshotStore) -> None:
        ids = self._series(store, [4, 3, 2, 1])
        report = store.prune(RetentionPolicy(keep_last=2), dry_run=True, now=NOW)
        assert report.dry_run
        assert report.removed_snapshots == 2
        assert {i.id for i in store.list()} == set(ids)
        by_id = {d.snapshot_id: d for d in report.decisions}
        assert set(by_id) == set(ids)
        assert [d.snapshot_id for d in report.decisions] == list(reversed(ids))
        assert all(d.reasons for d in report.decisions)
        assert not by_id[ids[0]].keep and not by_id[ids[1]].keep
        assert by_id[ids[3]].keep and any("keep_last" in r for r in by_id[ids[3]].reasons)
        assert any("pointer" in r for r in by_id[ids[3]].reasons)

    def test_prune_removes_parts_no_kept_snapshot_references(self, store: SnapshotStore) -> None:
        shared = _rows(5, "shared")
        old = commit(
            store,
            payload="old",
            created_at=at(3),
            records={"shared": shared, "own": _rows(5, "old-only")},
        ).snapshot_id
        new = commit(
            store,
            payload="new",
            created_at=at(1),
            records={"shared": shared, "own": _rows(5, "new-only")},
        ).snapshot_id
        old_own = store.get(old).part("own").sha256
        shared_sha = store.get(old).part("shared").sha256
        report = store.prune(RetentionPolicy(keep_last=1), now=NOW)
        assert report.removed_snapshots == 1
        assert report.removed_parts == 1
        assert report.freed_bytes > 0
        with pytest.raises(StoreError):
            list(store.iter_part_lines(old_own))
        assert list(store.iter_part_lines(shared_sha)) == record_lines(shared)
        assert list(store.iter_part_lines(store.get(new).part("own").sha256)) == record_lines(
            _rows(5, "new-only")
        )
        assert store.verify().ok

    def test_prune_with_no_rule_keeps_everything(self, store: SnapshotStore) -> None:
        ids = self._series(store, [400, 300, 1])
        report = store.prune(RetentionPolicy(), now=NOW)
        assert report.removed_snapshots == 0 and report.removed_parts == 0
        assert {i.id for i in store.list()} == set(ids)

    # -- the refresh lease -----------------------------------------------------------------

    def test_second_taker_gets_lock_held_error_naming_the_holder(
        self, store: SnapshotStore, reopen: Callable[[], SnapshotStore]
    ) -> None:
        with store.lock("nightly-refresh", 3600.0) as lease:
            assert lease.info.holder == "nightly-refresh"
            assert lease.info.pid == os.getpid()
            with pytest.raises(LockHeldError) as caught:
                reopen().lock("manual-refresh", 3600.0)
            assert "nightly-refresh" in str(caught.value)
            assert lease.info.acquired_at in str(caught.value)
            info = reopen().lock_info()
            assert info is not None and info.holder == "nightly-refresh"
        assert store.lock_info() is None
        with reopen().lock("manual-refresh", 3600.0) as second:
            assert second.info.holder == "manual-refresh"

    def test_heartbeat_renews_the_lease(self, store: SnapshotStore) -> None:
        with store.lock("a", 3600.0) as lease:
            first = lease.info.heartbeat_at
            _wait_past(_dt.datetime.now(_dt.UTC))
            lease.heartbeat()
            info = store.lock_info()
            assert info is not None and info.heartbeat_at > first

    def test_lease_with_an_old_heartbeat_is_taken_over(
        self, store: SnapshotStore, reopen: Callable[[], SnapshotStore]
    ) -> None:
        silent = store.lock("silent", 3600.0)
        time.sleep(0.3)
        with pytest.raises(LockHeldError):
            reopen().lock("patient", 3600.0)
        with reopen().lock("impatient", 0.1) as taker:
            assert taker.info.holder == "impatient"
            with pytest.raises(LockHeldError):
                silent.heartbeat()
            silent.__exit__(None, None, None)
            info = store.lock_info()
            assert info is not None and info.holder == "impatient"

    def test_lease_of_a_dead_process_is_taken_over(
        self, make_store: MakeStore, store_path: Path, store: SnapshotStore
    ) -> None:
        child = multiprocessing.get_context("fork").Process(
            target=_hold_lock_and_die, args=(make_store, store_path)
        )
        child.start()
        child.join(30)
        assert child.exitcode == 0
        info = store.lock_info()
        assert info is not None and info.holder == "doomed-holder"
        with store.lock("survivor", 3600.0) as lease:
            assert lease.info.holder == "survivor"

    # -- verify ----------------------------------------------------------------------------

    def test_verify_passes_on_a_healthy_store(self, store: SnapshotStore) -> None:
        commit(store, payload=1, records={"t": _rows(30)})
        commit(store, payload=2, status="failed", records={"t": _rows(3, "x")})
        commit(store, payload=3, records={"t": _rows(30), "u": _rows(2)})
        report = store.verify()
        assert report.ok, report.problems
        assert report.snapshots == 3
        assert report.parts >= 2
        assert not report.pointer_recovered

    @pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
    def test_verify_reports_a_damaged_part(
        self, store: SnapshotStore, damage_part: DamagePart | None, how: str
    ) -> None:
        if damage_part is None:
            pytest.fail(
                "supply a damage_part fixture: a store must show that verify "
                "detects damaged parts to pass the kit"
            )
        good = commit(store, payload=1, records={"t": _rows(200)})
        sha = store.get(good.snapshot_id).part("t").sha256
        damage_part(store, sha, how)
        report = store.verify()
        assert not report.ok
        assert any(p.ref == sha for p in report.problems), report.problems
        with pytest.raises(StoreError):
            list(store.iter_part_lines(sha))

    @pytest.mark.parametrize("verify", [True, False])
    @pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
    def test_block_reads_of_a_damaged_part_raise_with_or_without_verify(
        self, store: SnapshotStore, damage_part: DamagePart | None, how: str, verify: bool
    ) -> None:
        if not isinstance(store, PartBlockReader):
            pytest.skip("the store has no iter_part_blocks (optional: PartBlockReader)")
        if damage_part is None:
            pytest.fail(
                "supply a damage_part fixture: a store with block reads must show "
                "that they detect damaged parts"
            )
        good = commit(store, payload=1, records={"t": _rows(200)})
        sha = store.get(good.snapshot_id).part("t").sha256
        damage_part(store, sha, how)
        with pytest.raises(StoreError):
            for _block in store.iter_part_blocks(sha, verify=verify):
                pass

    def test_verify_reports_a_damaged_manifest(
        self, store: SnapshotStore, damage_manifest: DamageManifest | None
    ) -> None:
        if damage_manifest is None:
            pytest.fail(
                "supply a damage_manifest fixture: a store must show that verify "
                "detects damaged manifests to pass the kit"
            )
        commit(store, payload=1)
        victim = commit(store, payload=2, move_pointer=False).snapshot_id
        damage_manifest(store, victim)
        report = store.verify()
        assert any(p.ref == victim for p in report.problems), report.problems

    # -- trust: parts that do not verify, never-current snapshots, the pointer's history ------

    @pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
    def test_a_commit_that_stages_a_damaged_part_again_rewrites_it(
        self, store: SnapshotStore, damage_part: DamagePart | None, how: str
    ) -> None:
        if damage_part is None:
            pytest.fail(
                "supply a damage_part fixture: a store must show that a commit "
                "rewrites a damaged part it stages again"
            )
        rows = _rows(120)
        first = commit(store, payload=1, records={"t": rows})
        sha = store.get(first.snapshot_id).part("t").sha256
        damage_part(store, sha, how)
        again = commit(store, payload=1, records={"t": rows})
        assert again.snapshot_id == first.snapshot_id and again.pointer is not None
        report = store.verify()
        assert report.ok, report.problems
        assert list(store.iter_part_lines(sha)) == record_lines(rows)

    def test_a_commit_refuses_a_damaged_stored_part_it_did_not_stage(
        self, store: SnapshotStore, damage_part: DamagePart | None
    ) -> None:
        if damage_part is None:
            pytest.fail(
                "supply a damage_part fixture: a store must show that a commit never "
                "points at a part that does not verify"
            )
        first = commit(store, payload=1, records={"t": _rows(120)})
        ref = store.get(first.snapshot_id).part("t")
        damage_part(store, ref.sha256, "truncate")
        txn = store.begin()
        try:
            with pytest.raises(StoreError):
                txn.commit(
                    manifest(payload=2, parts=[ref]), move_pointer=True, expected_generation=1
                )
        finally:
            txn.abort()
        assert store.read_pointer() == first.pointer
        assert [i.id for i in store.list()] == [first.snapshot_id]

    def test_list_marks_snapshots_that_never_became_current(self, store: SnapshotStore) -> None:
        moved = commit(store, payload=1).snapshot_id
        with pytest.raises(PointerConflictError):
            commit(store, payload=2, expected_generation=0)
        lost = next(i.id for i in store.list() if i.id != moved)
        kept_back = commit(store, payload=3, move_pointer=False).snapshot_id
        held = commit(store, payload=4, status="partial", move_pointer=False).snapshot_id
        failed = commit(store, payload=5, status="failed").snapshot_id
        became = {i.id: i.became_current for i in store.list()}
        assert became == {moved: True, lost: False, kept_back: False, held: False, failed: False}
        commit(store, payload=3)  # the same snapshot, now moving the pointer
        assert {i.id: i.became_current for i in store.list()}[kept_back] is True

    def test_history_keeps_the_pointer_s_moves_in_order(self, store: SnapshotStore) -> None:
        a = commit(store, payload="A").snapshot_id
        b = commit(store, payload="B").snapshot_id
        commit(store, payload="lost", expected_generation=None, move_pointer=False)
        assert commit(store, payload="A").snapshot_id == a
        moves = [e for e in store.history() if e.event == "pointer_moved"]
        assert [(e.snapshot_id, e.generation) for e in moves] == [(a, 1), (b, 2), (a, 3)]
        trail = pointer_trail(store.history(), store.read_pointer())
        assert trail.ids == (a, b, a) and trail.whole
        assert trail.back(1) == b and trail.back(3) is None

    # -- importing another store's snapshots (optional: SnapshotImporter) -------------------

    def _importer(self, make_store: MakeStore, tmp_path: Path) -> SnapshotStore:
        target = make_store(tmp_path / "import-target")
        if not isinstance(target, SnapshotImporter):
            pytest.skip(
                "the store has no import_snapshot/import_history (optional: SnapshotImporter)"
            )
        return target

    def test_import_copies_snapshots_history_and_pointer_as_they_were(
        self, store: SnapshotStore, make_store: MakeStore, tmp_path: Path
    ) -> None:
        target = self._importer(make_store, tmp_path)
        assert isinstance(target, SnapshotImporter)
        a = commit(store, payload="A", records={"t": _rows(40), "u": _rows(3, "u")}).snapshot_id
        b = commit(store, payload="B", records={"t": _rows(40)}).snapshot_id
        commit(store, payload="F", status="failed", records={"t": _rows(2, "f")})
        commit(store, payload="held", status="partial", move_pointer=False)
        assert (
            commit(store, payload="A", records={"t": _rows(40), "u": _rows(3, "u")}).snapshot_id
            == a
        )
        infos = list(reversed(store.list()))
        for info in infos:
            assert target.import_snapshot(store.get(info.id), store.open_part) is True
        history = list(store.history())
        assert target.import_history(history, store.read_pointer()) == len(history)
        assert [i.id for i in target.list()] == [i.id for i in store.list()]
        assert [(i.id, i.became_current) for i in target.list()] == [
            (i.id, i.became_current) for i in store.list()
        ]
        assert list(target.history()) == history
        source_pointer, copied = store.read_pointer(), target.read_pointer()
        assert source_pointer is not None and copied is not None
        assert (copied.snapshot_id, copied.generation, copied.updated_at) == (
            source_pointer.snapshot_id,
            source_pointer.generation,
            source_pointer.updated_at,
        )
        trail = pointer_trail(target.history(), copied)
        assert trail.ids == (a, b, a) and trail.whole
        for ref in store.get(a).parts:
            assert list(target.iter_part_lines(ref.sha256)) == list(
                store.iter_part_lines(ref.sha256)
            )
        report = target.verify()
        assert report.ok, report.problems
        # idempotent: a second run (a resumed copy) writes nothing and appends nothing
        assert not any(target.import_snapshot(store.get(i.id), store.open_part) for i in infos)
        assert target.import_history(history, store.read_pointer()) == 0
        assert list(target.history()) == history
        more = commit(store, payload="C").snapshot_id  # the source went on: copy the rest
        assert target.import_snapshot(store.get(more), store.open_part)
        assert target.import_history(list(store.history()), store.read_pointer()) == 1
        current = target.latest_successful()
        assert current is not None and current.id == more

    def test_import_history_refuses_a_store_with_a_history_of_its_own(
        self, store: SnapshotStore, make_store: MakeStore, tmp_path: Path
    ) -> None:
        target = self._importer(make_store, tmp_path)
        assert isinstance(target, SnapshotImporter)
        commit(store, payload="source")
        own = commit(target, payload="own").pointer
        with pytest.raises(StoreError, match="history of its own"):
            target.import_history(list(store.history()), store.read_pointer())
        assert target.read_pointer() == own
        assert len(list(target.history())) == 1

    def test_import_refuses_a_part_that_does_not_hash_to_its_name(
        self, store: SnapshotStore, make_store: MakeStore, tmp_path: Path
    ) -> None:
        import contextlib
        import io

        target = self._importer(make_store, tmp_path)
        assert isinstance(target, SnapshotImporter)
        snap = store.get(commit(store, payload=1, records={"t": _rows(10)}).snapshot_id)

        @contextlib.contextmanager
        def wrong(_sha256: str) -> Any:
            yield io.BytesIO(b"".join(record_lines(_rows(10, "other"))))

        with pytest.raises(StoreError):
            target.import_snapshot(snap, wrong)
        assert target.list() == []
        with pytest.raises(StoreError):
            list(target.iter_part_lines(snap.part("t").sha256))

    # -- durability across handles ---------------------------------------------------------

    def test_everything_survives_reopening(
        self, store: SnapshotStore, reopen: Callable[[], SnapshotStore]
    ) -> None:
        a = commit(store, payload=1, records={"t": _rows(10)})
        b = commit(store, payload=2, status="failed")
        other = reopen()
        assert other.read_pointer() == a.pointer
        assert [i.id for i in other.list()] == [i.id for i in store.list()]
        assert list(other.history()) == list(store.history())
        assert other.get(b.snapshot_id).status == "failed"


def _wait_past(moment: _dt.datetime) -> _dt.datetime:
    """Return ``moment`` once the clock has moved past it (store times are microseconds)."""
    while _dt.datetime.now(_dt.UTC) <= moment + _dt.timedelta(microseconds=2):
        time.sleep(0.0005)
    return moment


def _assert_reads_as_empty(store: SnapshotStore) -> None:
    """Every read of ``store`` answers as a store without snapshots does."""
    assert store.read_pointer() is None
    assert store.latest_successful() is None
    assert store.latest() is None
    assert store.list() == []
    assert list(store.history()) == []
    assert store.as_of(_dt.datetime.now(_dt.UTC)) is None
