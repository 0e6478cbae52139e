"""The daily layout view (docs/oneroster.md), written from a committed snapshot.

::

    {out}/{namespace}/{YYYY-MM-DD}/oneroster/
        status.json
        users.csv   users.jsonl          one pair per table of the snapshot
        students.csv students.jsonl      users with role student
        parents.csv  parents.jsonl       users with a guardian role
        classes.csv  classes.jsonl  ...

``status.json`` has exactly the daily layout's keys. The CSV files hold selected columns (per table,
``csv_columns`` in ``[oracles.oneroster]``; defaults in
:data:`~snapkit_oneroster.settings.DEFAULT_CSV_COLUMNS`), the JSONL files every field of every
record (the snapshot's canonical JSON lines). A failed snapshot gets a ``status.json`` alone,
``"status": "failed"`` with its errors. The folder is built beside its final place and renamed
into it, so readers see the old view or the new one, never half of one. It is derived data:
the snapshot stays the source of truth, and the view can be rewritten at any time.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import attrs

from snapkit_oneroster.schema import TABLES, Field
from snapkit_oneroster.settings import TABLE_KEYS, USER_VIEWS, csv_columns

SOURCE_TYPE = "oneroster"
"""The ``{source}`` folder and ``source_type`` of this package's views."""

STATUS_OF = {"success": "complete", "partial": "complete", "failed": "failed"}
"""Snapshot status -> the daily layout's status."""


@attrs.frozen
class LayoutReport:
    """What :func:`write_layout` wrote.

    :ivar folder: the ``{namespace}/{date}/{source}`` folder.
    :ivar status: the ``status`` written in status.json.
    :ivar files: file name -> ``{"rows", "size_bytes"}``.
    """

    folder: Path
    status: str
    files: Mapping[str, Mapping[str, int]]


class LayoutError(ValueError):
    """The layout cannot be written as asked (an unknown CSV column, a bad name)."""


def _columns(name: str, section: Mapping[str, Any]) -> list[Field]:
    table = TABLES[TABLE_KEYS["users" if name in USER_VIEWS else name]]
    fields = []
    for column in csv_columns(section, name):
        found = table.field(column)
        if found is None:
            raise LayoutError(
                f"csv_columns.{name}: {column!r} is not a field of {table.name}; fields: "
                + ", ".join(table.field_names)
            )
        fields.append(found)
    return fields


def _cell(f: Field, value: Any) -> str:
    from snapkit_oneroster.bulk_csv import format_cell

    return format_cell(f, value)


class _Pair:
    """One ``NAME.csv`` + ``NAME.jsonl`` being written."""

    def __init__(self, folder: Path, name: str, fields: list[Field]) -> None:
        self.name = name
        self.fields = fields
        self.rows = 0
        self.csv_file: IO[str] = (folder / f"{name}.csv").open("w", encoding="utf-8", newline="")
        self.jsonl: IO[bytes] = (folder / f"{name}.jsonl").open("wb")
        self.writer = csv.writer(self.csv_file)
        self.writer.writerow([f.name for f in fields])

    def add(self, line: bytes, record: Mapping[str, Any]) -> None:
        self.writer.writerow([_cell(f, record.get(f.name)) for f in self.fields])
        self.jsonl.write(line if line.endswith(b"\n") else line + b"\n")
        self.rows += 1

    def close(self) -> dict[str, dict[str, int]]:
        self.csv_file.close()
        self.jsonl.close()
        folder = Path(self.csv_file.name).parent
        return {
            f"{self.name}.{ext}": {
                "rows": self.rows,
                "size_bytes": (folder / f"{self.name}.{ext}").stat().st_size,
            }
            for ext in ("csv", "jsonl")
        }


def _lines(store: Any, sha256: str) -> Iterator[bytes]:
    yield from store.iter_part_lines(sha256)


def run_metric(manifest: Any, name: str) -> int:
    """A figure the oracles reported about the run (e.g. ``api_calls``), added up over them."""
    run = manifest.run
    if run is None:
        return 0
    return sum(int(t.metrics.get(name) or 0) for t in run.timings.values())


def status_document(manifest: Any, files: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """status.json for a snapshot, with exactly the daily layout's keys."""
    run = manifest.run
    api_calls = run_metric(manifest, "api_calls")
    return {
        "district_id": manifest.scope.namespace,
        "snapshot_date": manifest.created_at[:10],
        "source_type": SOURCE_TYPE,
        "status": STATUS_OF.get(manifest.status, "failed"),
        "started_at": _seconds(run.started_at if run else manifest.created_at),
        "completed_at": _seconds(run.finished_at if run else manifest.created_at),
        "fetched_by_session": f"snapkit-{manifest.id[:12]}",
        "files": {name: dict(info) for name, info in sorted(files.items())},
        "fetch_stats": {
            "total_api_calls": api_calls,
            "total_records": sum(p.records for p in manifest.parts),
            "duration_seconds": round((run.duration_ms if run else 0.0) / 1000),
            "errors": [f"{e.code}: {e.message}" for e in manifest.errors],
        },
    }


def _seconds(stamp: str) -> str:
    """``2025-10-15T07:00:00.123456Z`` -> ``2025-10-15T07:00:00Z`` (the seed's form)."""
    head = stamp[:19]
    return head + "Z" if len(head) == 19 else stamp


def write_layout(
    store: Any,
    manifest: Any,
    out: str | os.PathLike[str],
    section: Mapping[str, Any] | None = None,
) -> LayoutReport:
    """Write the daily layout view of one snapshot under ``out``.

    :param store: the snapshot store holding the snapshot's parts.
    :param manifest: the snapshot (:class:`snapkit.contracts.SnapshotManifest`).
    :param section: the ``[oracles.oneroster]`` settings (for ``csv_columns``).
    :raises LayoutError: when ``csv_columns`` names a field a table does not have.
    """
    section = section or {}
    namespace = manifest.scope.namespace
    date = manifest.created_at[:10]
    target = Path(out) / namespace / date / SOURCE_TYPE
    target.parent.mkdir(parents=True, exist_ok=True)
    parts = {p.name: p for p in manifest.parts if p.name in TABLE_KEYS}
    plan = {name: _columns(name, section) for name in parts}
    if "users" in parts:
        plan.update({view: _columns(view, section) for view in USER_VIEWS})
    staging = Path(tempfile.mkdtemp(prefix=f".{SOURCE_TYPE}-", dir=target.parent))
    try:
        files: dict[str, dict[str, int]] = {}
        if manifest.status != "failed":
            for name, part in sorted(parts.items()):
                files.update(_write_table(store, part.sha256, staging, name, plan))
        document = status_document(manifest, files)
        (staging / "status.json").write_text(
            json.dumps(document, indent=2) + "\n", encoding="utf-8"
        )
        _swap(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return LayoutReport(target, document["status"], files)


def _write_table(
    store: Any, sha256: str, folder: Path, name: str, plan: Mapping[str, list[Field]]
) -> dict[str, dict[str, int]]:
    pairs = [_Pair(folder, name, plan[name])]
    views: list[tuple[frozenset[str], _Pair]] = []
    if name == "users":
        views = [
            (frozenset(roles), _Pair(folder, view, plan[view]))
            for view, roles in USER_VIEWS.items()
        ]
        pairs += [pair for _, pair in views]
    loads = json.loads
    try:
        main = pairs[0]
        for line in _lines(store, sha256):
            record = loads(line)
            main.add(line, record)
            if views:
                role = record.get("role")
                for roles, pair in views:
                    if role in roles:
                        pair.add(line, record)
    finally:
        written: dict[str, dict[str, int]] = {}
        for pair in pairs:
            written.update(pair.close())
    return written


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``, replacing what was there in one rename."""
    os.chmod(staging, 0o755)
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{SOURCE_TYPE}-old-", dir=target.parent))
    os.replace(target, old / "view")
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(old / "view", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
