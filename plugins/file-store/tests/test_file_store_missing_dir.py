"""A file store whose directory does not exist yet: reads see an empty store and create nothing;
the first write creates it, private and durable; the CLI names the missing path."""

from __future__ import annotations

import datetime as _dt
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from snapkit.cli.main import main
from snapkit.errors import CorruptSnapshotError, NoSnapshotError, SnapshotNotFoundError, StoreError
from snapkit.store import ListFilter, RetentionPolicy, StoreLocation
from snapkit.testing.engine import OraclePlugin, make_project
from snapkit.testing.store_kit import commit
from snapkit_file_store import FileStore
from snapkit_file_store import atomic as atomic_module

NO_PART = "0" * 64


def _empty(value: Any) -> None:
    assert not value


def _raises(
    error: type[Exception], read: Callable[[FileStore], Any]
) -> Callable[[FileStore], None]:
    def check(store: FileStore) -> None:
        with pytest.raises(error):
            read(store)

    return check


def _prune_dry_run(store: FileStore) -> None:
    report = store.prune(RetentionPolicy(keep_last=1), dry_run=True)
    assert report.decisions == () and report.removed_snapshots == 0


def _verify(store: FileStore) -> None:
    report = store.verify()
    assert report.ok and (report.snapshots, report.parts) == (0, 0)
    assert not report.pointer_recovered


READS: dict[str, Callable[[FileStore], None]] = {
    "read_pointer": lambda s: _empty(s.read_pointer()),
    "latest_successful": lambda s: _empty(s.latest_successful()),
    "latest": lambda s: _empty(s.latest()),
    "list": lambda s: _empty(s.list()),
    "list_filtered": lambda s: _empty(s.list(ListFilter(status=("success",)), limit=5)),
    "history": lambda s: _empty(s.history()),
    "as_of": lambda s: _empty(s.as_of(_dt.datetime.now(_dt.UTC))),
    "lock_info": lambda s: _empty(s.lock_info()),
    "get_full_id": _raises(SnapshotNotFoundError, lambda s: s.get("ab" * 32)),
    "get_prefix": _raises(SnapshotNotFoundError, lambda s: s.get("abc")),
    "open_part": _raises(CorruptSnapshotError, lambda s: s.open_part(NO_PART).__enter__()),
    "iter_part_lines": _raises(CorruptSnapshotError, lambda s: list(s.iter_part_lines(NO_PART))),
    "iter_part_blocks": _raises(
        CorruptSnapshotError, lambda s: list(s.iter_part_blocks(NO_PART, verify=False))
    ),
    "verify": _verify,
    "prune_dry_run": _prune_dry_run,
}


@pytest.fixture
def missing(tmp_path: Path) -> Path:
    """A store path whose parent does not exist either."""
    return tmp_path / "not-yet" / "store"


@pytest.mark.parametrize("read", sorted(READS))
def test_a_read_of_a_store_that_does_not_exist_sees_it_empty_and_creates_nothing(
    missing: Path, read: str
) -> None:
    store = FileStore(missing)
    READS[read](store)
    assert not store.exists()
    assert not missing.parent.exists()


def test_a_prune_of_a_store_that_does_not_exist_removes_and_creates_nothing(
    missing: Path,
) -> None:
    report = FileStore(missing).prune(RetentionPolicy(keep_last=1))
    assert (report.removed_snapshots, report.removed_parts, report.freed_bytes) == (0, 0, 0)
    assert not missing.parent.exists()


def test_the_store_says_where_it_is_and_whether_it_exists(missing: Path) -> None:
    store = FileStore(missing)
    assert isinstance(store, StoreLocation)
    assert store.location == str(missing)
    assert not store.exists()
    commit(store, payload=1)
    assert store.exists()


def _private_dirs(root: Path) -> dict[Path, int]:
    return {
        path: stat.S_IMODE(path.stat().st_mode)
        for path in [root, *root.rglob("*")]
        if path.is_dir()
    }


WRITES: dict[str, Callable[[FileStore], None]] = {
    "begin": lambda s: s.begin().abort(),
    "lock": lambda s: s.lock("refresh", 3600.0).release(),
    "commit": lambda s: commit(s, payload=1, records={"t": [{"id": 1}]}),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_the_first_write_creates_the_store_private_and_fsyncs_each_new_directory(
    missing: Path, write: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real_fsync_dir = atomic_module.fsync_dir

    def recording_fsync_dir(path: Path) -> None:
        synced.append(path)
        real_fsync_dir(path)

    monkeypatch.setattr(atomic_module, "fsync_dir", recording_fsync_dir)
    store = FileStore(missing)
    WRITES[write](store)
    modes = _private_dirs(missing.parent)
    assert {
        missing.parent,
        missing,
        missing / "parts",
        missing / "snapshots",
        missing / "tmp",
    } <= set(modes)
    assert set(modes.values()) == {0o700}
    # each new directory's entry is made durable in its parent
    assert {missing.parent.parent, missing.parent, missing} <= set(synced)


def test_the_first_refresh_creates_the_store_with_mode_0700(tmp_path: Path) -> None:
    plugin = OraclePlugin().add("users", lambda call: [{"id": 1}], records=True, key_column="id")
    project = make_project(tmp_path, plugin)
    root = tmp_path / "store"
    with pytest.raises(NoSnapshotError):
        project.current()
    assert not root.exists()
    outcome = project.refresh()
    assert outcome.status == "success"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert project.current().id == outcome.manifest.id


def test_a_store_path_that_is_a_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.write_text("not a store")
    with pytest.raises(StoreError, match=str(path)):
        FileStore(path)


# -- the CLI on a store that does not exist -------------------------------------------------

CONFIG = """
[plugins]
enabled = ["file-store"]

[store]
kind = "file"
path = "nostore"

[scope]
namespace = "x"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "snapkit.toml").write_text(CONFIG)
    return tmp_path


def _run(folder: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["-c", str(folder / "snapkit.toml"), *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_snapshots_list_names_the_store_that_does_not_exist(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = _run(folder, "snapshots", "list", capsys=capsys)
    assert code == 0
    assert out == (
        f"No snapshots yet in {folder / 'nostore'} (the store does not exist yet). "
        "Run 'snapkit refresh'.\n"
    )
    assert not (folder / "nostore").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("snapshots", "current"),
        ("snapshots", "show", "current"),
        ("snapshots", "show", "latest"),
        ("project",),
        ("diff", "current", "latest"),
        ("search", "people", "x"),
    ],
)
def test_reads_needing_a_snapshot_exit_3_naming_the_store_that_does_not_exist(
    folder: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, _out, err = _run(folder, *args, capsys=capsys)
    assert code == 3
    assert err.strip() == (
        f"Error: no snapshot yet in {folder / 'nostore'} (the store does "
        "not exist yet); run 'snapkit refresh' first"
    )
    assert not (folder / "nostore").exists()


@pytest.mark.parametrize(
    "args",
    [
        ("snapshots", "list", "--json"),
        ("snapshots", "verify"),
        ("snapshots", "verify", "--json"),
        ("snapshots", "prune", "--keep-last", "1", "--dry-run"),
    ],
)
def test_other_read_commands_succeed_on_a_store_that_does_not_exist_and_create_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, out, _err = _run(folder, *args, capsys=capsys)
    assert code == 0
    if args == ("snapshots", "verify"):
        assert out == (
            f"verified 0 snapshots and 0 parts: ok (the store {folder / 'nostore'} "
            "does not exist yet)\n"
        )
    assert not (folder / "nostore").exists()


def test_snapshots_list_of_an_existing_empty_store_keeps_the_plain_message(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    FileStore(folder / "nostore").lock("refresh", 3600.0).release()
    code, out, _err = _run(folder, "snapshots", "list", capsys=capsys)
    assert code == 0
    assert out == "No snapshots yet. Run 'snapkit refresh'.\n"
