"""The ``json`` section: path-addressed changes of the snapshots' small payloads.

Both snapshots' payloads (``manifest.payloads``, by oracle key) are walked together. Each
change is addressed by a JSON Pointer (RFC 6901) such as ``/report/engine_health/ffmpeg/jobs``
and the walk visits keys in sorted order and list items by index, so the output order never
depends on the input's. Its data::

    {"added":   [{"path": ..., "value": ..., "delta": ...}],   # delta for numbers only
     "removed": [{"path": ..., "value": ..., "delta": ...}],
     "changed": [{"path": ..., "from": ..., "to": ..., "delta": ...}],
     "items":   [{"path": ..., "added": [...], "removed": [...]}]}

A number on one side only counts as zero on the other, so added and removed numbers carry a
delta too. Two lists that are both *id lists* (unique strings, or unique integers) are
compared as sets: their members added and removed go to ``items``, sorted. Counts: entries
added and removed (id list members included) and entries changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.canonical import canonical_str
from snapkit.contracts import DiffSection, SnapshotManifest
from snapkit.diff import DiffContext, delta, is_number, sort_key


class JsonSection:
    """Builds the ``json`` section; applies when either snapshot has small payloads."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        """``True`` when either snapshot holds a small payload."""
        return bool(a.payloads) or bool(b.payloads)

    def compute(self, context: DiffContext) -> DiffSection:
        """Walk both snapshots' payloads together and list what changed."""
        changes = json_changes(dict(context.a.payloads), dict(context.b.payloads))
        added = len(changes["added"]) + sum(len(i["added"]) for i in changes["items"])
        removed = len(changes["removed"]) + sum(len(i["removed"]) for i in changes["items"])
        changed = len(changes["changed"])
        truncated = False
        data: dict[str, Any] = {}
        for kind in ("added", "removed", "changed", "items"):
            entries, cut = context.limit(changes[kind])
            truncated = truncated or cut
            if kind == "items":
                limited = []
                for entry in entries:
                    new_ids, cut_new = context.limit(entry["added"])
                    old_ids, cut_old = context.limit(entry["removed"])
                    truncated = truncated or cut_new or cut_old
                    limited.append({"path": entry["path"], "added": new_ids, "removed": old_ids})
                entries = limited
            data[kind] = entries
        return DiffSection("json", added, removed, changed, truncated, data)


def json_changes(old: Any, new: Any) -> dict[str, list[dict[str, Any]]]:
    """Return the path-addressed changes from JSON value ``old`` to ``new``.

    :returns: ``{"added": [...], "removed": [...], "changed": [...], "items": [...]}``, each
        in walk order (sorted keys, list indices ascending). See the module docstring.
    """
    out: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "changed": [], "items": []}
    _walk(old, new, "", out)
    return out


def pointer(parent: str, token: str | int) -> str:
    """Return the JSON Pointer of ``token`` under ``parent``."""
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{parent}/{text}"


def _walk(old: Any, new: Any, path: str, out: dict[str, list[dict[str, Any]]]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(old.keys() | new.keys()):
            where = pointer(path, key)
            if key not in new:
                out["removed"].append(_one_side(where, old[key], removed=True))
            elif key not in old:
                out["added"].append(_one_side(where, new[key], removed=False))
            else:
                _walk(old[key], new[key], where, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        if _id_list(old) and _id_list(new) and (old or new):
            gone = set(old) - set(new)
            came = set(new) - set(old)
            if gone or came:
                out["items"].append(
                    {
                        "path": path or "/",
                        "added": sorted(came, key=sort_key),
                        "removed": sorted(gone, key=sort_key),
                    }
                )
            return
        for index in range(max(len(old), len(new))):
            where = pointer(path, index)
            if index >= len(new):
                out["removed"].append(_one_side(where, old[index], removed=True))
            elif index >= len(old):
                out["added"].append(_one_side(where, new[index], removed=False))
            else:
                _walk(old[index], new[index], where, out)
        return
    if _same(old, new):
        return
    entry: dict[str, Any] = {"path": path or "/", "from": old, "to": new}
    if is_number(old) and is_number(new):
        entry["delta"] = delta(old, new)
    out["changed"].append(entry)


def _one_side(path: str, value: Any, *, removed: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "value": value}
    if is_number(value):
        entry["delta"] = delta(value, None) if removed else delta(None, value)
    return entry


def _id_list(values: list[Any]) -> bool:
    """Whether ``values`` are unique strings, or unique integers (not booleans)."""
    if all(isinstance(v, str) for v in values):
        return len(set(values)) == len(values)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return len(set(values)) == len(values)
    return False


def _same(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    if isinstance(old, dict | list):
        return bool(canonical_str(old) == canonical_str(new))
    return bool(old == new)
