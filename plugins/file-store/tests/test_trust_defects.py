"""Issue 11, defects 2, 3 and 6, reproduced as filed: a damaged part is rewritten by a refresh
of the same data; ``current~N`` follows the pointer's history; a pointer naming a missing
manifest, or moved back to an older snapshot, is recovered and reported."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from store_cli import make_folder, refresh, search_all, snapkit, users

from snapkit.errors import CorruptSnapshotError, PointerConflictError
from snapkit.testing.store_kit import commit, manifest, write_part
from snapkit_file_store import FileStore
from snapkit_file_store.testing import damage_part, open_store


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "project")


def _store(folder: Path) -> FileStore:
    return open_store(folder / "store")


def _only_part(folder: Path, snapshot_id: str) -> str:
    return _store(folder).get(snapshot_id).part("users").sha256


# -- defect 2: a damaged part is rewritten -----------------------------------------------------


@pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
def test_refresh_of_the_same_data_rewrites_a_damaged_part_and_verify_passes(
    folder: Path, how: str
) -> None:
    first = refresh(folder, users("a"))
    sha = _only_part(folder, first["snapshot_id"])
    damage_part(_store(folder), sha, how)
    assert snapkit(folder, "snapshots", "verify").code == 1

    again = refresh(folder, users("a"))

    assert again["snapshot_id"] == first["snapshot_id"] and again["pointer_moved"]
    verdict = snapkit(folder, "snapshots", "verify", "--json")
    assert verdict.code == 0, verdict.stdout
    found = search_all(folder)
    assert found.code == 0 and found.json()["rows"] == users("a")


def test_a_commit_refuses_to_reference_a_damaged_part_it_did_not_write(
    store: FileStore,
) -> None:
    good = commit(store, payload=1, records={"t": [{"id": 1}, {"id": 2}]})
    ref = store.get(good.snapshot_id).part("t")
    damage_part(store, ref.sha256, "truncate")
    txn = store.begin()
    with pytest.raises(CorruptSnapshotError, match="does not verify"):
        txn.commit(manifest(payload=2, parts=[ref]), move_pointer=True, expected_generation=1)
    assert store.read_pointer() == good.pointer
    assert len(store.list()) == 1


def test_a_stored_part_that_verifies_is_kept_as_it_is(store: FileStore) -> None:
    rows = [{"id": i} for i in range(50)]
    first = commit(store, payload=1, records={"t": rows})
    path = store.layout.part(store.get(first.snapshot_id).part("t").sha256)
    before = path.stat()
    txn = store.begin()
    ref = write_part(txn, "t", rows, chunk=3)  # written in other chunks: other zstd bytes
    txn.commit(manifest(payload=2, parts=[ref]), move_pointer=True, expected_generation=1)
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


# -- defect 3: current~N follows the pointer's history ------------------------------------------


def test_current_1_after_refreshing_a_then_b_then_a_is_b(folder: Path) -> None:
    a = refresh(folder, users("a"))["snapshot_id"]
    b = refresh(folder, users("b"))["snapshot_id"]
    assert refresh(folder, users("a"))["snapshot_id"] == a

    assert snapkit(folder, "snapshots", "show", "current", "--json").json()["id"] == a
    assert snapkit(folder, "snapshots", "show", "current~1", "--json").json()["id"] == b
    assert snapkit(folder, "snapshots", "show", "current~2", "--json").json()["id"] == a
    too_far = snapkit(folder, "snapshots", "show", "current~3")
    assert too_far.code == 3 and "named only 3 snapshot(s)" in too_far.stderr
    changes = snapkit(folder, "diff", "current~1", "current", "--json").json()
    assert (changes["from_id"], changes["to_id"]) == (b, a)


def test_refreshing_the_same_data_twice_counts_once_in_current_n(folder: Path) -> None:
    a = refresh(folder, users("a"))["snapshot_id"]
    b = refresh(folder, users("b"))["snapshot_id"]
    refresh(folder, users("b"))
    assert snapkit(folder, "snapshots", "show", "current", "--json").json()["id"] == b
    assert snapkit(folder, "snapshots", "show", "current~1", "--json").json()["id"] == a


def test_a_success_that_lost_the_compare_and_swap_is_listed_as_never_current(
    folder: Path,
) -> None:
    a = refresh(folder, users("a"))["snapshot_id"]
    store = _store(folder)
    with pytest.raises(PointerConflictError):
        commit(store, payload="late", expected_generation=0)
    lost = next(i.id for i in store.list() if i.id != a)
    b = refresh(folder, users("b"))["snapshot_id"]

    listed = {row["id"]: row for row in snapkit(folder, "snapshots", "list", "--json").json()}
    assert listed[lost]["status"] == "success" and listed[lost]["became_current"] is False
    assert listed[a]["became_current"] is True and listed[b]["became_current"] is True
    table = snapkit(folder, "snapshots", "list").stdout
    assert "success (never current)" in next(
        line for line in table.splitlines() if lost[:12] in line
    )
    assert snapkit(folder, "snapshots", "show", "current~1", "--json").json()["id"] == a


# -- defect 6: a pointer naming a missing manifest, or moved back ------------------------------


def test_a_pointer_naming_a_missing_manifest_is_recovered_to_the_last_good_move(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = refresh(folder, users("a"))["snapshot_id"]
    b = refresh(folder, users("b"))["snapshot_id"]
    _store(folder).layout.manifest(b).unlink()

    with caplog.at_level(logging.WARNING, logger="snapkit_file_store"):
        current = snapkit(folder, "snapshots", "current", "--json")

    assert current.code == 0 and current.json()["id"] == a
    assert f"whose manifest is missing); recovered it to snapshot {a}" in caplog.text
    found = search_all(folder)
    assert found.json()["snapshot_id"] == a and found.json()["rows"] == users("a")
    moves = [e for e in _store(folder).history() if e.event == "pointer_moved"]
    assert [(m.snapshot_id, m.generation) for m in moves] == [(a, 1), (b, 2), (a, 3)]


def test_a_read_that_recovers_the_pointer_says_so_on_stderr(folder: Path) -> None:
    a = refresh(folder, users("a"))["snapshot_id"]
    b = refresh(folder, users("b"))["snapshot_id"]
    _store(folder).layout.manifest(b).unlink()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snapkit",
            "-c",
            str(folder / "snapkit.toml"),
            "snapshots",
            "current",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert a in done.stdout
    assert f"recovered it to snapshot {a}" in done.stderr


def test_verify_notices_a_pointer_moved_back_and_restores_the_history_s_target(
    folder: Path,
) -> None:
    refresh(folder, users("a"))
    pointer_file = _store(folder).layout.pointer
    old_pointer = folder / "old-current.json"
    shutil.copy(pointer_file, old_pointer)
    b = refresh(folder, users("b"))["snapshot_id"]
    shutil.copy(old_pointer, pointer_file)  # a well-formed pointer, one move back

    verdict = snapkit(folder, "snapshots", "verify", "--json")

    assert verdict.code == 1
    report = verdict.json()
    assert report["pointer_recovered"]
    [problem] = report["problems"]
    assert problem["kind"] == "pointer"
    assert "moved back or replaced" in problem["message"]
    assert f"recovered it to snapshot {b}" in problem["message"]
    assert snapkit(folder, "snapshots", "current", "--json").json()["id"] == b
    assert snapkit(folder, "snapshots", "verify").code == 0


def test_a_pointer_whose_only_snapshot_lost_its_manifest_fails_loudly(folder: Path) -> None:
    a = refresh(folder, users("a"))["snapshot_id"]
    store = _store(folder)
    store.layout.manifest(a).unlink()
    done = snapkit(folder, "snapshots", "current")
    assert done.code == 1
    assert "no verified snapshot is left" in done.stderr
    assert store.layout.pointer.exists()
    refresh(folder, users("a"))  # the documented repair: refresh
    assert snapkit(folder, "snapshots", "verify").code == 0
    assert snapkit(folder, "snapshots", "current", "--json").json()["id"] == a


def test_a_date_names_the_last_snapshot_of_that_day_that_became_current(folder: Path) -> None:
    a = refresh(folder, users("a"))["snapshot_id"]
    with pytest.raises(PointerConflictError):
        commit(_store(folder), payload="late", expected_generation=0)
    today = snapkit(folder, "snapshots", "show", "current", "--json").json()["created_at"][:10]
    assert snapkit(folder, "snapshots", "show", today, "--json").json()["id"] == a


def test_verify_names_store_files_whole_in_its_lines(folder: Path) -> None:
    refresh(folder, users("a"))
    refresh(folder, users("b"))
    history = _store(folder).layout.history
    data = bytearray(history.read_bytes())
    data[len(data) // 3] ^= 0x01
    history.write_bytes(bytes(data))
    done = snapkit(folder, "snapshots", "verify")
    assert done.code == 1
    assert (
        "history history.jsonl: 1 damaged line(s) (line 1): set aside in "
        "history-damaged.jsonl" in done.stdout
    )
    assert snapkit(folder, "snapshots", "verify").code == 0
