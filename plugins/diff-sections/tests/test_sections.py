"""The summary, json and table sections, through the kernel's diff engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit.contracts import PartRef, Scope, SnapshotManifest
from snapkit.diff import MemoryParts, compute_diff, diff_bytes
from snapkit.manager import PluginManager, PluginSelection
from snapkit.testing import assert_plugin_installed
from snapkit_diff_sections import json_changes, plugin


@pytest.fixture
def manager() -> PluginManager:
    manager = PluginManager(PluginSelection(autoload=False))
    assert manager.register(plugin, name="diff-sections")
    return manager


def snap(
    payloads: dict[str, Any] | None = None, parts: tuple[PartRef, ...] = (), **fields: Any
) -> SnapshotManifest:
    values = {"schema_version": "1", "calculation_version": "1", "status": "success", **fields}
    return SnapshotManifest(Scope("t"), payloads=payloads or {}, parts=parts, **values)


def by_name(diff: Any) -> dict[str, Any]:
    return {s.name: s for s in diff.sections}


def test_the_plugin_is_installed_through_its_entry_point() -> None:
    assert_plugin_installed("diff-sections")


def test_summary_shows_facts_and_parts_side_by_side(manager: PluginManager) -> None:
    parts = MemoryParts()
    users_a = parts.add("users", [{"id": 1}], key_column="id")
    users_b = parts.add("users", [{"id": 1}, {"id": 2}], key_column="id")
    gone = parts.add("old", [{"x": 1}])
    a = snap({"cfg": {"x": 1}}, (gone, users_a), calculation_version="1")
    b = snap({"cfg": {"x": 1}, "new": 1}, (users_b,), calculation_version="2")
    summary = by_name(compute_diff(manager, parts, a, b, sections=["summary"]))["summary"]
    data = summary.data
    assert data["snapshot"]["id"] == {"from": a.id, "to": b.id}
    assert data["snapshot"]["calculation_version"] == {"from": "1", "to": "2"}
    assert data["parts"]["users"]["status"] == "changed"
    assert data["parts"]["users"]["records_delta"] == 1
    assert data["parts"]["old"]["status"] == "removed"
    assert data["parts"]["old"]["to"] is None and data["parts"]["old"]["records_delta"] == -1
    assert data["payloads"] == {"cfg": {"status": "unchanged"}, "new": {"status": "added"}}
    assert (summary.added, summary.removed, summary.changed) == (1, 1, 2)


def test_json_section_addresses_changes_by_path(manager: PluginManager) -> None:
    a = snap({"r": {"n": 1, "f": 0.1, "gone": 2, "ids": ["a", "b"], "l": [{"k": 1}], "a/b": "x"}})
    b = snap(
        {"r": {"n": 4, "f": 0.3, "new": True, "ids": ["c", "b"], "l": [{"k": 2}, 3], "a/b": "y"}}
    )
    section = by_name(compute_diff(manager, MemoryParts(), a, b))["json"]
    assert section.data == {
        "added": [{"path": "/r/l/1", "value": 3, "delta": 3}, {"path": "/r/new", "value": True}],
        "removed": [{"path": "/r/gone", "value": 2, "delta": -2}],
        "changed": [
            {"path": "/r/a~1b", "from": "x", "to": "y"},
            {"path": "/r/f", "from": 0.1, "to": 0.3, "delta": 0.2},
            {"path": "/r/l/0/k", "from": 1, "to": 2, "delta": 1},
            {"path": "/r/n", "from": 1, "to": 4, "delta": 3},
        ],
        "items": [{"path": "/r/ids", "added": ["c"], "removed": ["a"]}],
    }
    assert (section.added, section.removed, section.changed) == (3, 2, 4)


def test_json_section_truncates_to_max_items(manager: PluginManager) -> None:
    a = snap({"r": {f"k{i}": i for i in range(10)}})
    b = snap({"r": {}})
    section = by_name(compute_diff(manager, MemoryParts(), a, b, max_items=2))["json"]
    assert section.removed == 10 and section.truncated
    assert [e["path"] for e in section.data["removed"]] == ["/r/k0", "/r/k1"]


def test_json_section_does_not_apply_without_payloads(manager: PluginManager) -> None:
    diff = compute_diff(manager, MemoryParts(), snap(), snap())
    assert [s.name for s in diff.sections] == ["summary"]


def test_table_section_diffs_keyed_tables_and_skips_unchanged_ones(manager: PluginManager) -> None:
    parts = MemoryParts()
    same = parts.add("same", [{"id": 1}], key_column="id")
    a_rows = [{"id": i, "name": f"n{i}", "score": i} for i in range(6)]
    b_rows = [dict(r, score=r["score"] + (0.25 if r["id"] == 2 else 0)) for r in a_rows[1:]]
    b_rows.append({"id": 7, "name": "new", "score": 0})
    users_a = parts.add("users", a_rows, key_column="id")
    users_b = parts.add("users", b_rows, key_column="id")
    gone = parts.add("gone", [{"id": 1}, {"id": 2}], key_column="id")
    unkeyed = parts.add("log", [{"m": "x"}])
    parts.replace(same.sha256, b"unreadable")  # equal hashes must not be read
    a = snap(parts=(gone, same, unkeyed, users_a))
    b = snap(parts=(same, users_b))
    section = by_name(compute_diff(manager, parts, a, b))["table"]
    tables = section.data["tables"]
    assert sorted(tables) == ["gone", "same", "users"]
    assert tables["same"]["status"] == "unchanged"
    assert tables["gone"]["status"] == "removed" and tables["gone"]["counts"]["removed"] == 2
    users = tables["users"]
    assert users["status"] == "changed" and users["key_column"] == "id"
    assert users["added"] == [7] and users["removed"] == [0]
    assert users["changed"] == [
        {"key": 2, "fields": {"score": {"from": 2, "to": 2.25, "delta": 0.25}}}
    ]
    assert users["records"] == {"from": 6, "to": 6, "delta": 0}
    assert (section.added, section.removed, section.changed) == (1, 3, 1)


def test_table_section_uses_its_memory_setting(manager: PluginManager, tmp_path: Path) -> None:
    parts = MemoryParts()
    rows = [{"id": i, "v": "x" * 50} for i in range(3000)]
    a = snap(parts=(parts.add("t", rows, key_column="id"),))
    b = snap(
        parts=(
            parts.add(
                "t", [dict(r, v="y") if r["id"] % 500 == 0 else r for r in rows], key_column="id"
            ),
        )
    )
    small = compute_diff(
        manager,
        parts,
        a,
        b,
        sections=["table"],
        settings={"table": {"memory_mb": 1, "tmpdir": str(tmp_path)}},
    )
    large = compute_diff(manager, parts, a, b, sections=["table"])
    assert diff_bytes(small) == diff_bytes(large)
    assert small.sections[0].changed == 6


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.text("abc", max_size=3)
    | st.floats(-1e6, 1e6, allow_nan=False),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text("abc/~", max_size=3), children, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=80, deadline=None)
@given(json_values, json_values)
def test_json_changes_reverse_and_vanish_on_identity(old: Any, new: Any) -> None:
    assert json_changes(old, old) == {"added": [], "removed": [], "changed": [], "items": []}
    forward, backward = json_changes(old, new), json_changes(new, old)
    strip = lambda entries: [{k: v for k, v in e.items() if k != "delta"} for e in entries]  # noqa: E731
    assert strip(forward["added"]) == strip(backward["removed"])
    assert [e.get("delta") for e in forward["added"]] == [
        None if e.get("delta") is None else -e["delta"] for e in backward["removed"]
    ]
    for one, other in zip(forward["changed"], backward["changed"], strict=True):
        assert (one["path"], one["from"], one["to"]) == (other["path"], other["to"], other["from"])
        assert one.get("delta") == (None if "delta" not in other else -other["delta"])
    for one, other in zip(forward["items"], backward["items"], strict=True):
        assert (one["added"], one["removed"]) == (other["removed"], other["added"])


def test_snapkit_diff_end_to_end_with_files_and_a_file_store(tmp_path: Path) -> None:
    """Two refreshes of a JSONL table and a JSON payload, then ``snapkit diff``."""
    (tmp_path / "snapkit.toml").write_text(
        '[store]\nkind = "file"\npath = "data"\n[scope]\nnamespace = "e2e"\n'
        '[plugins]\nenabled = ["file-store", "files", "diff-sections"]\n'
        '[oracles.users]\nkind = "files"\npath = "users.jsonl"\nkey_column = "id"\n'
        '[oracles.cfg]\nkind = "files"\npath = "cfg.json"\n'
    )

    def write(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> None:
        (tmp_path / "users.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (tmp_path / "cfg.json").write_text(json.dumps(cfg))

    snapkit = Path(sys.executable).with_name("snapkit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPKIT_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(snapkit), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    write([{"id": i, "name": f"u{i}"} for i in range(5)], {"limit": 1.5, "tags": ["a"]})
    assert run("refresh").returncode == 0
    write(
        [{"id": i, "name": "x" if i == 2 else f"u{i}"} for i in range(1, 7)],
        {"limit": 1.25, "tags": ["b"]},
    )
    assert run("refresh").returncode == 0
    proc = run("diff", "current~1", "current", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    sections = {s["name"]: s for s in data["sections"]}
    assert list(sections) == ["summary", "json", "table"]
    users = sections["table"]["data"]["tables"]["users"]
    assert (users["added"], users["removed"]) == ([5, 6], [0])
    assert users["changed"] == [{"key": 2, "fields": {"name": {"from": "u2", "to": "x"}}}]
    assert sections["json"]["data"]["changed"] == [
        {"path": "/cfg/limit", "from": 1.5, "to": 1.25, "delta": -0.25}
    ]
    text = run("diff", "current~1", "current")
    assert text.returncode == 0
    assert text.stdout.splitlines()[1].split()[0] == "summary"
    assert "table users (changed): +2 -1 ~1 rows" in text.stdout
    missing = run("diff", "current~9", "current")
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
