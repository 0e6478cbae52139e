"""The ``table`` section: rows added, removed and changed in keyed tables.

A keyed table is a part whose oracle declared a key column (``PartRef.key_column``). For each
keyed table of either snapshot, by name::

    {"users": {"status": "changed", "key_column": "id",
               "records": {"from": 1000, "to": 1002, "delta": 2},
               "counts": {"added": 3, "removed": 1, "changed": 2},
               "added": [1001, 1002, 1003], "removed": [17],
               "changed": [{"key": 5, "fields": {"email": {"from": "a@x", "to": "b@x"},
                                                 "score": {"from": 1, "to": 3, "delta": 2}}}],
               "truncated": false}}

``status`` is ``unchanged`` (equal SHA-256: the part is not read), ``changed``, ``added`` or
``removed`` (a whole table; its rows count as added or removed but are not listed), or
``incomparable`` (the two sides declare different key columns). Changed tables go through
:func:`snapkit.tablediff.diff_tables`: only rows that differ are decoded, and memory stays
about twice ``memory_mb`` (default 128) however large the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.contracts import DiffSection, PartRef, SnapshotManifest
from snapkit.diff import DiffContext, delta
from snapkit.tablediff import DEFAULT_MEMORY_BUDGET, diff_tables

# Re-exported: the schema lives in a light module so the plugin module can register it cheaply.
from snapkit_diff_sections.settings import TABLE_SETTINGS_SCHEMA as TABLE_SETTINGS_SCHEMA


class TableSection:
    """Builds the ``table`` section; applies when either snapshot has a keyed part."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        settings = dict(settings or {})
        self.memory_budget = int(settings.get("memory_mb", 0)) * 1024 * 1024 or (
            DEFAULT_MEMORY_BUDGET
        )
        self.tmpdir: str | None = settings.get("tmpdir")

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        """``True`` when either snapshot has a part with a key column."""
        return any(p.key_column for p in (*a.parts, *b.parts))

    def compute(self, context: DiffContext) -> DiffSection:
        """Diff every keyed table of either snapshot."""
        old = {p.name: p for p in context.a.parts if p.key_column}
        new = {p.name: p for p in context.b.parts if p.key_column}
        tables: dict[str, Any] = {}
        added = removed = changed = 0
        truncated = False
        for name in sorted(old.keys() | new.keys()):
            before, after = old.get(name), new.get(name)
            entry = self._table(context, name, before, after)
            counts = entry["counts"]
            added += counts["added"]
            removed += counts["removed"]
            changed += counts["changed"]
            truncated = truncated or entry["truncated"]
            tables[name] = entry
        return DiffSection("table", added, removed, changed, truncated, {"tables": tables})

    def _table(
        self, context: DiffContext, name: str, before: PartRef | None, after: PartRef | None
    ) -> dict[str, Any]:
        records = {
            "from": before.records if before else None,
            "to": after.records if after else None,
            "delta": delta(before.records if before else None, after.records if after else None),
        }
        entry: dict[str, Any] = {
            "key_column": (after or before).key_column,  # type: ignore[union-attr]
            "records": records,
            "added": [],
            "removed": [],
            "changed": [],
            "counts": {"added": 0, "removed": 0, "changed": 0},
            "truncated": False,
        }
        if before is None or after is None:
            side = "added" if before is None else "removed"
            entry["status"] = side
            entry["counts"][side] = (after or before).records  # type: ignore[union-attr]
            return entry
        if before.key_column != after.key_column:
            entry["status"] = "incomparable"
            entry["key_column"] = {"from": before.key_column, "to": after.key_column}
            return entry
        if before.sha256 == after.sha256:
            entry["status"] = "unchanged"
            return entry
        result = diff_tables(
            lambda: context.line_batches(before),
            lambda: context.line_batches(after),
            str(after.key_column),
            size_hint=before.bytes,
            max_items=context.max_items,
            memory_budget=self.memory_budget,
            tmpdir=self.tmpdir,
            name=name,
        )
        entry.update(
            status="changed",
            added=list(result.added),
            removed=list(result.removed),
            changed=list(result.changed),
            counts={
                "added": result.added_count,
                "removed": result.removed_count,
                "changed": result.changed_count,
            },
            truncated=result.truncated,
        )
        return entry
