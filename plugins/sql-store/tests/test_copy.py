"""``snapkit snapshots copy --to``: a file store copied to SQLite, on to PostgreSQL and back to
a file store keeps every id, the history and ``current~N``; an interrupted copy is resumed by
running it again; a target with a history of its own is refused (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from attrs import frozen
from click.testing import CliRunner

from snapkit.cli.main import cli
from snapkit.copy import copy_store
from snapkit.errors import SnapkitError, StoreError, UsageError
from snapkit.project import Project
from snapkit.store import pointer_trail
from snapkit.testing.store_kit import commit
from snapkit_sql_store.testing import PostgresServer

_PLUGINS = """
[plugins]
enabled = ["file-store", "sql-store", "files"]

[scope]
namespace = "school"

[oracles.users]
kind = "files"
path = "users.csv"
key_column = "id"
"""


@frozen
class Run:
    """What one ``snapkit`` command did: its exit code and output."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def snapkit(folder: Path, *args: str) -> Run:
    """Run ``snapkit -c folder/snapkit.toml ARGS`` in process; snapkit errors give their exit
    code and one ``Error:`` line, as ``snapkit.cli.main.main`` prints them."""
    result = CliRunner().invoke(cli, ["-c", str(folder / "snapkit.toml"), *args])
    code, stderr = result.exit_code, result.stderr
    if isinstance(result.exception, SnapkitError):
        code = result.exception.exit_code
        stderr += f"Error: {result.exception}\n"
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(code, result.stdout, stderr)


def users(tag: str, count: int = 40) -> list[dict[str, str]]:
    return [{"id": f"u{i}", "name": f"{tag} user {i}"} for i in range(count)]


def write_users(folder: Path, rows: list[dict[str, str]]) -> None:
    lines = ["id,name"] + [f"{row['id']},{row['name']}" for row in rows]
    (folder / "users.csv").write_text("\n".join(lines) + "\n")


def _project(folder: Path, store: str) -> Path:
    """A project folder whose config has the ``[store]`` table ``store``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "snapkit.toml").write_text(_PLUGINS + "\n[store]\n" + store)
    return folder


def _refresh(folder: Path, tag: str) -> str:
    write_users(folder, users(tag))
    done = snapkit(folder, "refresh", "--json")
    assert done.code == 0, (done.stdout, done.stderr)
    return str(done.json()["snapshot_id"])


def _store(folder: Path) -> Any:
    return Project.load(folder / "snapkit.toml").store


def _picture(folder: Path) -> dict[str, Any]:
    """What must survive a copy: ids and statuses, the history, the pointer and its trail."""
    store = _store(folder)
    pointer = store.read_pointer()
    trail = pointer_trail(store.history(), pointer)
    shown = [
        snapkit(folder, "snapshots", "show", f"current~{n}", "--json")
        for n in range(len(trail.ids))
    ]
    picture = {
        "list": [(i.id, i.status, i.became_current, i.created_at) for i in store.list()],
        "history": list(store.history()),
        "pointer": (pointer.snapshot_id, pointer.generation, pointer.updated_at),
        "trail": trail,
        "current~N": [run.json()["id"] for run in shown],
        "rows": sorted(
            snapkit(folder, "search", "users", "u", "--limit", "1000", "--json").json()["rows"],
            key=str,
        ),
    }
    if hasattr(store, "close"):
        store.close()
    return picture


def _copy(folder: Path, to: str) -> Run:
    return snapkit(folder, "snapshots", "copy", "--to", to)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A file store with A, B, a failed run, a success that lost the race, and A again."""
    folder = _project(tmp_path / "source", 'kind = "file"\npath = "store"\n')
    a = _refresh(folder, "a")
    _refresh(folder, "b")
    store = _store(folder)
    commit(store, payload="broken", status="failed")
    commit(
        store,
        payload="late",
        expected_generation=None,
        move_pointer=False,
        records={"users": users("late")},
    )
    assert _refresh(folder, "a") == a
    return folder


def test_file_to_sqlite_to_postgresql_to_file_keeps_ids_history_and_current_n(
    source: Path, tmp_path: Path, pg_server: PostgresServer
) -> None:
    before = _picture(source)
    assert before["trail"].ids[-3:] == (
        before["current~N"][2],
        before["current~N"][1],
        before["current~N"][0],
    )

    done = _copy(source, "sqlite:" + str(tmp_path / "lite" / "store.sqlite3"))
    assert done.code == 0, done.stderr
    assert "copied 1/" in done.stdout and "verifying the target" in done.stdout
    lite = _project(tmp_path / "lite", 'kind = "sqlite"\npath = "store.sqlite3"\n')
    assert _picture(lite) == before

    pg = _project(
        tmp_path / "pg",
        f'kind = "postgresql"\ndsn = "{pg_server.socket_dsn()}"\nschema = "copy_round_trip"\n',
    )
    done = _copy(lite, str(pg / "snapkit.toml"))
    assert done.code == 0, done.stderr
    assert _picture(pg) == before

    done = _copy(pg, "file:" + str(tmp_path / "back" / "store"))
    assert done.code == 0, done.stderr
    back = _project(tmp_path / "back", 'kind = "file"\npath = "store"\n')
    assert _picture(back) == before
    assert snapkit(back, "snapshots", "verify").code == 0

    again = _copy(source, "file:" + str(tmp_path / "back" / "store"))  # nothing is missing
    assert again.code == 0, again.stderr
    assert "copied 0 of" in again.stdout and "0 history entries" in again.stdout


def test_an_interrupted_copy_is_resumed_and_copies_only_what_is_missing(
    source: Path, tmp_path: Path
) -> None:
    from snapkit_sql_store import open_sqlite

    store = _store(source)
    target = open_sqlite(tmp_path / "target.sqlite3")
    opened: list[str] = []

    def failing_open_part(sha256: str) -> Any:
        if len(opened) == 2:
            raise StoreError("connection to the source lost (injected)")
        opened.append(sha256)
        return store.open_part(sha256)

    flaky = SimpleNamespace(
        history=store.history,
        read_pointer=store.read_pointer,
        list=store.list,
        get=store.get,
        open_part=failing_open_part,
    )
    with pytest.raises(StoreError, match="injected"):
        copy_store(flaky, target)  # type: ignore[arg-type]
    assert target.history() == ()  # history and pointer come last
    assert target.read_pointer() is None
    half = {i.id for i in target.list()}
    assert 0 < len(half) < len(store.list())

    lines: list[str] = []
    report = copy_store(store, target, progress=lines.append)
    assert report.copied == len(store.list()) - len(half)
    assert sum(line.startswith("present") for line in lines) == len(half)
    assert [i.id for i in target.list()] == [i.id for i in store.list()]
    assert list(target.history()) == list(store.history())
    assert target.verify().ok
    target.close()


def test_a_target_with_a_history_of_its_own_is_refused(source: Path, tmp_path: Path) -> None:
    other = _project(tmp_path / "other", 'kind = "sqlite"\npath = "store.sqlite3"\n')
    own = _refresh(other, "someone else's")
    done = _copy(source, str(other / "snapkit.toml"))
    assert done.code == 1
    assert "has a history of its own" in done.stderr
    assert [i.id for i in _store(other).list()] == [own]  # nothing written
    assert "\n" not in done.stderr.strip()


def test_a_target_whose_history_is_a_prefix_gets_the_rest(source: Path, tmp_path: Path) -> None:
    target = "sqlite:" + str(tmp_path / "t" / "store.sqlite3")
    assert _copy(source, target).code == 0
    newest = _refresh(source, "c")
    done = _copy(source, target)
    assert done.code == 0, done.stderr
    assert "copied 1 of" in done.stdout and "1 history entries" in done.stdout
    copied = _project(tmp_path / "t", 'kind = "sqlite"\npath = "store.sqlite3"\n')
    assert snapkit(copied, "snapshots", "current", "--json").json()["id"] == newest
    assert _picture(copied)["history"] == _picture(source)["history"]


def test_a_target_store_without_the_importer_is_refused_naming_what_it_lacks(
    source: Path,
) -> None:
    class ReadOnly:
        key = "readonly"

        def history(self) -> tuple[()]:
            return ()

    with pytest.raises(UsageError, match="lacks import_snapshot, import_history"):
        copy_store(_store(source), ReadOnly(), kind="readonly")  # type: ignore[arg-type]


@pytest.mark.parametrize("to", ["nowhere.toml", "sqlite:", "ftp:somewhere"])
def test_a_to_that_names_no_store_is_a_usage_error(source: Path, to: str) -> None:
    done = _copy(source, to)
    assert done.code == 2
    assert "--to" in done.stderr


def test_copying_a_store_into_itself_is_refused(source: Path) -> None:
    done = _copy(source, "file:" + str(source / "store"))
    assert done.code == 2 and "is the store being copied" in done.stderr


_KILLER = """
import os, signal, sys
from snapkit.copy import copy_store
from snapkit.project import Project

source = Project.load(sys.argv[1]).store
target = Project.load(sys.argv[2]).store
opened = []
real = source.open_part

class Dying:
    def __init__(self, handle):
        self.handle = handle
    def __enter__(self):
        self.inner = self.handle.__enter__()
        return self
    def read(self, size=-1):
        data = self.inner.read(min(size, 100) if size and size > 0 else 100)
        if len(opened) == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # mid-part: staged bytes are left behind
        return data
    def __exit__(self, *exc):
        return self.handle.__exit__(*exc)

def open_part(sha256):
    opened.append(sha256)
    return Dying(real(sha256))

source.open_part = open_part
copy_store(source, target)
"""


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_a_copy_killed_mid_part_leaves_a_readable_target_and_a_rerun_completes_it(
    source: Path, tmp_path: Path, kind: str
) -> None:
    import subprocess
    import sys

    path = "store.sqlite3" if kind == "sqlite" else "store"
    target = _project(tmp_path / "target", f'kind = "{kind}"\npath = "{path}"\n')
    killed = subprocess.run(
        [sys.executable, "-c", _KILLER, str(source / "snapkit.toml"), str(target / "snapkit.toml")],
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr
    half = _store(target)
    assert half.read_pointer() is None and list(half.history()) == []
    assert half.verify().ok  # staged bytes of the killed copy are not data
    assert 0 < len(half.list()) < len(_store(source).list())

    done = _copy(source, str(target / "snapkit.toml"))
    assert done.code == 0, done.stderr
    assert "present 1/" in done.stdout and "copied" in done.stdout
    assert _picture(target) == _picture(source)
    store = _store(target)
    if kind == "sqlite":  # the killed copy's staged chunks were cleaned up
        with store.backend.read() as db:
            assert db.one("SELECT count(*) FROM {p}uploads")[0] == 0
            assert (
                db.one(
                    "SELECT count(*) FROM {p}part_chunks WHERE blob_id NOT IN "
                    "(SELECT blob_id FROM {p}parts)"
                )[0]
                == 0
            )
    else:
        assert list(store.layout.tmp.iterdir()) == []
