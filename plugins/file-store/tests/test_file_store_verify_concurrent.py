"""``verify`` while another handle commits or prunes: no false problems, real damage reported.

Verify lists manifests, then part files, then reads the pointer, without holding the store's
mutex. These tests make a commit or a prune happen at a chosen step, deterministically, by
wrapping the step (the listing of part files, or the re-hashing of a part) so that the other
handle writes when verify reaches it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from snapkit.store import RetentionPolicy
from snapkit.testing.store_kit import at, commit
from snapkit_file_store import FileStore
from snapkit_file_store.paths import Layout
from snapkit_file_store.testing import damage_manifest, damage_part, open_store


def _rows(tag: str, n: int = 5) -> list[dict[str, Any]]:
    return [{"id": f"{tag}{i}", "v": i} for i in range(n)]


@pytest.fixture
def other(store: FileStore) -> FileStore:
    """A second handle on the store, as another process would have (a short mutex timeout,
    so a verify holding the mutex would make its writes fail instead of hang)."""
    return FileStore(store.layout.root, mutex_timeout=1.0)


def _when_parts_are_listed(
    monkeypatch: pytest.MonkeyPatch, action: Callable[[], object], *, before: bool
) -> None:
    """Run ``action`` once, just before or just after verify lists the part files."""
    real = Layout.part_files
    fired: list[bool] = []

    def part_files(self: Layout) -> list[tuple[str, Path]]:
        if fired:
            return real(self)
        fired.append(True)
        if before:
            action()
            return real(self)
        listed = real(self)
        action()
        return listed

    monkeypatch.setattr(Layout, "part_files", part_files)


def _when_first_part_is_hashed(
    monkeypatch: pytest.MonkeyPatch, action: Callable[[], object]
) -> None:
    """Run ``action`` once, when verify starts re-hashing its first part."""
    real = FileStore.hash_part
    fired: list[bool] = []

    def hash_part(self: FileStore, sha256: str) -> tuple[str, int]:
        if not fired:
            fired.append(True)
            action()
        return real(self, sha256)

    monkeypatch.setattr(FileStore, "hash_part", hash_part)


def _problems(store: FileStore) -> list[tuple[str, str, str]]:
    return [(p.kind, p.ref, p.message) for p in store.verify().problems]


# -- a commit while verify runs --------------------------------------------------------------


@pytest.mark.parametrize("before", [True, False], ids=["before-part-listing", "after-part-listing"])
def test_a_commit_after_the_manifests_were_listed_is_no_problem(
    store: FileStore, other: FileStore, monkeypatch: pytest.MonkeyPatch, before: bool
) -> None:
    commit(store, payload=1, records={"t": _rows("a")})
    newer: list[str] = []
    _when_parts_are_listed(
        monkeypatch,
        lambda: newer.append(commit(other, payload=2, records={"u": _rows("b")}).snapshot_id),
        before=before,
    )
    report = store.verify()
    assert report.problems == ()
    assert not report.pointer_recovered
    pointer = store.read_pointer()
    assert pointer is not None and pointer.snapshot_id == newer[0]


def test_a_commit_while_verify_re_hashes_parts_completes_and_is_no_problem(
    store: FileStore, other: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(store, payload=1, records={"t": _rows("a")})
    newer: list[str] = []
    _when_first_part_is_hashed(
        monkeypatch,
        lambda: newer.append(commit(other, payload=2, records={"u": _rows("b")}).snapshot_id),
    )
    assert store.verify().problems == ()
    assert [e.snapshot_id for e in store.history()][-1] == newer[0]


# -- a prune while verify runs ---------------------------------------------------------------


def _old_and_current(store: FileStore) -> tuple[str, str]:
    old = commit(store, payload=1, records={"t": _rows("a")}, created_at=at(3))
    current = commit(store, payload=2, records={"u": _rows("b")}, created_at=at(1))
    return old.snapshot_id, current.snapshot_id


def test_a_prune_between_the_manifest_and_part_listings_is_no_problem(
    store: FileStore, other: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, current = _old_and_current(store)
    reports: list[Any] = []
    _when_parts_are_listed(
        monkeypatch,
        lambda: reports.append(other.prune(RetentionPolicy(keep_last=1))),
        before=True,
    )
    report = store.verify()
    assert reports[0].removed_snapshots == 1 and reports[0].removed_parts == 1
    assert report.problems == ()
    assert [i.id for i in store.list()] == [current]
    assert not store.layout.manifest(old).exists()


def test_a_prune_while_verify_re_hashes_parts_is_no_problem(
    store: FileStore, other: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old, current = _old_and_current(store)
    _when_first_part_is_hashed(monkeypatch, lambda: other.prune(RetentionPolicy(keep_last=1)))
    assert store.verify().problems == ()
    assert [i.id for i in store.list()] == [current]


# -- real damage is still reported ------------------------------------------------------------

PARTS_LOST = "names a snapshot with 1 missing or damaged part(s); refresh to write them again"


def test_a_deleted_part_is_reported_as_before(store: FileStore) -> None:
    old, current = _old_and_current(store)
    old_part = store.get(old).part("t").sha256
    current_part = store.get(current).part("u").sha256
    damage_part(store, old_part, "delete")
    damage_part(store, current_part, "delete")
    assert sorted(_problems(open_store(store.layout.root))) == sorted(
        [
            ("part", old_part, f"is missing; snapshot {old} references it as 't'"),
            ("part", current_part, f"is missing; snapshot {current} references it as 'u'"),
            ("pointer", current, PARTS_LOST),
        ]
    )


def test_a_damaged_manifest_of_the_current_snapshot_is_reported_and_the_pointer_recovered(
    store: FileStore,
) -> None:
    old, current = _old_and_current(store)
    damage_manifest(store, current)
    problems = _problems(open_store(store.layout.root))
    assert [(kind, ref) for kind, ref, _message in problems] == [
        ("manifest", current),
        ("pointer", current),
    ]
    assert "it was changed or damaged" in problems[0][2]
    assert problems[1][2] == (
        "it names a snapshot whose manifest is missing or damaged; recovered it to snapshot "
        f"{old}, the last verified pointer target"
    )


def test_a_part_deleted_while_a_commit_runs_during_verify_is_still_reported(
    store: FileStore, other: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, _current = _old_and_current(store)
    old_part = store.get(old).part("t").sha256
    damage_part(store, old_part, "delete")
    _when_parts_are_listed(monkeypatch, lambda: commit(other, payload=3), before=False)
    assert _problems(store) == [
        ("part", old_part, f"is missing; snapshot {old} references it as 't'")
    ]


def test_a_part_deleted_between_listing_and_re_hashing_is_reported(
    store: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old, current = _old_and_current(store)
    part = store.get(current).part("u").sha256
    _when_first_part_is_hashed(monkeypatch, lambda: damage_part(store, part, "delete"))
    assert _problems(store) == [
        ("part", part, f"is missing; snapshot {current} references it as 'u'"),
        ("pointer", current, PARTS_LOST),
    ]


def test_a_snapshot_committed_during_verify_with_its_part_lost_is_reported(
    store: FileStore, other: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(store, payload=1, records={"t": _rows("a")})
    lost: list[str] = []

    def commit_then_lose_its_part() -> None:
        result = commit(other, payload=2, records={"u": _rows("b")})
        lost.append(result.snapshot_id)
        damage_part(other, other.get(result.snapshot_id).part("u").sha256, "delete")

    _when_parts_are_listed(monkeypatch, commit_then_lose_its_part, before=False)
    assert _problems(store) == [("pointer", lost[0], PARTS_LOST)]


def test_a_snapshot_committed_during_verify_with_a_damaged_manifest_is_reported(
    store: FileStore, other: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = commit(store, payload=1).snapshot_id
    damaged: list[str] = []

    def commit_then_damage_its_manifest() -> None:
        damaged.append(commit(other, payload=2).snapshot_id)
        damage_manifest(other, damaged[0])

    _when_parts_are_listed(monkeypatch, commit_then_damage_its_manifest, before=False)
    problems = store.verify().problems
    assert [(p.kind, p.ref) for p in problems] == [
        ("manifest", damaged[0]),
        ("pointer", damaged[0]),
    ]
    assert problems[1].message == (
        "it names a snapshot whose manifest is missing or damaged; recovered it to snapshot "
        f"{first}, the last verified pointer target"
    )
