"""The diff engine: normalization, section selection, errors, events, the keyed table diff,
and ``snapkit diff`` end to end on a file store."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from snapkit.contracts import DiffSection, Scope, SnapshotManifest
from snapkit.convert import to_json
from snapkit.descriptors import DiffSectionDescriptor
from snapkit.diff import (
    DiffContext,
    MemoryParts,
    compute_diff,
    delta,
    diff_bytes,
    diff_from_bytes,
    diff_schema,
    normalize,
    sort_key,
)
from snapkit.errors import CorruptSnapshotError, DiffError, UsageError
from snapkit.markers import hookimpl
from snapkit.tablediff import diff_rows, diff_tables

# -- helpers ---------------------------------------------------------------------------------


def snapshot(
    payloads: dict[str, Any] | None = None, parts: tuple[Any, ...] = (), status: str = "success"
) -> SnapshotManifest:
    return SnapshotManifest(Scope("test"), "1", "1", status, payloads=payloads or {}, parts=parts)  # type: ignore[arg-type]


class NumbersSection:
    """Deltas of the numbers in payload ``n`` (missing counts as zero)."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        return "n" in a.payloads or "n" in b.payloads

    def compute(self, ctx: DiffContext) -> DiffSection:
        old, new = ctx.a.payloads.get("n", {}), ctx.b.payloads.get("n", {})
        keys = old.keys() | new.keys()
        data = {k: delta(old.get(k), new.get(k)) for k in keys}
        added = sum(1 for k in keys if k not in old)
        removed = sum(1 for k in keys if k not in new)
        changed = sum(1 for k in keys if k in old and k in new and data[k] != 0)
        return DiffSection("ignored", added, removed, changed, False, data)


class IdsSection:
    """Ids of payload ``ids`` added and removed, as sets."""

    def __init__(self, settings: Any) -> None:
        pass

    def compute(self, ctx: DiffContext) -> DiffSection:
        old, new = set(ctx.a.payloads.get("ids", [])), set(ctx.b.payloads.get("ids", []))
        came, cut_a = ctx.limit(sorted(new - old, key=sort_key))
        gone, cut_b = ctx.limit(sorted(old - new, key=sort_key))
        return DiffSection(
            "ids",
            len(new - old),
            len(old - new),
            0,
            cut_a or cut_b,
            {"added": set(came), "removed": frozenset(gone)},
        )


class Sections:
    def __init__(self, *descriptors: DiffSectionDescriptor) -> None:
        self.descriptors = descriptors

    @hookimpl
    def snapkit_register_diff_sections(self, register: Any) -> None:
        for descriptor in self.descriptors:
            register(descriptor)


def manager_with(snapkit_manager: Any, *descriptors: DiffSectionDescriptor) -> Any:
    snapkit_manager.register(Sections(*descriptors), name="test-sections")
    return snapkit_manager


class RowsSection:
    """The keyed table diff of part ``users``."""

    def __init__(self, settings: Any) -> None:
        pass

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        return bool(a.parts) and bool(b.parts)

    def compute(self, ctx: DiffContext) -> DiffSection:
        result = diff_tables(
            lambda: ctx.line_batches(ctx.a.part("users")),
            lambda: ctx.line_batches(ctx.b.part("users")),
            "id",
            max_items=ctx.max_items,
        )
        return DiffSection(
            "rows",
            result.added_count,
            result.removed_count,
            result.changed_count,
            result.truncated,
            to_json(result),
        )


NUMBERS = DiffSectionDescriptor(key="numbers", factory=NumbersSection, order=5)
ROWS = DiffSectionDescriptor(key="rows", factory=RowsSection, order=9)
IDS = DiffSectionDescriptor(key="ids", factory=IdsSection, order=1)


# -- normalization -----------------------------------------------------------------------------


def test_normalize_sorts_keys_and_sets_and_writes_negative_zero_as_zero() -> None:
    value = {"b": -0.0, "a": {"z": 1, "y": (1, 2)}, "s": {"b", "a", "c"}, "n": frozenset({3, 1})}
    out = normalize(value)
    assert list(out) == ["a", "b", "n", "s"]
    assert list(out["a"]) == ["y", "z"]
    assert out["a"]["y"] == [1, 2]
    assert out["s"] == ["a", "b", "c"]
    assert out["n"] == [1, 3]
    assert math.copysign(1.0, out["b"]) == 1.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_normalize_refuses_nan_and_infinity_naming_the_path(bad: float) -> None:
    with pytest.raises(DiffError, match=r"\$\.x\.y.*finite"):
        normalize({"x": {"y": bad}})


def test_normalize_refuses_non_string_keys_and_foreign_types() -> None:
    with pytest.raises(DiffError, match="keys must be strings"):
        normalize({1: "a"})
    with pytest.raises(DiffError, match="JSON cannot hold"):
        normalize({"x": object()})


def test_sort_key_orders_numbers_before_strings_before_other_values() -> None:
    values = ["b", 10, None, "a", 2, 1.5, [1]]
    assert sorted(values, key=sort_key) == [1.5, 2, 10, "a", "b", [1], None]


def test_delta_is_to_minus_from_with_missing_as_zero() -> None:
    assert delta(3, 10) == 7
    assert isinstance(delta(3, 10), int)
    assert delta(None, 5) == 5
    assert delta(5, None) == -5
    assert delta(0.033, 0.03) == -0.003


def test_delta_rounds_once_on_the_unrounded_difference() -> None:
    # rounding each side first would give 0.0002 - 0.0001 = 0.0001; once gives 0.0
    assert delta(0.00014, 0.00016) == 0.0
    assert round(0.00016, 4) - round(0.00014, 4) != 0.0
    # rounding each side first would give 0.1235 - 0.1234 = 0.0001; once gives 0.0
    assert delta(0.12344, 0.12346) == 0.0


def test_delta_writes_negative_zero_as_zero_and_refuses_non_numbers() -> None:
    result = delta(0.00001, 0.0)
    assert result == 0.0 and math.copysign(1.0, result) == 1.0
    with pytest.raises(DiffError):
        delta(True, 1)
    with pytest.raises(DiffError):
        delta("1", 2)
    with pytest.raises(DiffError, match="finite"):
        delta(-1.7e308, 1.7e308)


# -- the engine --------------------------------------------------------------------------------


def test_sections_run_in_order_then_key_and_take_their_registered_key(snapkit_manager: Any) -> None:
    manager = manager_with(snapkit_manager, NUMBERS, IDS)
    a = snapshot({"n": {"x": 1, "y": 2.5}, "ids": ["a", "b"]})
    b = snapshot({"n": {"x": 4, "z": 1}, "ids": ["c", "b"]})
    diff = compute_diff(manager, MemoryParts(), a, b)
    assert [s.name for s in diff.sections] == ["ids", "numbers"]
    ids, numbers = diff.sections
    assert ids.data == {"added": ["c"], "removed": ["a"]}
    assert (ids.added, ids.removed) == (1, 1)
    assert numbers.data == {"x": 3, "y": -2.5, "z": 1}
    assert (numbers.added, numbers.removed, numbers.changed) == (1, 1, 1)
    assert diff.from_id == a.id and diff.to_id == b.id


def test_sections_that_do_not_apply_are_left_out(snapkit_manager: Any) -> None:
    manager = manager_with(snapkit_manager, NUMBERS, IDS)
    diff = compute_diff(manager, MemoryParts(), snapshot(), snapshot())
    assert [s.name for s in diff.sections] == ["ids"]


def test_named_sections_only_and_a_named_section_must_apply(snapkit_manager: Any) -> None:
    manager = manager_with(snapkit_manager, NUMBERS, IDS)
    a, b = snapshot({"n": {"x": 1}}), snapshot({"n": {"x": 2}})
    diff = compute_diff(manager, MemoryParts(), a, b, sections=["numbers", "numbers"])
    assert [s.name for s in diff.sections] == ["numbers"]
    with pytest.raises(DiffError, match="'numbers' does not apply"):
        compute_diff(manager, MemoryParts(), snapshot(), snapshot(), sections=["numbers"])


def test_unknown_section_is_a_usage_error_with_a_suggestion(snapkit_manager: Any) -> None:
    manager = manager_with(snapkit_manager, NUMBERS)
    with pytest.raises(UsageError, match=r"numbrs.*did you mean 'numbers'"):
        compute_diff(manager, MemoryParts(), snapshot(), snapshot(), sections=["numbrs"])


def test_missing_snapshot_and_negative_max_items_are_refused(snapkit_manager: Any) -> None:
    manager = manager_with(snapkit_manager, NUMBERS)
    with pytest.raises(DiffError, match="two snapshots"):
        compute_diff(manager, MemoryParts(), None, snapshot())  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        compute_diff(manager, MemoryParts(), snapshot(), snapshot(), max_items=-1)


def test_a_failing_section_is_a_diff_error_naming_it(snapkit_manager: Any) -> None:
    def broken(settings: Any) -> Any:
        def compute(ctx: DiffContext) -> DiffSection:
            raise KeyError("boom")

        return compute

    def wrong_type(settings: Any) -> Any:
        return lambda ctx: {"added": 1}

    def negative(settings: Any) -> Any:
        return lambda ctx: DiffSection("x", added=-1)

    def nan(settings: Any) -> Any:
        return lambda ctx: DiffSection("x", data={"rate": math.nan})

    manager = manager_with(
        snapkit_manager,
        DiffSectionDescriptor(key="broken", factory=broken),
        DiffSectionDescriptor(key="wrong", factory=wrong_type),
        DiffSectionDescriptor(key="negative", factory=negative),
        DiffSectionDescriptor(key="nan", factory=nan),
    )
    for key, message in (
        ("broken", "'broken' failed: KeyError"),
        ("wrong", "returned dict, not a DiffSection"),
        ("negative", "added must be a non-negative"),
        ("nan", r"nan\.rate is not a finite number"),
    ):
        with pytest.raises(DiffError, match=message):
            compute_diff(manager, MemoryParts(), snapshot(), snapshot(), sections=[key])


def test_max_items_truncates_lists_and_keeps_exact_counts(snapkit_manager: Any) -> None:
    manager = manager_with(snapkit_manager, IDS)
    a, b = snapshot({"ids": []}), snapshot({"ids": [f"id{i:02}" for i in range(30)]})
    diff = compute_diff(manager, MemoryParts(), a, b, max_items=5)
    (ids,) = diff.sections
    assert ids.added == 30 and ids.truncated
    assert ids.data["added"] == [f"id{i:02}" for i in range(5)]
    assert not compute_diff(manager, MemoryParts(), a, b).sections[0].truncated


def test_section_settings_reach_the_factory(snapkit_manager: Any) -> None:
    seen: list[Any] = []

    def factory(settings: Any) -> Any:
        seen.append(settings)
        return lambda ctx: DiffSection("x", data=dict(ctx.settings))

    manager = manager_with(snapkit_manager, DiffSectionDescriptor(key="s", factory=factory))
    diff = compute_diff(
        manager, MemoryParts(), snapshot(), snapshot(), settings={"s": {"level": 2}}
    )
    assert seen == [{"level": 2}]
    assert diff.sections[0].data == {"level": 2}


def test_output_is_canonical_validates_against_the_schema_and_round_trips(
    snapkit_manager: Any,
) -> None:
    manager = manager_with(snapkit_manager, NUMBERS, IDS)
    a = snapshot({"n": {"x": 0.1}, "ids": [3, 1]})
    b = snapshot({"n": {"x": 0.3}, "ids": [2]})
    diff = compute_diff(manager, MemoryParts(), a, b)
    data = diff_bytes(diff)
    schema = diff_schema()
    assert schema["$id"] == "urn:snapkit:schema:diff:v1"
    jsonschema.Draft202012Validator(schema).validate(json.loads(data))
    assert json.loads(data)["format"] == "snapkit.diff/1"
    assert (
        data
        == json.dumps(
            json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert diff_from_bytes(data) == diff
    assert diff.sections[1].data == {"x": 0.2}


def test_diff_emits_the_diff_computed_event(snapkit_manager: Any, hook_recorder: Any) -> None:
    manager = manager_with(snapkit_manager, NUMBERS, IDS)
    a, b = snapshot({"n": {"x": 1}, "ids": ["a"]}), snapshot({"n": {"x": 2}, "ids": []})
    compute_diff(manager, MemoryParts(), a, b)
    hook_recorder.assert_called("snapkit_diff_computed", times=1)
    (event,) = hook_recorder.events("snapkit_diff_computed")
    assert (event.from_id, event.to_id) == (a.id, b.id)
    assert event.sections == ("ids", "numbers")
    assert event.changes == 2
    assert event.duration_ms >= 0


def test_diffs_never_modify_snapshots_or_parts(snapkit_manager: Any) -> None:
    def table(settings: Any) -> Any:
        def compute(ctx: DiffContext) -> DiffSection:
            result = diff_tables(
                lambda: ctx.line_batches(ctx.a.parts[0]),
                lambda: ctx.line_batches(ctx.b.parts[0]),
                "id",
            )
            return DiffSection(
                "t",
                result.added_count,
                result.removed_count,
                result.changed_count,
                result.truncated,
                to_json(result),
            )

        return compute

    manager = manager_with(snapkit_manager, NUMBERS, DiffSectionDescriptor(key="t", factory=table))
    parts = MemoryParts()
    pa = parts.add("t", [{"id": 1, "v": 1}, {"id": 2, "v": 2}], key_column="id")
    pb = parts.add("t", [{"id": 2, "v": 3}, {"id": 3, "v": 1}], key_column="id")
    payload_a, payload_b = {"x": 1, "w": 2.5}, {"x": 2}
    a, b = snapshot({"n": payload_a}, (pa,)), snapshot({"n": payload_b}, (pb,))
    before = (
        json.dumps(to_json(a)),
        json.dumps(to_json(b)),
        a.id,
        b.id,
        {sha: parts._bytes(sha) for sha in (pa.sha256, pb.sha256)},
    )
    diff = compute_diff(manager, parts, a, b)
    after = (
        json.dumps(to_json(a)),
        json.dumps(to_json(b)),
        a.id,
        b.id,
        {sha: parts._bytes(sha) for sha in (pa.sha256, pb.sha256)},
    )
    assert before == after
    assert payload_a == {"x": 1, "w": 2.5}
    assert diff.sections[1].data["changed"] == [
        {"key": 2, "fields": {"v": {"from": 2, "to": 3, "delta": 1}}}
    ]


# -- the keyed table diff ---------------------------------------------------------------------


def _batches(parts: MemoryParts, ref: Any) -> Any:
    ctx = DiffContext(snapshot(), snapshot(), parts)
    return lambda: ctx.line_batches(ref, chunk=64)


def _table_pair(n: int) -> tuple[MemoryParts, Any, Any]:
    parts = MemoryParts()
    old = [{"id": i, "name": f"n{i}", "score": i / 7} for i in range(n)]
    new = [dict(row) for row in old if row["id"] % 10 != 3]  # removed: ids ending in 3
    for row in new:
        if row["id"] % 10 == 5:
            row["name"] = "changed"
        if row["id"] % 10 == 6:
            row["score"] += 1
            row["extra"] = True
    new += [{"id": n + i, "name": "new", "score": 0} for i in range(n // 10)]
    new.reverse()  # order must not matter
    return parts, parts.add("t", old, key_column="id"), parts.add("t", new, key_column="id")


def test_table_diff_finds_added_removed_and_changed_rows() -> None:
    parts, a, b = _table_pair(100)
    result = diff_tables(_batches(parts, a), _batches(parts, b), "id")
    assert result.added == tuple(range(100, 110))
    assert result.removed == tuple(range(3, 100, 10))
    assert (result.added_count, result.removed_count, result.changed_count) == (10, 10, 20)
    first_changed = result.changed[0]
    assert first_changed == {"key": 5, "fields": {"name": {"from": "n5", "to": "changed"}}}
    six = result.changed[1]
    assert six["key"] == 6
    assert six["fields"]["extra"] == {"to": True}
    assert six["fields"]["score"]["delta"] == 1.0
    assert not result.truncated


def test_partitioned_table_diff_equals_the_in_memory_one(tmp_path: Path) -> None:
    parts, a, b = _table_pair(2000)
    in_memory = diff_tables(_batches(parts, a), _batches(parts, b), "id")
    spilled = diff_tables(
        _batches(parts, a),
        _batches(parts, b),
        "id",
        size_hint=a.bytes,
        memory_budget=4096,
        tmpdir=str(tmp_path),
    )
    assert spilled == in_memory
    assert list(tmp_path.iterdir()) == []  # partitions are removed


def test_table_diff_max_items_keeps_the_first_keys_and_exact_counts() -> None:
    parts, a, b = _table_pair(200)
    result = diff_tables(_batches(parts, a), _batches(parts, b), "id", max_items=3)
    assert result.added == (200, 201, 202)
    assert result.removed == (3, 13, 23)
    assert [row["key"] for row in result.changed] == [5, 6, 15]
    assert (result.added_count, result.removed_count, result.changed_count) == (20, 20, 40)
    assert result.truncated


def test_table_diff_sorts_mixed_keys_numbers_first() -> None:
    parts = MemoryParts()
    a = parts.add("t", [{"k": "b"}, {"k": 10}], key_column="k")
    b = parts.add("t", [{"k": "a"}, {"k": 2}, {"k": 1.5}], key_column="k")
    result = diff_tables(_batches(parts, a), _batches(parts, b), "k")
    assert result.added == (1.5, 2, "a")
    assert result.removed == (10, "b")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": 1, "v": 1}, {"id": 1, "v": 2}], "holds a key twice"),
        ([{"id": 1}, {"id": 1}], "holds the same row twice"),
        ([{"v": 1}], "without its key column 'id'"),
    ],
)
def test_table_diff_refuses_duplicate_and_keyless_rows(rows: list[Any], message: str) -> None:
    parts = MemoryParts()
    a = parts.add("t", [{"id": 9}], key_column="id")
    b = parts.add("t", rows, key_column="id")
    with pytest.raises(DiffError, match=message):
        diff_tables(_batches(parts, a), _batches(parts, b), "id")


def test_table_diff_refuses_lines_that_are_not_objects() -> None:
    parts = MemoryParts()
    a = parts.add("t", [{"id": 9}], key_column="id")
    b = parts.put(b"[1]\nnot json\n")
    ref = type(a)("t", b, 2, 13, "t", "id")
    with pytest.raises(DiffError, match=r"not a JSON object|not JSON"):
        diff_tables(_batches(parts, a), _batches(parts, ref), "id")


def test_reading_a_corrupted_part_raises_a_typed_error() -> None:
    parts = MemoryParts()
    a = parts.add("t", [{"id": 1}], key_column="id")
    b = parts.add("t", [{"id": 2}], key_column="id")
    parts.replace(b.sha256, b'{"id":3}\n')
    with pytest.raises(CorruptSnapshotError):
        diff_tables(_batches(parts, a), _batches(parts, b), "id")


def test_diff_rows_compares_by_json_type() -> None:
    assert diff_rows({"a": 1, "b": [1]}, {"a": 1.0, "b": [1]}) == {
        "a": {"from": 1, "to": 1.0, "delta": 0.0}
    }
    assert diff_rows({"a": True}, {"a": 1}) == {"a": {"from": True, "to": 1}}
    assert diff_rows({"a": 2}, {}) == {"a": {"from": 2, "delta": -2}}


# -- snapkit diff, end to end ------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A file-store project with two successful snapshots of a keyed table and a payload."""
    from snapkit.cli.main import State
    from snapkit.testing.engine import OraclePlugin, make_project

    state = {"version": 0}

    def users(call: Any) -> Any:
        rows = [{"id": i, "name": f"u{i}"} for i in range(5)]
        if state["version"]:
            rows[1]["name"] = "renamed"
            rows = [*rows[:-1], {"id": 9, "name": "new"}]
        return rows

    def numbers(call: Any) -> Any:
        return {
            "n": {"x": 1 + state["version"], "y": 0.5},
            "ids": ["a"] if not state["version"] else ["b"],
        }

    plugin = OraclePlugin()
    plugin.add("users", users, records=True, key_column="id")
    plugin.add("n", lambda call: numbers(call)["n"])
    plugin.add("ids", lambda call: numbers(call)["ids"])
    project = make_project(tmp_path, plugin, Sections(NUMBERS, IDS, ROWS))
    assert project.refresh().status == "success"
    state["version"] = 1
    assert project.refresh().status == "success"
    monkeypatch.setattr(State, "project", lambda self: project)
    return project


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from snapkit.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_cli_json_is_the_canonical_diff(project: Any, capsys: Any) -> None:
    from snapkit.diff import diff_project

    code, out, _ = run_cli(capsys, "diff", "current~1", "current", "--format", "json")
    assert code == 0
    expected = diff_bytes(diff_project(project, "current~1", "current")).decode()
    assert out == expected + "\n"
    code, alias, _ = run_cli(capsys, "diff", "current~1", "current", "--json")
    assert alias == out
    data = json.loads(out)
    assert [s["name"] for s in data["sections"]] == ["ids", "numbers", "rows"]
    assert data["sections"][1]["data"] == {"x": 1, "y": 0.0}
    rows = data["sections"][2]
    assert (rows["added"], rows["removed"], rows["changed"]) == (1, 1, 1)
    assert rows["data"]["changed"] == [
        {"key": 1, "fields": {"name": {"from": "u1", "to": "renamed"}}}
    ]


def test_cli_text_shows_counts_first_then_changes(project: Any, capsys: Any) -> None:
    code, out, _ = run_cli(capsys, "diff", "current~1", "current")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("diff ") and "->" in lines[0]
    assert lines[1].split() == ["ids", "+1", "added", "-1", "removed", "~0", "changed"]
    assert lines[2].split()[0] == "numbers"
    assert "== ids ==" in out and "added: b" in out and "removed: a" in out
    assert "x: 1" in out


def test_cli_accepts_ids_prefixes_and_dates(project: Any, capsys: Any) -> None:
    old, new = project.resolve("current~1"), project.resolve("current")
    day = new.created_at[:10]
    code, out, _ = run_cli(capsys, "diff", old.id[:10], day, "--json", "-s", "ids")
    assert code == 0
    data = json.loads(out)
    assert (data["from_id"], data["to_id"]) == (old.id, new.id)
    assert [s["name"] for s in data["sections"]] == ["ids"]


def test_cli_markdown_and_max_items(project: Any, capsys: Any) -> None:
    code, out, _ = run_cli(
        capsys, "diff", "current", "current~1", "-f", "markdown", "--max-items", "0"
    )
    assert code == 0
    assert out.startswith("# Diff `")
    assert "| ids | 1 | 1 | 0 | yes |" in out
    assert "## numbers" in out


def test_cli_missing_snapshot_is_one_line_and_exit_3(project: Any, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "diff", "current~7", "current")
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("Error: current~7")
    code, _, err = run_cli(capsys, "diff", "abcdef12", "current")
    assert code == 3 and err.count("\n") == 1


def test_cli_unknown_section_is_a_usage_error(project: Any, capsys: Any) -> None:
    code, _, err = run_cli(capsys, "diff", "current~1", "current", "-s", "idz")
    assert code == 2
    assert err.count("\n") == 1 and "did you mean 'ids'" in err


def test_cli_corrupted_part_is_a_typed_one_line_error(
    project: Any, capsys: Any, tmp_path: Path
) -> None:
    old = project.resolve("current~1")
    (part,) = old.parts
    (path,) = (tmp_path / "store").rglob(f"{part.sha256}*")
    import zstandard  # the file store's own dependency

    # a well-formed part holding other rows: only the hash can tell
    path.write_bytes(zstandard.ZstdCompressor().compress(b'{"id":0,"name":"forged"}\n'))
    code, out, err = run_cli(capsys, "diff", "current~1", "current", "-s", "rows")
    assert code == 1
    assert out == "" and err.count("\n") == 1
    assert err.startswith("Error: ") and part.sha256[:12] in err


def test_cli_corrupted_manifest_is_a_typed_one_line_error(
    project: Any, capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from snapkit.cli.main import State
    from snapkit.project import Project

    old = project.resolve("current~1")
    (path,) = (tmp_path / "store").rglob(f"{old.id}.json")
    path.write_bytes(b"{not json")
    fresh = Project(project.config, project.manager)  # a new store handle, nothing cached
    monkeypatch.setattr(State, "project", lambda self: fresh)
    with pytest.raises(CorruptSnapshotError):
        fresh.store.get(old.id)
    code, out, err = run_cli(capsys, "diff", old.id, "current")
    assert code == 1
    assert out == "" and err.count("\n") == 1 and err.startswith("Error: ")
