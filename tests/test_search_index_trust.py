"""Search indexes as a damaged disk leaves them: no search answers from a wrong index, verify
finds every damage, and the repairs it names (a refresh, 'snapkit search --reindex') restore
a store that verifies. Also: concurrent and killed builds, and a build failing after a
commit."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit.canonical import canonical_bytes
from snapkit.search import parse_query, search_table
from snapkit.search_index import (
    Index,
    IndexDamaged,
    build_index,
    fetch_rows,
    index_path,
    row_digest,
)
from snapkit.store import RetentionPolicy
from snapkit.testing.engine import OraclePlugin, make_project

PEOPLE = [
    {
        "id": f"p{i}",
        "name": f"Person {i}",
        "email": f"user{i}@example.org",
        "role": ["student", "teacher", "guardian"][i % 3],
    }
    for i in range(40)
]


def _make(folder: Path, data: dict[str, list[dict[str, Any]]]) -> Any:
    plugin = OraclePlugin().add(
        "people", lambda call: iter(data["rows"]), records=True, key_column="id"
    )
    return make_project(
        folder,
        plugin,
        config={
            "search": {"index": {"people": ["email", "role"]}, "index_dir": str(folder / "idx")}
        },
    )


@pytest.fixture
def data() -> dict[str, list[dict[str, Any]]]:
    return {"rows": [dict(p) for p in PEOPLE]}


@pytest.fixture
def project(tmp_path: Path, data: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from snapkit.cli.main import State

    project = _make(tmp_path, data)
    assert project.refresh().status == "success"
    monkeypatch.setattr(State, "project", lambda self: project)
    return project


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from snapkit.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def email_index(project: Any) -> Path:
    part = project.current().part("people")
    return index_path(Path(project.config.search.index_dir), part.sha256, "email")


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def flip_key(path: Path) -> None:
    """Flip a byte inside one stored key (not the first of its bucket)."""
    at = path.read_bytes().index(b"user17@example.org")
    flip(path, at + 4)


def flip_row_digest(path: Path, project: Any) -> None:
    """Flip a byte of the digest an entry keeps of its row."""
    line = canonical_bytes(next(p for p in PEOPLE if p["id"] == "p17"))
    flip(path, path.read_bytes().index(row_digest(line)) + 3)


def flip_root(path: Path, project: Any) -> None:
    data = path.read_bytes()
    with Index(path, project.current().part("people").sha256, "email") as index:
        root = index.root.encode()
    flip(path, data.index(root) + 10)


def truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def garbage(path: Path) -> None:
    path.write_bytes((b"this is not a search index " * 1000)[: path.stat().st_size])


def other_field(path: Path) -> None:
    shutil.copyfile(path.with_name("role.sqlite"), path)


DAMAGES: dict[str, Callable[[Path, Any], None]] = {
    "flipped key": lambda path, project: flip_key(path),
    "flipped row digest": flip_row_digest,
    "flipped root": flip_root,
    "truncated": lambda path, project: truncate(path),
    "emptied": lambda path, project: path.write_bytes(b""),
    "garbage": lambda path, project: garbage(path),
    "deleted": lambda path, project: path.unlink(),
    "another field's index": lambda path, project: other_field(path),
}


def scan_rows(project: Any, query: str) -> list[Any]:
    return list(search_table(project, "current", "people", query, use_index=False).rows)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_index_is_reported_never_answers_and_is_rebuilt_by_the_search(
    project: Any, capsys: Any, damage: str
) -> None:
    path = email_index(project)
    DAMAGES[damage](path, project)

    code, out, _ = run_cli(capsys, "snapshots", "verify")
    assert code == 1
    assert "people.email" in out and "snapkit search --reindex" in out

    for query in ("email=user17@example.org", "email^=user1"):
        code, out, err = run_cli(capsys, "search", "people", query, "--json")
        assert code == 0
        answer = json.loads(out)
        assert answer["rows"] == scan_rows(project, query)
        if query.startswith("email="):  # the first search finds the damage and repairs it
            assert answer["index"] is None and "warning: the search index on people.email" in err
            assert "rebuilt" in answer["index_problem"]
        else:  # the rebuilt index answers the next one
            assert answer["index"] == "email" and answer["index_problem"] is None
    assert run_cli(capsys, "snapshots", "verify")[0] == 0


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_reindex_and_refresh_repair_each_damage(project: Any, capsys: Any, damage: str) -> None:
    path = email_index(project)
    DAMAGES[damage](path, project)
    code, _, err = run_cli(capsys, "search", "--reindex")
    assert code == 0 and "rebuilt the index on people.email" in err
    assert run_cli(capsys, "snapshots", "verify")[0] == 0

    DAMAGES[damage](path, project)
    outcome = project.refresh()  # same data: the same part, its index checked and rebuilt
    assert outcome.status == "success" and outcome.warnings == ()
    assert run_cli(capsys, "snapshots", "verify")[0] == 0
    found = search_table(project, "current", "people", "email=user17@example.org")
    assert found.used_index == "email" and [r["id"] for r in found.rows] == ["p17"]


def test_an_index_of_another_part_is_never_used(
    tmp_path: Path, data: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapkit.cli.main import State

    project = _make(tmp_path, data)
    project.refresh()
    old = email_index(project)
    data["rows"][17]["email"] = "changed@example.org"
    project.refresh()
    monkeypatch.setattr(State, "project", lambda self: project)
    shutil.copyfile(old, email_index(project))

    code, out, _ = run_cli(capsys, "snapshots", "verify")
    assert code == 1 and "belongs to another part" in out
    result = search_table(project, "current", "people", "email=user17@example.org")
    assert result.rows == () and "another part" in (result.index_problem or "")
    result = search_table(project, "current", "people", "email=changed@example.org")
    assert [r["id"] for r in result.rows] == ["p17"] and result.used_index == "email"


def test_a_well_formed_index_that_disagrees_with_its_part_fails_verify(
    project: Any, capsys: Any
) -> None:
    """An index built from other rows but labelled as this part's (every digest consistent):
    only a rebuild can tell, and verify does one."""
    from snapkit.search_index import _write

    part = project.current().part("people")
    path = email_index(project)

    class Other:
        def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Any:
            yield b"".join(canonical_bytes(p) + b"\n" for p in PEOPLE[:-1])

    path.unlink()
    _write(path, Other(), part.sha256, "email")
    code, out, _ = run_cli(capsys, "snapshots", "verify")
    assert code == 1 and "does not match its part" in out
    assert run_cli(capsys, "search", "--reindex")[0] == 0
    assert run_cli(capsys, "snapshots", "verify")[0] == 0


def test_any_flipped_byte_never_changes_an_answer(project: Any) -> None:
    """Flip each byte of the index in turn (a stride through the file): the search returns
    what a scan returns, whatever the flip hit (unused space in SQLite's pages changes no
    answer and is not reported)."""
    path = email_index(project)
    pristine = path.read_bytes()
    expected = {
        q: scan_rows(project, q) for q in ("email=user17@example.org", "email^=user2", "email^=")
    }
    for at in range(0, len(pristine), 97):
        path.write_bytes(pristine)
        flip(path, at)
        for query, rows in expected.items():
            assert list(search_table(project, "current", "people", query).rows) == rows, at


def test_rows_come_from_the_part_and_must_match_their_digests() -> None:
    lines = [canonical_bytes(p) for p in PEOPLE]
    offsets = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]

    class Blocks:
        def __init__(self, size: int) -> None:
            self.size = size

        def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Any:
            data = b"".join(line + b"\n" for line in lines)
            for start in range(0, len(data), self.size):
                yield data[start : start + self.size]

    wanted = [(offsets[i], row_digest(lines[i])) for i in (0, 3, 4, 39)]
    for size in (1, 7, 64, 10_000):
        assert list(fetch_rows(Blocks(size), "x", wanted)) == [lines[i] for i in (0, 3, 4, 39)]
    with pytest.raises(IndexDamaged, match="does not match the part"):
        list(fetch_rows(Blocks(64), "x", [(offsets[3], row_digest(lines[4]))]))
    with pytest.raises(IndexDamaged, match="does not match the part"):
        list(fetch_rows(Blocks(64), "x", [(offsets[3] + 1, row_digest(lines[3]))]))
    with pytest.raises(IndexDamaged, match="past the end"):
        list(fetch_rows(Blocks(64), "x", [(offsets[-1] + 10_000, row_digest(lines[3]))]))


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "email": st.text("aAbé@.", max_size=5),
                "tags": st.lists(st.text("ab", max_size=2), max_size=3),
            }
        ),
        max_size=40,
    ),
    value=st.text("aAbé@.", max_size=3),
    prefix=st.booleans(),
    field=st.sampled_from(["email", "tags"]),
)
def test_property_lookups_find_every_row_whatever_the_buckets(
    tmp_path_factory: Any, rows: Any, value: str, prefix: bool, field: str
) -> None:
    """Buckets of 3 entries: equal keys and prefixes spread over many buckets."""
    import snapkit.search_index as module

    lines = [canonical_bytes({"id": i, **row}) for i, row in enumerate(rows)]

    class Store:
        def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Any:
            yield b"".join(line + b"\n" for line in lines)

    folder = tmp_path_factory.mktemp("i")
    saved, module.BUCKET = module.BUCKET, 3
    try:
        path = build_index(Store(), folder, "ab" * 32, field)
    finally:
        module.BUCKET = saved
    with Index(path, "ab" * 32, field) as index:
        index.check_all()
        found = list(fetch_rows(Store(), "x", index.lookup(value, prefix)))
    query = parse_query(f'{field}{"^=" if prefix else "="}"{value}"', ignore_case=True)
    assert found == [line for line in lines if query.matches(json.loads(line))]


# -- building --------------------------------------------------------------------------------


def test_two_builds_of_the_same_index_at_once_both_succeed(project: Any) -> None:
    part = project.current().part("people")
    folder = Path(project.config.search.index_dir)
    errors: list[BaseException] = []

    def build() -> None:
        try:
            for _ in range(5):
                build_index(project.store, folder, part.sha256, "email")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Index(email_index(project), part.sha256, "email") as index:
        index.check_all()
    assert not list(email_index(project).parent.glob(".*.tmp"))


def _build_in_child(store_folder: str, index_folder: str, sha256: str) -> None:
    store = make_project(Path(store_folder)).store
    for _ in range(5):
        build_index(store, Path(index_folder), sha256, "email")


def test_two_processes_building_the_same_index_both_succeed(project: Any, tmp_path: Path) -> None:
    part = project.current().part("people")
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(
            target=_build_in_child,
            args=(str(tmp_path), project.config.search.index_dir, part.sha256),
        )
        for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0]
    with Index(email_index(project), part.sha256, "email") as index:
        index.check_all()


STUCK_BUILD = """
import sys, time
from pathlib import Path
from snapkit.search_index import build_index

class Stuck:
    def iter_part_blocks(self, sha256, *, verify=True):
        yield b'{"email":"a@example.org","id":1}\\n'
        Path(sys.argv[2]).write_text("reading")
        time.sleep(600)
        yield b''

build_index(Stuck(), Path(sys.argv[1]), "ab" * 32, "email")
"""


def test_scratch_of_a_killed_build_is_removed_by_the_next_build(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", STUCK_BUILD, str(tmp_path / "idx"), str(marker)]
    )
    try:
        for _ in range(1200):  # waits for the child (up to 2 min on a busy machine)
            if marker.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists()
    finally:
        child.kill()
        child.wait()
    folder = index_path(tmp_path / "idx", "ab" * 32, "email").parent
    assert [p.name for p in folder.glob(".email.*.tmp")]  # the killed build's scratch
    (folder / "tmpk1ll3d").mkdir()  # the earlier format's scratch folder
    (folder / "email.idx").write_bytes(b"old")

    class Store:
        def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Any:
            yield b'{"email":"a@example.org","id":1}\n'

    build_index(Store(), tmp_path / "idx", "ab" * 32, "email")
    assert sorted(p.name for p in folder.iterdir()) == ["email.sqlite"]


def test_a_live_build_s_scratch_is_left_alone(tmp_path: Path) -> None:
    from snapkit.search_index import _HOST, clean_folder

    folder = tmp_path / "f"
    folder.mkdir()
    live = folder / f".email.{_HOST}.{os.getppid()}.0123abcd.tmp"
    live.write_bytes(b"")
    assert clean_folder(folder) == [] and live.exists()


def test_an_index_that_cannot_be_built_after_the_commit_is_a_warning(
    project: Any, data: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import snapkit.search_index as module

    def full_disk(*args: Any, **kwargs: Any) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "build_index", full_disk)
    data["rows"][0]["email"] = "new@example.org"
    code, _, err = run_cli(capsys, "refresh", "--quiet")
    assert code == 0
    assert "warning: the search index on people.email was not built" in err
    assert "snapkit search --reindex" in err
    found = search_table(project, "current", "people", "email=new@example.org")
    assert [r["id"] for r in found.rows] == ["p0"]  # answered by a scan, and says why
    assert found.index_problem is not None and "not be rebuilt" in found.index_problem


def test_a_pruned_part_s_index_goes_with_it(
    tmp_path: Path, data: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapkit.cli.main import State

    project = _make(tmp_path, data)
    project.refresh()
    first = email_index(project)
    data["rows"][0]["email"] = "new@example.org"
    project.refresh()
    monkeypatch.setattr(State, "project", lambda self: project)

    project.store.prune(RetentionPolicy(keep_last=1))  # the store alone leaves the index
    assert first.exists()
    code, out, _ = run_cli(capsys, "snapshots", "verify")
    assert code == 1 and "belongs to no stored part" in out
    assert run_cli(capsys, "search", "--reindex")[0] == 0
    assert not first.exists() and run_cli(capsys, "snapshots", "verify")[0] == 0

    data["rows"][1]["email"] = "newer@example.org"
    project.refresh()
    second = email_index(project)
    project.refresh()
    data["rows"][2]["email"] = "newest@example.org"
    project.refresh()
    project.prune(RetentionPolicy(keep_last=1))  # the project's prune removes it
    assert not second.exists() and email_index(project).exists()
    assert run_cli(capsys, "snapshots", "verify")[0] == 0


def test_search_without_a_query_is_a_usage_error(project: Any, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "search", "people")
    assert code == 2 and "needs a TABLE and a QUERY" in err


def test_a_part_swapped_for_another_well_formed_one_fails_the_search_loudly(
    project: Any, capsys: Any
) -> None:
    """The index's row digests catch what a scan without the SHA-256 cannot: a part file
    replaced by another complete zstd frame. The search then fails; it never answers."""
    import zstandard

    part = project.current().part("people")
    swapped = [dict(p) for p in PEOPLE]
    swapped[17]["name"] = "Someone Else"
    lines = b"".join(canonical_bytes(p) + b"\n" for p in swapped)
    path = project.store.layout.part(part.sha256)
    path.chmod(0o644)
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(lines))

    code, out, err = run_cli(capsys, "search", "people", "email=user17@example.org")
    assert code != 0 and out == ""
    assert "SHA-256" in err
