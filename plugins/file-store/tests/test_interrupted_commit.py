"""A commit killed after its manifest landed and before it was listed is not damage.

Every finished commit adds a history line after its listing line, so a manifest that neither
the listing nor the history names is a commit that was interrupted: ``verify`` lists it and
passes (the crash test hits this window at random; this test hits it on purpose). A listing
that lost a line of a snapshot the history names is still reported.
"""

from __future__ import annotations

from pathlib import Path

from store_cli import make_folder, refresh, snapkit, users, write_users


def _drop_last_line(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))


def _store(tmp_path: Path) -> Path:
    folder = make_folder(tmp_path / "project")
    refresh(folder, users("a"))
    refresh(folder, users("b"))
    return folder


def test_a_manifest_nothing_names_yet_is_listed_and_verify_passes(tmp_path: Path) -> None:
    folder = _store(tmp_path)
    store = folder / "store"
    # a refresh that fails (a duplicate key) records a manifest and never moves the pointer;
    # taking its listing and history lines away leaves what a kill between its manifest and
    # its listing line leaves
    write_users(folder, [*users("c"), {"id": "u0", "name": "again"}])
    assert snapkit(folder, "refresh").code == 1
    failed = snapkit(folder, "snapshots", "list", "--json").json()[0]
    assert failed["status"] == "failed"
    _drop_last_line(store / "history.jsonl")
    _drop_last_line(store / "index.jsonl")
    current = snapkit(folder, "snapshots", "current", "--json").json()["id"]

    verified = snapkit(folder, "snapshots", "verify")
    assert verified.code == 0, verified.stdout + verified.stderr
    assert failed["id"] in [
        row["id"] for row in snapkit(folder, "snapshots", "list", "--json").json()
    ]
    assert snapkit(folder, "snapshots", "current", "--json").json()["id"] == current


def test_a_listing_that_lost_a_recorded_snapshot_is_reported(tmp_path: Path) -> None:
    folder = _store(tmp_path)
    store = folder / "store"
    _drop_last_line(store / "index.jsonl")
    verified = snapkit(folder, "snapshots", "verify")
    assert verified.code == 1
    assert "index.jsonl" in verified.stdout + verified.stderr
    assert snapkit(folder, "snapshots", "verify").code == 0
