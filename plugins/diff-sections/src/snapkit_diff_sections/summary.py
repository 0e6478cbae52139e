"""The ``summary`` section: two snapshots' facts side by side.

Its data::

    {"snapshot": {"id": {"from": ..., "to": ...}, "created_at": ..., "status": ...,
                  "schema_version": ..., "calculation_version": ..., "scope_id": ...,
                  "errors": {"from": 0, "to": 1, "delta": 1}},
     "parts": {"users": {"status": "changed", "from": {"records", "bytes", "sha256"},
                         "to": {...}, "records_delta": 3, "bytes_delta": 120}},
     "payloads": {"report": {"status": "unchanged"}},
     "oracles": {"users": {"from": {"status", "version"}, "to": {...}}}}

Counts: parts and payloads added or removed; parts and payloads whose content changed, plus
snapshot facts (status, versions, scope) that differ. Ids and capture times are shown but not
counted: they always differ between two snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.canonical import content_id
from snapkit.contracts import DiffSection, PartRef, SnapshotManifest
from snapkit.diff import DiffContext, delta

_COUNTED_FACTS = ("status", "schema_version", "calculation_version", "scope_id")


class SummarySection:
    """Builds the ``summary`` section; applies to every pair of snapshots."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        """Always ``True``: every pair has a summary."""
        return True

    def compute(self, context: DiffContext) -> DiffSection:
        """Compare the two manifests (no part is read)."""
        a, b = context.a, context.b
        added = removed = changed = 0
        facts: dict[str, Any] = {}
        for name, old, new in (
            ("id", a.id, b.id),
            ("created_at", a.created_at, b.created_at),
            ("status", a.status, b.status),
            ("schema_version", a.schema_version, b.schema_version),
            ("calculation_version", a.calculation_version, b.calculation_version),
            ("scope_id", a.scope.id, b.scope.id),
            ("namespace", a.scope.namespace, b.scope.namespace),
        ):
            facts[name] = {"from": old, "to": new}
            if name in _COUNTED_FACTS and old != new:
                changed += 1
        facts["errors"] = {
            "from": len(a.errors),
            "to": len(b.errors),
            "delta": delta(len(a.errors), len(b.errors)),
        }

        parts: dict[str, Any] = {}
        old_parts = {p.name: p for p in a.parts}
        new_parts = {p.name: p for p in b.parts}
        for name in sorted(old_parts.keys() | new_parts.keys()):
            before, after = old_parts.get(name), new_parts.get(name)
            status = _status(
                before is not None,
                after is not None,
                before is not None and after is not None and before.sha256 == after.sha256,
            )
            added += status == "added"
            removed += status == "removed"
            changed += status == "changed"
            parts[name] = {
                "status": status,
                "from": _part(before),
                "to": _part(after),
                "records_delta": delta(
                    before.records if before else None, after.records if after else None
                ),
                "bytes_delta": delta(
                    before.bytes if before else None, after.bytes if after else None
                ),
            }

        payloads: dict[str, Any] = {}
        for key in sorted(a.payloads.keys() | b.payloads.keys()):
            has_old, has_new = key in a.payloads, key in b.payloads
            same = (
                has_old and has_new and (content_id(a.payloads[key]) == content_id(b.payloads[key]))
            )
            status = _status(has_old, has_new, same)
            added += status == "added"
            removed += status == "removed"
            changed += status == "changed"
            payloads[key] = {"status": status}

        oracles: dict[str, Any] = {}
        old_oracles = {o.key: o for o in a.oracles}
        new_oracles = {o.key: o for o in b.oracles}
        for key in sorted(old_oracles.keys() | new_oracles.keys()):
            oracles[key] = {
                side: (
                    {"status": o.status, "version": o.version, "source": o.source}
                    if o is not None
                    else None
                )
                for side, o in (("from", old_oracles.get(key)), ("to", new_oracles.get(key)))
            }

        data = {"snapshot": facts, "parts": parts, "payloads": payloads, "oracles": oracles}
        return DiffSection("summary", added, removed, changed, False, data)


def _status(has_old: bool, has_new: bool, same: bool) -> str:
    if not has_old:
        return "added"
    if not has_new:
        return "removed"
    return "unchanged" if same else "changed"


def _part(part: PartRef | None) -> dict[str, Any] | None:
    if part is None:
        return None
    return {
        "records": part.records,
        "bytes": part.bytes,
        "sha256": part.sha256,
        "key_column": part.key_column,
    }
