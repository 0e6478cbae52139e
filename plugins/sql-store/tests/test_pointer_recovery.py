"""The SQL stores recover a pointer that cannot stand the way the file store does
(docs/snapshots.md, "Recovering a damaged store"): to the last pointer move in the history whose
manifest and parts verify, else the newest verified good snapshot, recorded as a new move; a
well-formed pointer with nothing verified left to recover to is kept and reads fail loudly."""

from __future__ import annotations

import logging

import pytest

from snapkit.errors import CorruptSnapshotError
from snapkit.store import pointer_trail
from snapkit.testing.store_kit import commit
from snapkit_sql_store.store import SqlStore
from snapkit_sql_store.testing import damage_part


def _rows(tag: str) -> dict[str, list[dict[str, object]]]:
    return {"t": [{"id": f"{tag}{i}", "n": i} for i in range(20)]}


def _moves(store: SqlStore) -> list[tuple[str, int | None]]:
    return [(e.snapshot_id, e.generation) for e in store.history() if e.event == "pointer_moved"]


def _drop_manifest(store: SqlStore, snapshot_id: str) -> None:
    with store.backend.write() as db:
        db.execute("DELETE FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
    store._forget(snapshot_id)


def test_a_read_of_a_pointer_naming_a_missing_manifest_recovers_to_the_last_good_move(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    a = commit(store, payload="a", records=_rows("a")).snapshot_id
    b = commit(store, payload="b", records=_rows("b")).snapshot_id
    _drop_manifest(store, b)
    with caplog.at_level(logging.WARNING):
        current = store.latest_successful()
    assert current is not None and current.id == a
    assert f"whose manifest is missing); recovered it to snapshot {a}" in caplog.text
    assert _moves(store) == [(a, 1), (b, 2), (a, 3)]
    pointer = store.read_pointer()
    assert pointer is not None and (pointer.snapshot_id, pointer.generation) == (a, 3)


def test_verify_notices_a_pointer_moved_back_and_restores_the_history_s_target(
    store: SqlStore,
) -> None:
    commit(store, payload="a", records=_rows("a"))
    with store.backend.read() as db:
        old = db.one(
            "SELECT snapshot_id, manifest_sha256, generation, updated_at "
            "FROM {p}pointer WHERE id = 1"
        )
    b = commit(store, payload="b", records=_rows("b")).snapshot_id
    assert old is not None
    with store.backend.write() as db:  # a well-formed pointer row, one move back
        db.execute(
            "UPDATE {p}pointer SET snapshot_id = ?, manifest_sha256 = ?, "
            "generation = ?, updated_at = ? WHERE id = 1",
            tuple(old),
        )

    report = store.verify()

    assert report.pointer_recovered and not report.ok
    [problem] = report.problems
    assert problem.kind == "pointer"
    assert "moved back or replaced" in problem.message
    assert f"recovered it to snapshot {b}" in problem.message
    current = store.latest_successful()
    assert current is not None and current.id == b
    assert store.verify().ok


def test_verify_recovers_a_pointer_that_records_the_wrong_manifest_hash(
    store: SqlStore,
) -> None:
    a = commit(store, payload="a").snapshot_id
    b = commit(store, payload="b").snapshot_id
    with store.backend.write() as db:
        db.execute("UPDATE {p}pointer SET manifest_sha256 = ? WHERE id = 1", ("0" * 64,))
    report = store.verify()
    assert report.pointer_recovered
    assert any(p.kind == "pointer" and "manifest hash" in p.message for p in report.problems)
    pointer = store.read_pointer()
    assert pointer is not None and pointer.snapshot_id == b and pointer.generation == 3
    assert pointer_trail(store.history(), pointer).ids == (a, b)
    assert store.verify().ok


def test_a_pointer_whose_only_snapshot_lost_its_manifest_fails_loudly_until_a_refresh(
    store: SqlStore,
) -> None:
    a = commit(store, payload="a", records=_rows("a")).snapshot_id
    _drop_manifest(store, a)
    with pytest.raises(CorruptSnapshotError, match="no verified snapshot is left"):
        store.latest_successful()
    pointer = store.read_pointer()
    assert pointer is not None and pointer.snapshot_id == a  # kept, not removed
    assert not store.verify().ok
    assert commit(store, payload="a", records=_rows("a")).snapshot_id == a
    assert store.verify().ok
    current = store.latest_successful()
    assert current is not None and current.id == a


def test_recovery_skips_a_move_whose_part_is_damaged(store: SqlStore) -> None:
    a = commit(store, payload="a", records=_rows("a")).snapshot_id
    b = commit(store, payload="b", records=_rows("b")).snapshot_id
    c = commit(store, payload="c", records=_rows("c")).snapshot_id
    damage_part(store, store.get(b).part("t").sha256, "flip")
    _drop_manifest(store, c)
    current = store.latest_successful()
    assert current is not None and current.id == a
    assert _moves(store)[-1] == (a, 4)


def test_verify_adds_back_the_pointer_s_move_when_history_rows_were_removed(
    store: SqlStore,
) -> None:
    a = commit(store, payload="a").snapshot_id
    b = commit(store, payload="b").snapshot_id
    with store.backend.write() as db:
        db.execute("DELETE FROM {p}history WHERE generation = 2")
    assert [i.became_current for i in store.list() if i.id == b] == [True]
    report = store.verify()
    assert [p.kind for p in report.problems] == ["history"]
    assert "generation 2" in report.problems[0].message
    assert _moves(store) == [(a, 1), (b, 2)]
    assert store.verify().ok
