"""The corruption matrix (issue 11): every store file damaged every way a disk does it.

For the pointer, the current snapshot's manifest, its part, the history and the listing index,
each flipped (one bit, mid-file), truncated (to half) or deleted in a store filled by real
refreshes (data A, a failed run, then data B), in both part formats: whole parts (one
seekable zstd file each) and chunked parts, where the part file is a chunk list and the
chunks are in packs, so the pack holding B's chunks is damaged too:

- ``snapkit snapshots verify`` detects it (exit 1, the problem named);
- no read returns wrong data with exit 0: ``snapshots current``, ``snapshots show current~1``,
  ``snapshots list`` and ``search`` either fail with a one-line error or answer with exactly
  the bytes that were committed;
- the documented repair (``docs/snapshots.md``, "Recovering a damaged store": run ``verify``,
  then ``refresh``, then ``verify`` again) restores a store that verifies and serves B.

Search index files are checked by their own tests.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from store_cli import Run, make_folder, refresh, search_all, snapkit, users, write_users

from snapkit_file_store.testing import damage_pack, damage_part, open_store

TARGETS = ("pointer", "manifest", "part", "history", "index")
DAMAGES = ("flip", "truncate", "delete")
FORMATS = {"whole": 0, "chunked": 64}
"""The store's ``chunk_size`` for each part format (64: B's 600 rows make about 300 chunks)."""
ROWS = 600
CASES = [
    (part_format, target)
    for part_format in FORMATS
    for target in (*TARGETS, "pack")
    if target != "pack" or part_format == "chunked"
]


@frozen
class Truth:
    """What was committed, read before any damage."""

    a: str
    b: str
    manifests: dict[str, Any]
    rows: dict[str, list[dict[str, str]]]
    listing: dict[str, dict[str, Any]]


def _build(folder: Path, chunk_size: int) -> Truth:
    make_folder(folder, chunk_size=chunk_size)
    a = refresh(folder, users("a", ROWS))["snapshot_id"]
    (folder / "users.csv").unlink()
    assert snapkit(folder, "refresh").code == 1  # a failed run, as real stores have
    b = refresh(folder, users("b", ROWS))["snapshot_id"]
    store = open_store(folder / "store")
    chunked = store.part_chunks(store.get(b).part("users").sha256) is not None
    assert chunked == bool(chunk_size), "each format's store holds parts in that format"
    manifests = {
        sid: _manifest_json(snapkit(folder, "snapshots", "show", sid, "--json")) for sid in (a, b)
    }
    listing = {row["id"]: row for row in snapkit(folder, "snapshots", "list", "--json").json()}
    return Truth(a, b, manifests, {a: users("a", ROWS), b: users("b", ROWS)}, listing)


def _manifest_json(run: Run) -> dict[str, Any]:
    data: dict[str, Any] = run.json()
    data.pop("age_seconds", None)
    return data


def _mangle(path: Path, how: str, offset: int | None = None) -> None:
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2 if offset is None else offset] ^= 0x01
    else:
        del data[len(data) // 2 :]
    path.write_bytes(bytes(data))


def _damage(folder: Path, truth: Truth, target: str, how: str) -> None:
    store = open_store(folder / "store")
    layout = store.layout
    if target == "pointer":
        data = layout.pointer.read_bytes()
        offset = data.index(b'"snapshot_id":"') + len(b'"snapshot_id":"') + 20
        _mangle(layout.pointer, how, offset)
    elif target == "manifest":
        _mangle(layout.manifest(truth.b), how)
    elif target == "part":
        damage_part(store, store.get(truth.b).part("users").sha256, how)
    elif target == "pack":
        damage_pack(store, store.get(truth.b).part("users").sha256, how)
    elif target == "history":
        _mangle(layout.history, how)
    else:
        _mangle(layout.index, how)


def _fails_loudly(run: Run) -> bool:
    return run.code != 0 and run.stderr.startswith("Error: ") and "Traceback" not in run.stderr


def _same(answer: dict[str, Any], expected: dict[str, Any], strict: bool, *loose: str) -> bool:
    """Equal, or (not ``strict``: after a refresh captured the same data again) equal but for
    the capture fields ``loose``."""
    if strict:
        return answer == expected
    return {k: v for k, v in answer.items() if k not in loose} == {
        k: v for k, v in expected.items() if k not in loose
    }


def _check_reads(folder: Path, truth: Truth, *, strict: bool = True) -> None:
    """Every read either fails with a one-line error or returns exactly what was committed."""
    capture = ("created_at", "run")
    current = snapkit(folder, "snapshots", "current", "--json")
    current_id = None
    if current.code == 0:
        answer = _manifest_json(current)
        current_id = answer["id"]
        assert _same(answer, truth.manifests[current_id], strict, *capture)
    else:
        assert _fails_loudly(current), current

    back = snapkit(folder, "snapshots", "show", "current~1", "--json")
    if back.code == 0:
        answer = _manifest_json(back)
        assert _same(answer, truth.manifests[answer["id"]], strict, *capture)
        assert answer["id"] != current_id  # only A and B exist: the pointer alternated
    else:
        assert _fails_loudly(back), back

    found = search_all(folder)
    if found.code == 0:
        answer = found.json()
        assert answer["rows"] == truth.rows[answer["snapshot_id"]]
    else:
        assert _fails_loudly(found), found

    listed = snapkit(folder, "snapshots", "list", "--json")
    if listed.code == 0:
        for row in listed.json():
            expected = dict(truth.listing[row["id"]])
            assert row["became_current"] in (expected.pop("became_current"), None)
            row.pop("became_current")
            assert _same(row, expected, strict, "created_at", "size_bytes")
    else:
        assert _fails_loudly(listed), listed


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Truth]]:
    """One store per part format with A then B committed, copied for each case."""
    stores = {}
    for part_format, chunk_size in FORMATS.items():
        folder = tmp_path_factory.mktemp("matrix") / part_format
        stores[part_format] = (folder, _build(folder, chunk_size))
    return stores


@pytest.fixture
def case(
    built: dict[str, tuple[Path, Truth]], tmp_path: Path, part_format: str
) -> tuple[Path, Truth]:
    source, truth = built[part_format]
    folder = tmp_path / "project"
    shutil.copytree(source, folder)
    return folder, truth


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize(("part_format", "target"), CASES)
def test_verify_detects_the_damage(case: tuple[Path, Truth], target: str, how: str) -> None:
    folder, truth = case
    _damage(folder, truth, target, how)
    verdict = snapkit(folder, "snapshots", "verify", "--json")
    assert verdict.code == 1, verdict.stdout
    assert verdict.json()["problems"], verdict.stdout


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize(("part_format", "target"), CASES)
def test_no_read_returns_wrong_data_with_exit_0(
    case: tuple[Path, Truth], target: str, how: str
) -> None:
    folder, truth = case
    _damage(folder, truth, target, how)
    _check_reads(folder, truth)
    _check_reads(folder, truth)  # again, after whatever the first reads recovered


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize(("part_format", "target"), CASES)
def test_the_documented_repair_restores_a_verifying_store(
    case: tuple[Path, Truth], target: str, how: str
) -> None:
    folder, truth = case
    _damage(folder, truth, target, how)

    snapkit(folder, "snapshots", "verify")  # 1. repairs what verified data can repair
    write_users(folder, users("b", ROWS))  # the source still has B
    again = snapkit(folder, "refresh", "--json")  # 2. writes damaged parts and manifests again
    assert again.code == 0, again.stderr
    verdict = snapkit(folder, "snapshots", "verify", "--json")  # 3. passes

    assert verdict.code == 0, verdict.stdout
    assert snapkit(folder, "snapshots", "current", "--json").json()["id"] == truth.b
    assert search_all(folder).json()["rows"] == truth.rows[truth.b]
    _check_reads(folder, truth, strict=False)  # B may have been captured again


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize(
    ("part_format", "target"), [("whole", "part"), ("chunked", "part"), ("chunked", "pack")]
)
def test_a_damaged_part_whose_data_is_gone_from_the_source_is_pruned_away(
    case: tuple[Path, Truth], how: str, target: str
) -> None:
    folder, truth = case
    store = open_store(folder / "store")
    damage = damage_part if target == "part" else damage_pack
    damage(store, store.get(truth.a).part("users").sha256, how)
    assert snapkit(folder, "snapshots", "verify").code == 1

    pruned = snapkit(folder, "snapshots", "prune", "--keep-last", "1")

    assert pruned.code == 0, pruned.stderr
    assert snapkit(folder, "snapshots", "verify").code == 0
    assert snapkit(folder, "snapshots", "current", "--json").json()["id"] == truth.b


@pytest.mark.parametrize("part_format", FORMATS)
def test_a_history_that_lost_exactly_its_last_move_is_restored_line_for_line(
    case: tuple[Path, Truth],
) -> None:
    """Losing the last line at a line boundary is what a crash between the pointer's write and
    the history's append leaves: verify adds the move back, identical, and passes."""
    folder, _truth = case
    history = open_store(folder / "store").layout.history
    original = history.read_bytes()
    history.write_bytes(original[: original.rstrip(b"\n").rfind(b"\n") + 1])

    assert snapkit(folder, "snapshots", "verify").code == 0

    assert history.read_bytes() == original
