"""The diff page's model of a diff: every section kind turned into rows people read."""

from __future__ import annotations

from snapkit.contracts import Diff, DiffSection
from snapkit.serve.pages_diff import diff_view, direction, signed


def test_deltas_carry_their_sign_and_direction() -> None:
    assert [signed(v) for v in (3, -1.5, 0, None, True, "x")] == ["+3", "-1.5", "±0", "", "", ""]
    assert [direction(v) for v in (2, -2, 0, None)] == ["up", "down", "same", "same"]


def test_table_section_lists_added_removed_and_changed_rows_with_deltas() -> None:
    data = {
        "tables": {
            "scores": {
                "status": "changed",
                "key_column": "id",
                "records": {"from": 3, "to": 4, "delta": 1},
                "counts": {"added": 2, "removed": 1, "changed": 1},
                "added": ["r-4", "r-5"],
                "removed": ["r-1"],
                "changed": [
                    {
                        "key": "r-2",
                        "fields": {
                            "score": {"from": 71, "to": 64.5, "delta": -6.5},
                            "note": {"from": "a", "to": "b"},
                            "gone": {"from": 1},
                        },
                    }
                ],
                "truncated": True,
            },
            "users": {
                "status": "unchanged",
                "key_column": "sourcedId",
                "records": {},
                "counts": {},
                "added": [],
                "removed": [],
                "changed": [],
                "truncated": False,
            },
        }
    }
    view = diff_view(Diff("a" * 64, "b" * 64, (DiffSection("table", 2, 1, 1, True, data),)))
    (section,) = view["sections"]
    assert section["kind"] == "table" and section["unchanged"] == ["users"]
    (table,) = section["tables"]
    assert table["added"] == ["r-4", "r-5"] and table["removed"] == ["r-1"]
    assert table["records"] == {"from": 3, "to": 4, "delta": "+1", "direction": "up"}
    assert table["truncated"] is True
    assert table["rows"] == [
        {
            "key": "r-2",
            "field": "score",
            "before": "71",
            "after": "64.5",
            "delta": "-6.5",
            "direction": "down",
        },
        {
            "key": "r-2",
            "field": "note",
            "before": "a",
            "after": "b",
            "delta": "",
            "direction": "same",
        },
        {
            "key": "r-2",
            "field": "gone",
            "before": "1",
            "after": "(missing)",
            "delta": "",
            "direction": "same",
        },
    ]


def test_summary_json_and_unknown_sections_become_rows_and_lines() -> None:
    summary = {
        "snapshot": {
            "errors": {"from": 0, "to": 1, "delta": 1},
            "schema_version": {"from": "1", "to": "1"},
        },
        "parts": {
            "users": {
                "status": "changed",
                "from": {"records": 10},
                "to": {"records": 12},
                "records_delta": 2,
                "bytes_delta": -40,
            },
            "orgs": {"status": "unchanged"},
        },
        "payloads": {"settings": {"status": "changed"}},
    }
    json_data = {
        "added": [{"path": "vat", "value": 0.21, "delta": 0.21}],
        "removed": [],
        "changed": [{"path": "day", "from": 1, "to": 2, "delta": 1}],
        "items": [{"path": "tags", "added": ["new"], "removed": []}],
    }
    custom = {"rows": {"delta": 0, "total": 5}, "names": ["x", "y"], "empty": []}
    view = diff_view(
        Diff(
            "a" * 64,
            "b" * 64,
            (
                DiffSection("summary", 0, 0, 1, False, summary),
                DiffSection("json", 1, 0, 1, False, json_data),
                DiffSection("custom", 0, 0, 0, False, custom),
            ),
        )
    )
    kinds = {s["name"]: s for s in view["sections"]}
    facts = kinds["summary"]["facts"]
    assert facts == [
        {"name": "errors", "before": "0", "after": "1", "delta": "+1", "direction": "up"}
    ]
    assert kinds["summary"]["parts"] == [
        {
            "name": "users",
            "status": "changed",
            "before": 10,
            "after": 12,
            "delta": "+2",
            "direction": "up",
            "bytes": "-40",
        }
    ]
    assert kinds["summary"]["payloads"] == [{"name": "settings", "status": "changed"}]
    paths = [
        (p["kind"], p["path"], p["before"], p["after"], p["delta"]) for p in kinds["json"]["paths"]
    ]
    assert paths == [
        ("added", "vat", "(missing)", "0.21", "+0.21"),
        ("changed", "day", "1", "2", "+1"),
        ("added", "tags[]", "(missing)", "new", ""),
    ]
    assert kinds["custom"]["lines"] == ["rows.total: 5", "names: x, y"]
