"""A diff as the diff page shows it: each section's counts and its changes as rows.

A pure function of a :class:`snapkit.contracts.Diff`, reading the same section data the
CLI's renderers read (:mod:`snapkit.cli.diff_cmd`): the ``table`` section as added, removed
and changed rows (each changed field with its before, after and numeric delta), the
``summary`` section as facts and parts that changed, the ``json`` section as paths, and any
other section as flattened ``path: value`` lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from snapkit.canonical import canonical_str


def value_text(value: Any) -> str:
    """A value as the page prints it (strings as they are, anything else as canonical JSON)."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else canonical_str(value)


def signed(value: Any) -> str:
    """A delta with its sign: ``+3``, ``-1.5``, ``±0``; empty when there is none."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if value == 0:
        return "±0"
    return f"+{value}" if value > 0 else str(value)


def direction(value: Any) -> str:
    """``up``, ``down`` or ``same`` for a numeric delta (the page colours and labels it)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value == 0:
        return "same"
    return "up" if value > 0 else "down"


def _change(change: dict[str, Any]) -> dict[str, str]:
    return {
        "before": value_text(change["from"]) if "from" in change else "(missing)",
        "after": value_text(change["to"]) if "to" in change else "(missing)",
        "delta": signed(change.get("delta")),
        "direction": direction(change.get("delta")),
    }


def diff_view(diff: Any) -> dict[str, Any]:
    """The page's model of a diff: ``sections``, each with its name, counts and changes."""
    sections = []
    for section in diff.sections:
        view: dict[str, Any] = {
            "name": section.name,
            "added": section.added,
            "removed": section.removed,
            "changed": section.changed,
            "truncated": section.truncated,
            "kind": "lines",
        }
        data = section.data
        if (
            section.name == "table"
            and isinstance(data, dict)
            and isinstance(data.get("tables"), dict)
        ):
            view.update(kind="table", **_tables(data["tables"]))
        elif section.name == "summary" and isinstance(data, dict):
            view.update(kind="summary", **_summary(data))
        elif section.name == "json" and isinstance(data, dict) and "changed" in data:
            view.update(kind="json", paths=list(_json(data)))
        else:
            view["lines"] = list(_lines(data, ""))
        sections.append(view)
    return {"sections": sections, "from_id": diff.from_id, "to_id": diff.to_id}


def _tables(tables: dict[str, Any]) -> dict[str, Any]:
    changed, unchanged = [], []
    for name, info in tables.items():
        if info.get("status") == "unchanged":
            unchanged.append(name)
            continue
        records = info.get("records") or {}
        rows = []
        for row in info.get("changed", []):
            for field_name, change in row.get("fields", {}).items():
                rows.append(
                    {"key": value_text(row.get("key")), "field": field_name, **_change(change)}
                )
        changed.append(
            {
                "name": name,
                "status": info.get("status"),
                "key_column": info.get("key_column"),
                "counts": info.get("counts", {}),
                "records": {
                    "from": records.get("from"),
                    "to": records.get("to"),
                    "delta": signed(records.get("delta")),
                    "direction": direction(records.get("delta")),
                },
                "added": [value_text(k) for k in info.get("added", [])],
                "removed": [value_text(k) for k in info.get("removed", [])],
                "rows": rows,
                "truncated": bool(info.get("truncated")),
            }
        )
    return {"tables": changed, "unchanged": unchanged}


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    facts = [
        {"name": fact, **_change(pair)}
        for fact, pair in data.get("snapshot", {}).items()
        if isinstance(pair, dict) and pair.get("from") != pair.get("to")
    ]
    parts = []
    for name, info in data.get("parts", {}).items():
        if info.get("status") == "unchanged":
            continue
        old, new = info.get("from") or {}, info.get("to") or {}
        parts.append(
            {
                "name": name,
                "status": info.get("status"),
                "before": old.get("records"),
                "after": new.get("records"),
                "delta": signed(info.get("records_delta")),
                "direction": direction(info.get("records_delta")),
                "bytes": signed(info.get("bytes_delta")),
            }
        )
    payloads = [
        {"name": key, "status": info.get("status")}
        for key, info in data.get("payloads", {}).items()
        if info.get("status") != "unchanged"
    ]
    return {"facts": facts, "parts": parts, "payloads": payloads}


def _json(data: dict[str, Any]) -> Iterator[dict[str, str]]:
    for entry in data.get("added", []):
        yield {
            "path": entry["path"],
            "kind": "added",
            "before": "(missing)",
            "after": value_text(entry.get("value")),
            "delta": signed(entry.get("delta")),
            "direction": direction(entry.get("delta")),
        }
    for entry in data.get("removed", []):
        yield {
            "path": entry["path"],
            "kind": "removed",
            "before": value_text(entry.get("value")),
            "after": "(missing)",
            "delta": signed(entry.get("delta")),
            "direction": direction(entry.get("delta")),
        }
    for entry in data.get("changed", []):
        yield {"path": entry["path"], "kind": "changed", **_change(entry)}
    for entry in data.get("items", []):
        for item in entry.get("added", []):
            yield {
                "path": f"{entry['path']}[]",
                "kind": "added",
                "before": "(missing)",
                "after": value_text(item),
                "delta": "",
                "direction": "same",
            }
        for item in entry.get("removed", []):
            yield {
                "path": f"{entry['path']}[]",
                "kind": "removed",
                "before": value_text(item),
                "after": "(missing)",
                "delta": "",
                "direction": "same",
            }


def _lines(data: Any, path: str) -> Iterator[str]:
    """Any section's data flattened into ``path: value`` lines (zero deltas and empty lists
    are changes of nothing and are left out), as the CLI prints unknown sections."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _lines(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        if data:
            yield f"{path}: {', '.join(value_text(item) for item in data)}"
    elif path.endswith("delta") and data == 0:
        return
    elif data is not None:
        yield f"{path}: {signed(data) if path.endswith('delta') else value_text(data)}"
